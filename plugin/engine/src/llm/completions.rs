//! Legacy completions: `prompt` as a string or an array of strings.

use super::{max_tokens_param, LlmRequest, Origin, Role, ShapeError};
use serde_json::{Map, Value};

pub(super) fn read(root: &Map<String, Value>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    request.max_tokens = max_tokens_param(root, &["max_tokens"])?;
    match root.get("prompt") {
        None => Err(ShapeError::new("/prompt", "required field is missing")),
        Some(Value::String(text)) => {
            request.message_count = 1;
            request.push(Role::User, Origin::Typed, text, "/prompt".into(), Some(0));
            Ok(())
        }
        Some(Value::Array(prompts)) => {
            request.message_count = prompts.len();
            for (i, prompt) in prompts.iter().enumerate() {
                let Value::String(text) = prompt else {
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
