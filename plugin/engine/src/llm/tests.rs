use super::*;
use crate::json::document::Document;
use serde_json::{json, Value};

/// `body` read as `format`, through the document parser like a request body.
fn read(format: ApiFormat, body: &Value) -> Result<LlmRequest, ShapeError> {
    let text = body.to_string();
    let document = Document::parse(&text).unwrap();
    format.parse(document.root())
}

fn parse(format: ApiFormat, body: Value) -> LlmRequest {
    read(format, &body).unwrap_or_else(|e| panic!("{e:?}"))
}

/// (role, origin, text, pointer) of each segment.
fn seen(request: &LlmRequest) -> Vec<(Role, Origin, &str, &str)> {
    request
        .segments
        .iter()
        .map(|s| (s.role, s.origin, s.text.as_str(), s.pointer.as_str()))
        .collect()
}

#[test]
fn openai_chat_strings_parts_tool_calls_results_and_tools() {
    let request = parse(
        ApiFormat::OpenAiChat,
        json!({
            "model": "gpt-4o", "stream": true, "n": 2, "max_completion_tokens": 300,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Look:"}, {"type": "image_url", "image_url": {"url": "x"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{\"q\":\"x\"}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "result text"},
                {"role": "developer", "content": "dev note"}
            ],
            "tools": [{"type": "function", "function": {"name": "search", "description": "Search the web"}}]
        }),
    );
    assert_eq!(
        seen(&request),
        vec![
            (
                Role::System,
                Origin::Typed,
                "Be brief.",
                "/messages/0/content"
            ),
            (
                Role::User,
                Origin::Typed,
                "Look:",
                "/messages/1/content/0/text"
            ),
            (
                Role::Assistant,
                Origin::ToolCall,
                "{\"q\":\"x\"}",
                "/messages/2/tool_calls/0/function/arguments"
            ),
            (
                Role::Tool,
                Origin::ToolResult,
                "result text",
                "/messages/3/content"
            ),
            (
                Role::Developer,
                Origin::Typed,
                "dev note",
                "/messages/4/content"
            ),
            (
                Role::Developer,
                Origin::ToolDefinition,
                "Search the web",
                "/tools/0/function/description"
            ),
        ]
    );
    assert_eq!(
        request.model.as_ref().map(|m| m.value.as_str()),
        Some("gpt-4o")
    );
    assert!(request.stream);
    assert_eq!(request.n.as_ref().map(|n| n.value), Some(2));
    assert_eq!(
        request.max_tokens,
        Some(Param {
            value: 300,
            pointer: "/max_completion_tokens".into()
        })
    );
    assert_eq!(request.message_count, 5);
    assert_eq!(request.tool_names[0].value, "search");
    assert_eq!(request.tool_names[0].pointer, "/tools/0/function/name");
}

#[test]
fn openai_responses_string_and_items() {
    let request = parse(
        ApiFormat::OpenAiResponses,
        json!({"model": "m", "instructions": "Sys", "input": "Hi", "max_output_tokens": 50}),
    );
    assert_eq!(
        seen(&request),
        vec![
            (Role::System, Origin::Typed, "Sys", "/instructions"),
            (Role::User, Origin::Typed, "Hi", "/input")
        ]
    );
    assert_eq!(request.max_tokens.map(|m| m.value), Some(50));

    let request = parse(
        ApiFormat::OpenAiResponses,
        json!({"input": [
            {"role": "user", "content": [{"type": "input_text", "text": "Q"}]},
            {"type": "function_call", "name": "f", "arguments": "{}", "call_id": "1"},
            {"type": "function_call_output", "call_id": "1", "output": "tool said"},
            {"type": "reasoning", "summary": []}
        ], "tools": [{"type": "function", "name": "f", "description": "does f"}]}),
    );
    assert_eq!(
        seen(&request),
        vec![
            (Role::User, Origin::Typed, "Q", "/input/0/content/0/text"),
            (
                Role::Assistant,
                Origin::ToolCall,
                "{}",
                "/input/1/arguments"
            ),
            (
                Role::Tool,
                Origin::ToolResult,
                "tool said",
                "/input/2/output"
            ),
            (
                Role::Developer,
                Origin::ToolDefinition,
                "does f",
                "/tools/0/description"
            ),
        ]
    );
    assert_eq!(request.tool_names[0].pointer, "/tools/0/name");
}

