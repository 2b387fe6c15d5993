//! Anthropic messages: top-level `system` (string or text blocks), content blocks,
//! `tool_use` and `tool_result`.

use super::openai_chat::read_tools;
use super::{max_tokens_param, read_role, required_array, LlmRequest, Origin, Role, ShapeError};
use serde_json::{Map, Value};

pub(super) fn read(root: &Map<String, Value>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    request.max_tokens = max_tokens_param(root, &["max_tokens"])?;
    match root.get("system") {
        None | Some(Value::Null) => {}
        Some(system) => read_blocks(system, "/system", Role::System, None, request)?,
    }
    let messages = required_array(root, "messages")?;
    request.message_count = messages.len();
    for (index, message) in messages.iter().enumerate() {
        let at = format!("/messages/{index}");
        let Value::Object(object) = message else {
            return Err(ShapeError::new(at, "must be an object"));
        };
        let role = read_role(
            object,
            &at,
            &[("user", Role::User), ("assistant", Role::Assistant)],
        )?;
        match message.get("content") {
            None => {
                return Err(ShapeError::new(
                    format!("{at}/content"),
                    "required field is missing",
                ))
            }
            Some(content) => read_blocks(
                content,
                &format!("{at}/content"),
                role,
                Some(index),
                request,
            )?,
        }
    }
    read_tools(root, request)
}

/// A string, or an array of blocks: `text`, `tool_use` (its `input` as JSON text) and
/// `tool_result` (whose content is a string or text blocks).
fn read_blocks(
    content: &Value,
    at: &str,
    role: Role,
    index: Option<usize>,
    request: &mut LlmRequest,
) -> Result<(), ShapeError> {
    match content {
        Value::String(text) => {
            request.push(role, Origin::Typed, text, at.to_string(), index);
            Ok(())
        }
        Value::Array(blocks) => {
            for (i, block) in blocks.iter().enumerate() {
                let block_at = format!("{at}/{i}");
                let Value::Object(block) = block else {
                    return Err(ShapeError::new(
                        block_at,
                        "a content block must be an object",
                    ));
                };
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        if let Some(input) = block.get("input") {
                            let text = input.to_string();
                            request.push(
                                Role::Assistant,
                                Origin::ToolCall,
                                &text,
                                format!("{block_at}/input"),
                                index,
                            );
                        }
                    }
                    Some("tool_result") => match block.get("content") {
                        None | Some(Value::Null) => {}
                        Some(Value::String(text)) => request.push(
                            Role::Tool,
                            Origin::ToolResult,
                            text,
                            format!("{block_at}/content"),
                            index,
                        ),
                        Some(Value::Array(inner)) => {
                            for (j, part) in inner.iter().enumerate() {
                                if let Some(Value::String(text)) = part.get("text") {
                                    let pointer = format!("{block_at}/content/{j}/text");
                                    request.push(
                                        Role::Tool,
                                        Origin::ToolResult,
                                        text,
                                        pointer,
                                        index,
                                    );
                                }
                            }
                        }
                        Some(_) => {
                            return Err(ShapeError::new(
                                format!("{block_at}/content"),
                                "must be a string or an array of blocks",
                            ))
                        }
                    },
                    // Documents and search results are retrieved content: indirect-injection territory.
                    Some("document" | "search_result") => {
                        if let Some(Value::String(text)) =
                            block.get("source").and_then(|s| s.get("data"))
                        {
                            request.push(
                                role,
                                Origin::ToolResult,
                                text,
                                format!("{block_at}/source/data"),
                                index,
                            );
                        }
                    }
                    _ => {
                        if let Some(Value::String(text)) = block.get("text") {
                            request.push(
                                role,
                                Origin::Typed,
                                text,
                                format!("{block_at}/text"),
                                index,
                            );
                        }
                    }
                }
            }
            Ok(())
        }
        _ => Err(ShapeError::new(
            at,
            "must be a string or an array of content blocks",
        )),
    }
}
