//! Response understanding: where the model's own text sits in a response body or in one
//! event of a stream, for OpenAI chat completions (and legacy completions), the OpenAI
//! Responses API and Anthropic messages. The output side (masking, restoring, validating)
//! reads and rewrites exactly these strings and nothing else.

use serde_json::Value;

/// Patterns of JSON pointers to output text; `*` is one array index, a trailing `**` any
/// string below. One list serves every format: the formats' shapes do not overlap.
const BODY_TEXT: [&str; 10] = [
    "/choices/*/message/content",
    "/choices/*/message/content/*/text",
    "/choices/*/message/refusal",
    "/choices/*/message/tool_calls/*/function/arguments",
    "/choices/*/message/function_call/arguments",
    "/choices/*/text",
    "/output/*/content/*/text",
    "/output/*/arguments",
    "/content/*/text",
    "/content/*/input/**",
];

/// The same for one event of a stream: deltas and the events that repeat the full text.
const EVENT_TEXT: [&str; 16] = [
    "/choices/*/delta/content",
    "/choices/*/delta/refusal",
    "/choices/*/delta/tool_calls/*/function/arguments",
    "/choices/*/text",
    "/delta/text",
    "/delta/partial_json",
    "/content_block/text",
    "/content_block/input/**",
    "/delta",
    "/text",
    "/arguments",
    "/part/text",
    "/item/content/*/text",
    "/item/arguments",
    "/response/output/*/content/*/text",
    "/response/output/*/arguments",
];

/// True when `pointer` names model output text in a complete response body.
pub fn is_body_text(pointer: &str) -> bool {
    matches_any(&BODY_TEXT, pointer)
}

/// True when `pointer` names model output text in one stream event's data.
pub fn is_event_text(pointer: &str) -> bool {
    matches_any(&EVENT_TEXT, pointer)
}

/// True when `pointer` names a string of a body or event that is neither listed output
/// text nor protocol bookkeeping (ids, types, roles, reasons): a field a provider added, or
/// one a hostile upstream made up. It is inspected whole, so no string reaches the client
/// unread (PSF OV-1).
pub fn is_unlisted_text(pointer: &str) -> bool {
    let last = pointer.rsplit('/').next().unwrap_or_default();
    !STRUCTURAL.contains(&last) && !is_body_text(pointer) && !is_event_text(pointer)
}

/// Last tokens of strings that are the protocol's own, in every format.
const STRUCTURAL: [&str; 18] = [
    "id",
    "object",
    "type",
    "model",
    "role",
    "finish_reason",
    "stop_reason",
    "system_fingerprint",
    "status",
    "item_id",
    "call_id",
    "tool_use_id",
    "service_tier",
    "obfuscation",
    "event",
    "created_at",
    "previous_response_id",
    "reason",
];

/// Most strings of a body or event (ids, names, finish reasons) differ from every pattern
/// in their last token, which is compared first: this runs for every string of every event.
fn matches_any(patterns: &[&str], pointer: &str) -> bool {
    let last = pointer.rsplit('/').next().unwrap_or_default();
    let named = LAST_TOKENS.contains(&last);
    patterns.iter().any(|pattern| {
        let ends_alike = pattern.ends_with('*')
            || named
                && pattern
                    .strip_suffix(last)
                    .is_some_and(|head| head.ends_with('/'));
        ends_alike && pointer_matches(pattern, pointer)
    })
}

/// Every last token of a pattern that is a name: a pointer ending in anything else is not
/// output text (unless a pattern ends in a wildcard).
const LAST_TOKENS: [&str; 6] = [
    "content",
    "refusal",
    "arguments",
    "text",
    "partial_json",
    "delta",
];

