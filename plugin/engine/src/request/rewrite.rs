//! Structural changes to a forwarded request body: client system messages demoted and the
//! route's system prompt pinned (IG-5). The body is re-serialised from its JSON tree, so it
//! stays valid JSON whatever the edits; the adapter then sets `content-length` from the new
//! length. The tree comes from the one parse, with the value edits (clamps, stripping,
//! masking) already made ([`crate::json::edit::BodyEdits::to_value`]).

use crate::llm::ApiFormat;
use serde_json::{json, Map, Value};

/// What to change in a body.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Edits {
    /// Turn the client's system and developer messages into user messages.
    pub demote: bool,
    /// Insert this as the system prompt.
    pub pin: Option<String>,
}

impl Edits {
    pub fn is_empty(&self) -> bool {
        !self.demote && self.pin.is_none()
    }
}

/// `body` with `edits` applied, or why it could not be.
pub fn rewrite(
    format: Option<ApiFormat>,
    mut root: Value,
    edits: &Edits,
) -> Result<Vec<u8>, String> {
    let Value::Object(object) = &mut root else {
        return Err("the body is not a JSON object".into());
    };
    match format {
        Some(ApiFormat::OpenAiChat) => chat(object, edits),
        Some(ApiFormat::OpenAiResponses) => responses(object, edits),
        Some(ApiFormat::AnthropicMessages) => anthropic(object, edits),
        _ => {}
    }
    serde_json::to_vec(&root).map_err(|e| e.to_string())
}

fn is_system_role(message: &Value) -> bool {
    matches!(
        message.get("role").and_then(Value::as_str),
        Some("system" | "developer")
    )
}

fn demote_roles(items: &mut [Value]) {
    for item in items.iter_mut().filter(|item| is_system_role(item)) {
        item["role"] = json!("user");
    }
}

fn chat(object: &mut Map<String, Value>, edits: &Edits) {
    let Some(Value::Array(messages)) = object.get_mut("messages") else {
        return;
    };
    if edits.demote {
        demote_roles(messages);
    }
    if let Some(pinned) = &edits.pin {
        messages.insert(0, json!({"role": "system", "content": pinned}));
    }
}

fn responses(object: &mut Map<String, Value>, edits: &Edits) {
    if let Some(Value::String(input)) = object.get("input") {
        let input = input.clone();
        object.insert("input".into(), json!([{"role": "user", "content": input}]));
    }
    let client = object.remove("instructions").filter(|i| !i.is_null());
    let mut instructions = edits.pin.clone();
    match (client, edits.demote) {
        (Some(client), true) => {
            if let Some(Value::Array(items)) = object.get_mut("input") {
                items.insert(0, json!({"role": "user", "content": client}));
            }
        }
        (Some(Value::String(client)), false) => {
            instructions = Some(match instructions {
                Some(pinned) => format!("{pinned}\n\n{client}"),
                None => client,
            });
        }
        (Some(other), false) => {
            object.insert("instructions".into(), other);
        }
        (None, _) => {}
    }
    if let Some(Value::Array(items)) = object.get_mut("input") {
        if edits.demote {
            demote_roles(items);
        }
    }
    if let Some(instructions) = instructions {
        object.insert("instructions".into(), json!(instructions));
    }
}

fn anthropic(object: &mut Map<String, Value>, edits: &Edits) {
    let client = object.remove("system").filter(|s| !s.is_null());
    let pinned = edits.pin.as_ref().map(|p| json!(p));
    let system = match (client, edits.demote) {
        (Some(client), true) => {
            if let Some(Value::Array(messages)) = object.get_mut("messages") {
                messages.insert(0, json!({"role": "user", "content": client}));
            }
            pinned
        }
        (Some(client), false) => Some(match (pinned, client) {
            (None, client) => client,
            (Some(Value::String(pinned)), Value::String(client)) => {
                json!(format!("{pinned}\n\n{client}"))
            }
            (Some(pinned), Value::Array(mut blocks)) => {
                blocks.insert(0, json!({"type": "text", "text": pinned}));
                Value::Array(blocks)
            }
            (Some(pinned), _) => pinned,
        }),
        (None, _) => pinned,
    };
    if let Some(system) = system {
        object.insert("system".into(), system);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edited(format: ApiFormat, body: Value, edits: &Edits) -> Value {
        let bytes = rewrite(Some(format), body, edits).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn pin_and_demote() -> Edits {
        Edits {
            pin: Some("PINNED".into()),
            demote: true,
        }
    }

    #[test]
    fn chat_demotes_then_pins_first() {
        let body = json!({"model": "m", "messages": [
            {"role": "system", "content": "client rules"},
            {"role": "user", "content": "hi"}]});
        let out = edited(ApiFormat::OpenAiChat, body, &pin_and_demote());
        assert_eq!(
            out["messages"],
            json!([{"role": "system", "content": "PINNED"},
                   {"role": "user", "content": "client rules"},
                   {"role": "user", "content": "hi"}])
        );
    }

    #[test]
    fn responses_moves_instructions_into_input() {
        let body = json!({"model": "m", "instructions": "client rules", "input": "hi"});
        let out = edited(ApiFormat::OpenAiResponses, body, &pin_and_demote());
        assert_eq!(out["instructions"], "PINNED");
        assert_eq!(
            out["input"],
            json!([{"role": "user", "content": "client rules"}, {"role": "user", "content": "hi"}])
        );
    }

    #[test]
    fn anthropic_allows_client_system_after_the_pinned_one() {
        let body = json!({"model": "m", "system": "client rules", "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]});
        let edits = Edits {
            pin: Some("PINNED".into()),
            ..Edits::default()
        };
        let out = edited(ApiFormat::AnthropicMessages, body, &edits);
        assert_eq!(out["system"], "PINNED\n\nclient rules");
    }
}
