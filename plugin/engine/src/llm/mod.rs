//! Request understanding: every supported LLM request format becomes one model of text
//! segments, each knowing its role, where it came from, and the JSON pointer it lives at,
//! so every later check (limits, sanitising, injection) is written once for all APIs.

mod anthropic;
mod completions;
mod json_ptr;
mod openai_chat;
mod openai_responses;
pub mod output;
mod selectors;
pub mod usage;

pub use json_ptr::{pointer_escape, push_index, push_token};
pub use selectors::SelectorFormat;

use crate::json::document::{Json, Shape};

/// The wire formats the filter understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFormat {
    /// OpenAI `POST /v1/chat/completions`.
    OpenAiChat,
    /// OpenAI `POST /v1/responses`.
    OpenAiResponses,
    /// Anthropic `POST /v1/messages`.
    AnthropicMessages,
    /// Legacy `POST /v1/completions` (`prompt`).
    Completions,
}

/// Who speaks in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    Developer,
    User,
    Assistant,
    Tool,
}

/// Where a segment's text came from. Text that did not come from the person typing is where
/// indirect injection hides, so it is told apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Written in the conversation by the client: a system, user or assistant turn.
    Typed,
    /// The result of a tool call, or retrieved content handed back to the model.
    ToolResult,
    /// Arguments of a tool call the assistant made.
    ToolCall,
    /// A tool's name or description in the request's tool list.
    ToolDefinition,
}

/// One piece of text the model will read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub role: Role,
    pub origin: Origin,
    pub text: String,
    /// JSON pointer (RFC 6901) of the string in the request body.
    pub pointer: String,
    /// Index of the message (or input item) the segment belongs to, if any.
    pub message: Option<usize>,
}

/// A numeric request parameter with where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<T> {
    pub value: T,
    pub pointer: String,
}

/// Everything the filter needs to know about one request body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmRequest {
    pub model: Option<Param<String>>,
    pub stream: bool,
    /// `max_tokens`, `max_completion_tokens` or `max_output_tokens`, whichever the format uses.
    pub max_tokens: Option<Param<u64>>,
    pub n: Option<Param<u64>>,
    /// Messages (or input items) in the conversation.
    pub message_count: usize,
    /// Names of the tools the request declares, with their pointers.
    pub tool_names: Vec<Param<String>>,
    pub segments: Vec<Segment>,
}

/// Why a body could not be read as its format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    /// JSON pointer of the offending field (`""` for the whole body).
    pub pointer: String,
    pub reason: String,
}

impl ShapeError {
    pub fn new(pointer: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            pointer: pointer.into(),
            reason: reason.into(),
        }
    }
}

impl ApiFormat {
    /// Reads a parsed JSON body in this format.
    pub fn parse(self, root: Json<'_>) -> Result<LlmRequest, ShapeError> {
        if !root.is_object() {
            return Err(ShapeError::new("", "the body must be a JSON object"));
        }
        let mut request = LlmRequest::default();
        read_common(root, &mut request)?;
        match self {
            ApiFormat::OpenAiChat => openai_chat::read(root, &mut request)?,
            ApiFormat::OpenAiResponses => openai_responses::read(root, &mut request)?,
            ApiFormat::AnthropicMessages => anthropic::read(root, &mut request)?,
            ApiFormat::Completions => completions::read(root, &mut request)?,
        }
        Ok(request)
    }

    /// The format usually served at `path`, for routes that do not name one.
    pub fn for_path(path: &str) -> Option<Self> {
        let path = path.split('?').next().unwrap_or(path);
        if path.ends_with("/chat/completions") {
            Some(ApiFormat::OpenAiChat)
        } else if path.ends_with("/responses") {
            Some(ApiFormat::OpenAiResponses)
        } else if path.ends_with("/messages") {
            Some(ApiFormat::AnthropicMessages)
        } else if path.ends_with("/completions") {
            Some(ApiFormat::Completions)
        } else {
            None
        }
    }
}

/// Fields every format shares: `model`, `stream`, `n`.
fn read_common(root: Json<'_>, request: &mut LlmRequest) -> Result<(), ShapeError> {
    match root.get("model").map(Json::shape) {
        None | Some(Shape::Null) => {}
        Some(Shape::String(model)) => {
            request.model = Some(Param {
                value: model.to_string(),
                pointer: "/model".into(),
            });
        }
        Some(_) => return Err(ShapeError::new("/model", "must be a string")),
    }
    request.stream = match root.get("stream").map(Json::shape) {
        None | Some(Shape::Null) => false,
        Some(Shape::Bool(stream)) => stream,
        Some(_) => return Err(ShapeError::new("/stream", "must be a boolean")),
    };
    request.n = count_param(root, "n")?;
    Ok(())
}

/// A non-negative integer field, if present.
fn count_param(root: Json<'_>, name: &str) -> Result<Option<Param<u64>>, ShapeError> {
    match root.get(name).filter(|v| !v.is_null()) {
        None => Ok(None),
        Some(value) => match value.as_u64() {
            Some(value) => Ok(Some(Param {
                value,
                pointer: format!("/{name}"),
            })),
            None => Err(ShapeError::new(
                format!("/{name}"),
                "must be a non-negative integer",
            )),
        },
    }
}

/// The first of `names` present as a token count.
fn max_tokens_param(root: Json<'_>, names: &[&str]) -> Result<Option<Param<u64>>, ShapeError> {
    for name in names {
        if let Some(param) = count_param(root, name)? {
            return Ok(Some(param));
        }
    }
    Ok(None)
}

/// The top-level array `name`, which the format requires.
fn required_array<'d>(root: Json<'d>, name: &str) -> Result<Json<'d>, ShapeError> {
    match root.get(name).map(Json::shape) {
        None => Err(ShapeError::new(
            format!("/{name}"),
            "required field is missing",
        )),
        Some(Shape::Array(items)) => Ok(items),
        Some(_) => Err(ShapeError::new(format!("/{name}"), "must be an array")),
    }
}

/// The `role` of the object at `at`, from the names a format accepts.
fn read_role(object: Json<'_>, at: &str, roles: &[(&str, Role)]) -> Result<Role, ShapeError> {
    match object.get("role").and_then(Json::as_str) {
        Some(name) => roles
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, role)| *role)
            .ok_or_else(|| ShapeError::new(format!("{at}/role"), format!("unknown role {name:?}"))),
        None => Err(ShapeError::new(
            format!("{at}/role"),
            "required string field is missing",
        )),
    }
}

impl LlmRequest {
    fn push(
        &mut self,
        role: Role,
        origin: Origin,
        text: &str,
        pointer: String,
        message: Option<usize>,
    ) {
        self.segments.push(Segment {
            role,
            origin,
            text: text.to_string(),
            pointer,
            message,
        });
    }
}

#[cfg(test)]
mod tests;
