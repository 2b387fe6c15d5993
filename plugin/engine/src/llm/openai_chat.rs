//! OpenAI chat completions: `messages` with string or content-part content, tool calls,
//! tool results, and the `tools` list.

use super::{
    max_tokens_param, read_role, required_array, LlmRequest, Origin, Param, Role, ShapeError,
};
use crate::json::document::{Json, Shape};

pub(super) const ROLES: [(&str, Role); 6] = [
    ("system", Role::System),
    ("developer", Role::Developer),
    ("user", Role::User),
    ("assistant", Role::Assistant),
    ("tool", Role::Tool),
    ("function", Role::Tool),
];

pub(super) fn read(root: Json<'_>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    request.max_tokens = max_tokens_param(root, &["max_completion_tokens", "max_tokens"])?;
    let messages = required_array(root, "messages")?;
    request.message_count = messages.len();
    for (index, message) in messages.children().enumerate() {
        read_message(message, index, request)?;
    }
    read_tools(root, request)
}

fn read_message(
    message: Json<'_>,
    index: usize,
    request: &mut LlmRequest,
) -> Result<(), ShapeError> {
    let at = format!("/messages/{index}");
    if !message.is_object() {
        return Err(ShapeError::new(at, "must be an object"));
    }
    let role = read_role(message, &at, &ROLES)?;
    let origin = if role == Role::Tool {
        Origin::ToolResult
    } else {
        Origin::Typed
    };
    read_content(
        message.get("content"),
        &format!("{at}/content"),
        role,
        origin,
        index,
        request,
    )?;
    if let Some(Shape::Array(calls)) = message.get("tool_calls").map(Json::shape) {
        for (i, call) in calls.children().enumerate() {
            let pointer = format!("{at}/tool_calls/{i}/function/arguments");
            if let Some(arguments) = call.pointer("/function/arguments").and_then(Json::as_str) {
                request.push(
                    Role::Assistant,
                    Origin::ToolCall,
                    arguments,
                    pointer,
                    Some(index),
                );
            }
        }
    }
    if let Some(arguments) = message
        .get("function_call")
        .and_then(|c| c.get("arguments"))
        .and_then(Json::as_str)
    {
        request.push(
            Role::Assistant,
            Origin::ToolCall,
            arguments,
            format!("{at}/function_call/arguments"),
            Some(index),
        );
    }
    Ok(())
}

/// `content`: a string, null (assistant turns with tool calls), or an array of parts of which
/// the text ones matter (`text`, `input_text`, `refusal`); images and audio carry no text.
pub(super) fn read_content(
    content: Option<Json<'_>>,
    at: &str,
    role: Role,
    origin: Origin,
    index: usize,
    request: &mut LlmRequest,
) -> Result<(), ShapeError> {
    match content.map(Json::shape) {
        None | Some(Shape::Null) => Ok(()),
        Some(Shape::String(text)) => {
            request.push(role, origin, text, at.to_string(), Some(index));
            Ok(())
        }
        Some(Shape::Array(parts)) => {
            for (i, part) in parts.children().enumerate() {
                let part_at = format!("{at}/{i}");
                match part.shape() {
                    Shape::String(text) => request.push(role, origin, text, part_at, Some(index)),
                    Shape::Object(part) => {
                        for field in ["text", "refusal"] {
                            if let Some(text) = part.get(field).and_then(Json::as_str) {
                                request.push(
                                    role,
                                    origin,
                                    text,
                                    format!("{part_at}/{field}"),
                                    Some(index),
                                );
                            }
                        }
                    }
                    _ => return Err(ShapeError::new(part_at, "a content part must be an object")),
                }
            }
            Ok(())
        }
        Some(_) => Err(ShapeError::new(
            at,
            "must be a string or an array of content parts",
        )),
    }
}

/// `tools[].function.{name, description}` (chat) or `tools[].{name, description}` (Responses).
pub(super) fn read_tools(root: Json<'_>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    let Some(tools) = root.get("tools") else {
        return Ok(());
    };
    let Shape::Array(tools) = tools.shape() else {
        return Err(ShapeError::new("/tools", "must be an array"));
    };
    for (i, tool) in tools.children().enumerate() {
        let (base, spec) = match tool.get("function").filter(|f| !f.is_null()) {
            Some(function) => (format!("/tools/{i}/function"), function),
            None => (format!("/tools/{i}"), tool),
        };
        if let Some(name) = spec.get("name").and_then(Json::as_str) {
            request.tool_names.push(Param {
                value: name.to_string(),
                pointer: format!("{base}/name"),
            });
        }
        if let Some(description) = spec.get("description").and_then(Json::as_str) {
            request.push(
                Role::Developer,
                Origin::ToolDefinition,
                description,
                format!("{base}/description"),
                None,
            );
        }
    }
    Ok(())
}
