//! Legacy completions: `prompt` as a string or an array of strings.

use super::{max_tokens_param, LlmRequest, Origin, Role, ShapeError};
use crate::json::document::{Json, Shape};

pub(super) fn read(root: Json<'_>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    request.max_tokens = max_tokens_param(root, &["max_tokens"])?;
    match root.get("prompt").map(Json::shape) {
        None => Err(ShapeError::new("/prompt", "required field is missing")),
        Some(Shape::String(text)) => {
            request.message_count = 1;
            request.push(Role::User, Origin::Typed, text, "/prompt".into(), Some(0));
            Ok(())
        }
        Some(Shape::Array(prompts)) => {
            request.message_count = prompts.len();
            for (i, prompt) in prompts.children().enumerate() {
                let Some(text) = prompt.as_str() else {
                    return Err(ShapeError::new(format!("/prompt/{i}"), "must be a string"));
                };
                request.push(
                    Role::User,
                    Origin::Typed,
                    text,
                    format!("/prompt/{i}"),
                    Some(i),
                );
            }
            Ok(())
        }
        Some(_) => Err(ShapeError::new(
            "/prompt",
            "must be a string or an array of strings",
        )),
    }
}