#[test]
fn anthropic_system_blocks_tool_use_and_results() {
    let request = parse(
        ApiFormat::AnthropicMessages,
        json!({"model": "claude", "max_tokens": 100, "system": [{"type": "text", "text": "Sys"}],
        "messages": [
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": [{"type": "text", "text": "Using a tool"}, {"type": "tool_use", "id": "t", "name": "calc", "input": {"x": 1}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "2"}]}]}
        ]}),
    );
    assert_eq!(
        seen(&request),
        vec![
            (Role::System, Origin::Typed, "Sys", "/system/0/text"),
            (Role::User, Origin::Typed, "Hello", "/messages/0/content"),
            (
                Role::Assistant,
                Origin::Typed,
                "Using a tool",
                "/messages/1/content/0/text"
            ),
            (
                Role::Assistant,
                Origin::ToolCall,
                "{\"x\":1}",
                "/messages/1/content/1/input"
            ),
            (
                Role::Tool,
                Origin::ToolResult,
                "2",
                "/messages/2/content/0/content/0/text"
            ),
        ]
    );
    assert_eq!(request.max_tokens.map(|m| m.value), Some(100));
}

#[test]
fn legacy_completions_prompt_string_or_array() {
    let one = parse(
        ApiFormat::Completions,
        json!({"prompt": "Once upon", "max_tokens": 5}),
    );
    assert_eq!(
        seen(&one),
        vec![(Role::User, Origin::Typed, "Once upon", "/prompt")]
    );
    let many = parse(ApiFormat::Completions, json!({"prompt": ["a", "b"]}));
    assert_eq!(many.segments.len(), 2);
    assert_eq!(many.segments[1].pointer, "/prompt/1");
}

#[test]
fn selectors_reach_strings_by_pointer_with_wildcards() {
    let format = SelectorFormat {
        selectors: vec![
            ("/query".into(), Role::User),
            ("/documents/*/text".into(), Role::Tool),
            ("/meta/a~1b".into(), Role::User),
        ],
    };
    let text = json!({"query": "q", "documents": [{"text": "d0"}, {"text": 5}, {"text": "d2"}], "meta": {"a/b": "slash"}}).to_string();
    let request = format.parse(Document::parse(&text).unwrap().root());
    assert_eq!(
        seen(&request),
        vec![
            (Role::User, Origin::Typed, "q", "/query"),
            (Role::Tool, Origin::ToolResult, "d0", "/documents/0/text"),
            (Role::Tool, Origin::ToolResult, "d2", "/documents/2/text"),
            (Role::User, Origin::Typed, "slash", "/meta/a~1b"),
        ]
    );
}

#[test]
fn malformed_bodies_name_the_offending_pointer() {
    let cases = [
        (ApiFormat::OpenAiChat, json!([]), ""),
        (ApiFormat::OpenAiChat, json!({"model": "m"}), "/messages"),
        (ApiFormat::OpenAiChat, json!({"messages": {}}), "/messages"),
        (
            ApiFormat::OpenAiChat,
            json!({"messages": [{"content": "x"}]}),
            "/messages/0/role",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"messages": [{"role": "wizard", "content": "x"}]}),
            "/messages/0/role",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"messages": [{"role": "user", "content": 5}]}),
            "/messages/0/content",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"messages": [{"role": "user", "content": [7]}]}),
            "/messages/0/content/0",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"model": 3, "messages": []}),
            "/model",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"stream": "yes", "messages": []}),
            "/stream",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"n": -1, "messages": []}),
            "/n",
        ),
        (
            ApiFormat::OpenAiChat,
            json!({"max_tokens": 1.5, "messages": []}),
            "/max_tokens",
        ),
        (ApiFormat::OpenAiResponses, json!({"model": "m"}), "/input"),
        (ApiFormat::OpenAiResponses, json!({"input": 3}), "/input"),
        (
            ApiFormat::AnthropicMessages,
            json!({"messages": [{"role": "system", "content": "x"}]}),
            "/messages/0/role",
        ),
        (
            ApiFormat::AnthropicMessages,
            json!({"messages": [{"role": "user"}]}),
            "/messages/0/content",
        ),
        (ApiFormat::Completions, json!({"prompt": [1]}), "/prompt/0"),
    ];
    for (format, body, pointer) in cases {
        match read(format, &body) {
            Ok(request) => panic!("{format:?} accepted {body}: {request:?}"),
            Err(error) => assert_eq!(
                error.pointer, pointer,
                "{format:?} {body}: {}",
                error.reason
            ),
        }
    }
}

