//! Anthropic messages: top-level `system` (string or text blocks), content blocks,
//! `tool_use` and `tool_result`.

use super::openai_chat::read_tools;
use super::{max_tokens_param, read_role, required_array, LlmRequest, Origin, Role, ShapeError};
use crate::json::document::{Json, Shape};

pub(super) fn read(root: Json<'_>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    request.max_tokens = max_tokens_param(root, &["max_tokens"])?;
    match root.get("system").filter(|s| !s.is_null()) {
        None => {}
        Some(system) => read_blocks(system, "/system", Role::System, None, request)?,
    }
    let messages = required_array(root, "messages")?;
    request.message_count = messages.len();
    for (index, message) in messages.children().enumerate() {
        let at = format!("/messages/{index}");
        if !message.is_object() {
            return Err(ShapeError::new(at, "must be an object"));
        }
        let role = read_role(
            message,
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
    content: Json<'_>,
    at: &str,
    role: Role,
    index: Option<usize>,
    request: &mut LlmRequest,
) -> Result<(), ShapeError> {
    match content.shape() {
        Shape::String(text) => {
            request.push(role, Origin::Typed, text, at.to_string(), index);
            Ok(())
        }
        Shape::Array(blocks) => {
            for (i, block) in blocks.children().enumerate() {
                let block_at = format!("{at}/{i}");
                if !block.is_object() {
                    return Err(ShapeError::new(
                        block_at,
                        "a content block must be an object",
                    ));
                }
                match block.get("type").and_then(Json::as_str) {
                    Some("tool_use") => {
                        if let Some(input) = block.get("input") {
                            // As serde_json writes it: compact, keys in order.
                            let text = input.to_value().to_string();
                            request.push(
                                Role::Assistant,
                                Origin::ToolCall,
                                &text,
                                format!("{block_at}/input"),
                                index,
                            );
                        }
                    }
                    Some("tool_result") => match block.get("content").map(Json::shape) {
                        None | Some(Shape::Null) => {}
                        Some(Shape::String(text)) => request.push(
                            Role::Tool,
                            Origin::ToolResult,
                            text,
                            format!("{block_at}/content"),
                            index,
                        ),
                        Some(Shape::Array(inner)) => {
                            for (j, part) in inner.children().enumerate() {
                                if let Some(text) = part.get("text").and_then(Json::as_str) {
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
                        if let Some(text) = block.pointer("/source/data").and_then(Json::as_str) {
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
                        if let Some(text) = block.get("text").and_then(Json::as_str) {
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
