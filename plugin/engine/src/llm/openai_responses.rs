//! OpenAI Responses API: `instructions`, and `input` as a string or an item array
//! (messages, function calls and their outputs).

use super::openai_chat::{read_content, read_tools};
use super::{max_tokens_param, read_role, LlmRequest, Origin, Role, ShapeError};
use crate::json::document::{Json, Shape};

const MESSAGE_ROLES: [(&str, Role); 4] = [
    ("system", Role::System),
    ("developer", Role::Developer),
    ("user", Role::User),
    ("assistant", Role::Assistant),
];

pub(super) fn read(root: Json<'_>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    request.max_tokens = max_tokens_param(root, &["max_output_tokens"])?;
    match root.get("instructions").map(Json::shape) {
        None | Some(Shape::Null) => {}
        Some(Shape::String(text)) => request.push(
            Role::System,
            Origin::Typed,
            text,
            "/instructions".into(),
            None,
        ),
        Some(_) => return Err(ShapeError::new("/instructions", "must be a string")),
    }
    match root.get("input").map(Json::shape) {
        None => return Err(ShapeError::new("/input", "required field is missing")),
        Some(Shape::String(text)) => {
            request.message_count = 1;
            request.push(Role::User, Origin::Typed, text, "/input".into(), Some(0));
        }
        Some(Shape::Array(items)) => {
            request.message_count = items.len();
            for (index, item) in items.children().enumerate() {
                read_item(item, index, request)?;
            }
        }
        Some(_) => {
            return Err(ShapeError::new(
                "/input",
                "must be a string or an array of input items",
            ))
        }
    }
    read_tools(root, request)
}

fn read_item(item: Json<'_>, index: usize, request: &mut LlmRequest) -> Result<(), ShapeError> {
    let at = format!("/input/{index}");
    if !item.is_object() {
        return Err(ShapeError::new(at, "must be an object"));
    }
    match item.get("type").and_then(Json::as_str) {
        Some("function_call") => {
            if let Some(arguments) = item.get("arguments").and_then(Json::as_str) {
                request.push(
                    Role::Assistant,
                    Origin::ToolCall,
                    arguments,
                    format!("{at}/arguments"),
                    Some(index),
                );
            }
            Ok(())
        }
        Some("function_call_output") => read_content(
            item.get("output"),
            &format!("{at}/output"),
            Role::Tool,
            Origin::ToolResult,
            index,
            request,
        ),
        Some("message") | None => {
            let role = read_role(item, &at, &MESSAGE_ROLES)?;
            read_content(
                item.get("content"),
                &format!("{at}/content"),
                role,
                Origin::Typed,
                index,
                request,
            )
        }
        // Reasoning items, references to stored items and the like carry no client text.
        Some(_) => Ok(()),
    }
}