fn pointer_matches(pattern: &str, pointer: &str) -> bool {
    let mut tokens = pointer.split('/');
    for want in pattern.split('/') {
        if want == "**" {
            return tokens.next().is_some();
        }
        match tokens.next() {
            Some(token) if want == "*" => {
                if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) {
                    return false;
                }
            }
            Some(token) if token == want => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// What one stream event means for the text channels it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventRole {
    /// Carries text deltas; the text continues in later events.
    Delta,
    /// Ends the channels whose keys start with one of these (their held text goes out first).
    Ends(Vec<String>),
    /// Ends every channel: the message or the stream is over.
    EndsAll,
    /// Anything else (pings, starts, usage): passed on as it is.
    Other,
}

/// The channel a delta belongs to: text that streams as one string across events. Choices,
/// content blocks and output items each stream their own text, so each is a channel.
pub fn channel_key(data: &Value, pointer: &str) -> String {
    let num = |key: &str| data.get(key).and_then(Value::as_u64);
    if let Some(rest) = pointer.strip_prefix("/choices/") {
        let choice = rest.split('/').next().unwrap_or_default();
        if pointer.contains("/tool_calls/") {
            let tool = tool_call_index(data, pointer).unwrap_or(0);
            return format!("choice:{choice}:tool:{tool}:");
        }
        let field = rest.rsplit('/').next().unwrap_or_default();
        return format!("choice:{choice}:{field}:");
    }
    match (num("index"), num("output_index"), num("content_index")) {
        (Some(index), _, _) => format!("block:{index}:"),
        (None, Some(item), content) => format!("item:{item}:{}:", content.unwrap_or(0)),
        _ => format!("at:{pointer}:"),
    }
}

fn tool_call_index(data: &Value, pointer: &str) -> Option<u64> {
    let call = pointer.strip_suffix("/function/arguments")?;
    data.pointer(call)?.get("index")?.as_u64()
}

/// Whether the string at `pointer` of a stream event is a delta of the assistant's answer
/// text (not of a tool call's arguments): OpenAI chat `delta.content`, Anthropic
/// `text_delta`, Responses `response.output_text.delta`.
pub fn is_answer_delta(data: &Value, pointer: &str) -> bool {
    let kind = data.get("type").and_then(Value::as_str);
    match pointer {
        "/delta/text" => true,
        "/delta" => kind == Some("response.output_text.delta"),
        _ => pointer.starts_with("/choices/") && pointer.ends_with("/delta/content"),
    }
}

/// How an event relates to the channels: see [`EventRole`].
pub fn event_role(data: &Value) -> EventRole {
    if let Some(choices) = data.get("choices").and_then(Value::as_array) {
        let ended: Vec<String> = choices
            .iter()
            .enumerate()
            .filter(|(_, c)| c.get("finish_reason").is_some_and(|f| !f.is_null()))
            .map(|(i, c)| {
                let index = c.get("index").and_then(Value::as_u64).unwrap_or(i as u64);
                format!("choice:{index}:")
            })
            .collect();
        return if ended.is_empty() {
            EventRole::Delta
        } else {
            EventRole::Ends(ended)
        };
    }
    let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
    match kind {
        "content_block_delta"
        | "response.output_text.delta"
        | "response.refusal.delta"
        | "response.function_call_arguments.delta" => EventRole::Delta,
        "content_block_stop" => match data.get("index").and_then(Value::as_u64) {
            Some(index) => EventRole::Ends(vec![format!("block:{index}:")]),
            None => EventRole::EndsAll,
        },
        "message_delta"
        | "message_stop"
        | "error"
        | "response.completed"
        | "response.failed"
        | "response.incomplete" => EventRole::EndsAll,
        kind if kind.starts_with("response.") && kind.ends_with(".done") => {
            match data.get("output_index").and_then(Value::as_u64) {
                Some(item) => EventRole::Ends(vec![format!("item:{item}:")]),
                None => EventRole::EndsAll,
            }
        }
        _ => EventRole::Other,
    }
}

#[cfg(test)]
mod last_tokens {
    #[test]
    fn every_named_last_token_is_listed() {
        for pattern in super::BODY_TEXT.iter().chain(&super::EVENT_TEXT) {
            let last = pattern.rsplit('/').next().unwrap();
            assert!(
                last.starts_with('*') || super::LAST_TOKENS.contains(&last),
                "{pattern}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_text_pointers_cover_each_format() {
        for pointer in [
            "/choices/0/message/content",
            "/choices/1/message/tool_calls/0/function/arguments",
            "/output/2/content/0/text",
            "/content/0/text",
            "/content/1/input/query",
            "/content/1/input/filters/0",
        ] {
            assert!(is_body_text(pointer), "{pointer}");
        }
        for pointer in [
            "/id",
            "/model",
            "/choices/0/message/role",
            "/content/0/type",
            "/content/x/text",
        ] {
            assert!(!is_body_text(pointer), "{pointer}");
        }
    }

    #[test]
    fn channels_tell_choices_blocks_and_items_apart() {
        let chunk = json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 2, "function": {"arguments": "{"}}]}}]});
        assert_eq!(
            channel_key(&chunk, "/choices/0/delta/tool_calls/0/function/arguments"),
            "choice:0:tool:2:"
        );
        let block = json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "x"}});
        assert_eq!(channel_key(&block, "/delta/text"), "block:1:");
        let item = json!({"type": "response.output_text.delta", "output_index": 0, "content_index": 1, "delta": "x"});
        assert_eq!(channel_key(&item, "/delta"), "item:0:1:");
    }

    #[test]
    fn ending_events_are_recognised() {
        let finish = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
        assert!(matches!(event_role(&finish), EventRole::Ends(_)));
        assert_eq!(
            event_role(&json!({"type": "content_block_stop", "index": 3})),
            EventRole::Ends(vec!["block:3:".into()])
        );
        assert_eq!(event_role(&json!({"type": "ping"})), EventRole::Other);
        assert_eq!(
            event_role(&json!({"type": "message_stop"})),
            EventRole::EndsAll
        );
    }
}