#[test]
fn formats_by_path() {
    assert_eq!(
        ApiFormat::for_path("/v1/chat/completions"),
        Some(ApiFormat::OpenAiChat)
    );
    assert_eq!(
        ApiFormat::for_path("/openai/v1/chat/completions?x=1"),
        Some(ApiFormat::OpenAiChat)
    );
    assert_eq!(
        ApiFormat::for_path("/v1/responses"),
        Some(ApiFormat::OpenAiResponses)
    );
    assert_eq!(
        ApiFormat::for_path("/v1/messages"),
        Some(ApiFormat::AnthropicMessages)
    );
    assert_eq!(
        ApiFormat::for_path("/v1/completions"),
        Some(ApiFormat::Completions)
    );
    assert_eq!(ApiFormat::for_path("/v1/embeddings"), None);
}

/// Bodies the chat reader once took on a fast path, read by the one reader (#18 removed
/// the fast path: the body is parsed once, into the document every reader shares).
#[test]
fn chat_bodies_of_every_shape_are_read() {
    let bodies = [
        json!({"model": "gpt-4o", "stream": true, "n": 2, "max_completion_tokens": 300, "max_tokens": 5,
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Look:"}, "bare part", {"type": "image_url", "image_url": {"url": "x"}}, {"type": "refusal", "refusal": "no"}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{\"q\":\"x\"}"}}, {"id": "c2"}]},
                {"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}},
                {"role": "tool", "tool_call_id": "c1", "content": "result \"escaped\" text\n"},
                {"role": "function", "name": "f", "content": "legacy"},
                {"role": "developer", "content": "dev note", "name": "x"}
            ],
            "tools": [{"type": "function", "function": {"name": "search", "description": "Search the web"}}, {"name": "flat", "description": "d"}, {"function": null, "name": "nulled"}]}),
        json!({"model": null, "stream": null, "n": null, "messages": []}),
        json!({"messages": [{"role": "user", "content": "été 😀 \u{200b}"}], "extra": {"deep": [1, 2, {"x": null}]}}),
        json!({"messages": [{"role": "user", "content": "dup"}], "model": "m", "temperature": 0.2, "stop": ["\n"]}),
    ];
    let first = parse(ApiFormat::OpenAiChat, bodies[0].clone());
    assert_eq!(first.segments.len(), 11, "{first:?}");
    assert_eq!(first.max_tokens.as_ref().map(|m| m.value), Some(300));
    assert_eq!(first.tool_names.len(), 3);
    for body in bodies {
        parse(ApiFormat::OpenAiChat, body);
    }
    // Bodies the reader refuses, naming the problem.
    for body in [
        json!({"messages": [{"role": "wizard", "content": "x"}]}),
        json!({"messages": [{"role": "user", "content": 5}]}),
        json!({"model": 3, "messages": []}),
        json!({"n": -1, "messages": []}),
        json!({"messages": {}}),
        json!([]),
    ] {
        assert!(read(ApiFormat::OpenAiChat, &body).is_err(), "{body}");
    }
}
