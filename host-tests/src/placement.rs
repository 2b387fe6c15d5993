//! Where `psf-guard eval` puts a row's text in a request or an answer, per API: a `user`
//! or `system` row is that turn; a `tool` or `retrieved` row is what the API hands the
//! model as a tool result or document (`role: "tool"` in chat completions,
//! `function_call_output` in Responses, `tool_result` or a `document` block in Messages),
//! after a user turn asking for it and the assistant's tool call.

use serde::Deserialize;
use serde_json::{json, Value};

/// The turn a row's text takes.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[serde(rename_all = "lowercase")]
pub enum RowRole {
    #[default]
    User,
    System,
    Tool,
    Retrieved,
}

/// The API a row is played through.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    #[default]
    Chat,
    Responses,
    Messages,
}

impl Api {
    pub fn parse(name: &str) -> Option<Api> {
        match name {
            "chat" => Some(Api::Chat),
            "responses" => Some(Api::Responses),
            "messages" => Some(Api::Messages),
            _ => None,
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            Api::Chat => "/v1/chat/completions",
            Api::Responses => "/v1/responses",
            Api::Messages => "/v1/messages",
        }
    }

    fn model(self) -> &'static str {
        match self {
            Api::Messages => "claude-sonnet-4-5",
            _ => "gpt-4o-mini",
        }
    }
}

const ASK_FOR_TOOL: &str = "Please summarise the document the tool returns.";
const TOOL: &str = "fetch_document";
const CALL_ID: &str = "call_eval";

/// The request body with `text` in the turn `role` names.
pub fn request_body(api: Api, role: RowRole, text: &str) -> Value {
    let model = api.model();
    match (api, role) {
        (Api::Chat, RowRole::User | RowRole::System) => {
            let role = if role == RowRole::User {
                "user"
            } else {
                "system"
            };
            let mut messages = vec![json!({"role": role, "content": text})];
            if role == "system" {
                messages.push(json!({"role": "user", "content": "Hello."}));
            }
            json!({"model": model, "messages": messages})
        }
        (Api::Chat, RowRole::Tool | RowRole::Retrieved) => json!({
            "model": model,
            "messages": [
                {"role": "user", "content": ASK_FOR_TOOL},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": CALL_ID, "type": "function", "function": {"name": TOOL, "arguments": "{}"}}
                ]},
                {"role": "tool", "tool_call_id": CALL_ID, "content": text}
            ]
        }),
        (Api::Responses, RowRole::User) => json!({"model": model, "input": text}),
        (Api::Responses, RowRole::System) => {
            json!({"model": model, "instructions": text, "input": "Hello."})
        }
        (Api::Responses, RowRole::Tool | RowRole::Retrieved) => json!({
            "model": model,
            "input": [
                {"role": "user", "content": ASK_FOR_TOOL},
                {"type": "function_call", "call_id": CALL_ID, "name": TOOL, "arguments": "{}"},
                {"type": "function_call_output", "call_id": CALL_ID, "output": text}
            ]
        }),
        (Api::Messages, RowRole::User) => json!({
            "model": model, "max_tokens": 256,
            "messages": [{"role": "user", "content": text}]
        }),
        (Api::Messages, RowRole::System) => json!({
            "model": model, "max_tokens": 256, "system": text,
            "messages": [{"role": "user", "content": "Hello."}]
        }),
        (Api::Messages, RowRole::Tool) => json!({
            "model": model, "max_tokens": 256,
            "messages": [
                {"role": "user", "content": ASK_FOR_TOOL},
                {"role": "assistant", "content": [{"type": "tool_use", "id": CALL_ID, "name": TOOL, "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": CALL_ID, "content": text}]}
            ]
        }),
        (Api::Messages, RowRole::Retrieved) => json!({
            "model": model, "max_tokens": 256,
            "messages": [{"role": "user", "content": [
                {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": text}},
                {"type": "text", "text": "Please summarise this document."}
            ]}]
        }),
    }
}

/// A complete answer of `api` whose text is `text`.
pub fn answer_body(api: Api, text: &str) -> Value {
    let model = api.model();
    match api {
        Api::Chat => json!({
            "id": "chatcmpl-eval", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        }),
        Api::Responses => json!({
            "id": "resp_eval", "object": "response", "created_at": 1_700_000_000, "model": model,
            "status": "completed",
            "output": [{"type": "message", "id": "msg_eval", "role": "assistant", "status": "completed",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
        }),
        Api::Messages => json!({
            "id": "msg_eval", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": null,
            "usage": {"input_tokens": 1, "output_tokens": 1}
        }),
    }
}
