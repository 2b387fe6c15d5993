//! Schema and limit checks on a request body before the model is called (PSF IG-2).
//! Every failure is a 400 naming the JSON pointer of the offending field.

use crate::json::document::{Document, DocumentError, Shape, StringField, MAX_DEPTH};
use crate::json::edit::BodyEdits;
use crate::llm::{ApiFormat, LlmRequest, Origin, Role, Segment};
use crate::policy::{BodyFormat, OverCap, Route, UnknownFields};
use crate::rejection::Rejection;
use crate::request::tokens::estimate_from_char_counts;
use crate::ErrorCode;

/// What the checks decided about a body.
#[derive(Debug)]
pub enum Checked<'a> {
    /// Go on with it: the request read, and the changes the limits make (a clamped
    /// `max_tokens`).
    Pass(Read<'a>),
    Reject(Rejection),
}

/// A body read once: its document, the request in it, and the edits to make.
#[derive(Debug)]
pub struct Read<'a> {
    pub request: LlmRequest,
    /// `None` for a route with no body format, whose body is not read.
    pub document: Option<Document<'a>>,
    pub edits: BodyEdits,
}

/// Reads `body` as the route's format and applies its limits.
pub fn check_body<'a>(route: &Route, body: &'a [u8]) -> Checked<'a> {
    let reject = |code: ErrorCode, limit: &str, message: String, pointer: Option<&str>| {
        Checked::Reject(
            Rejection::new(code, format!("{}.{limit}", route.id), message)
                .at(pointer.map(str::to_string)),
        )
    };
    let Some(format) = &route.format else {
        return Checked::Pass(Read {
            request: LlmRequest::default(),
            document: None,
            edits: BodyEdits::default(),
        });
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return reject(
            ErrorCode::InvalidUtf8,
            "format",
            "the request body is not valid UTF-8".into(),
            None,
        );
    };
    let document = match Document::parse(text) {
        Ok(document) => document,
        Err(DocumentError::DuplicateKey { pointer }) => {
            return reject(
                ErrorCode::InvalidRequest,
                "format",
                format!("{pointer} appears twice in one object; send each key once"),
                Some(&pointer),
            )
        }
        Err(DocumentError::NumberOutOfRange { pointer }) => {
            return reject(
                ErrorCode::InvalidJson,
                "format",
                format!(
                    "the number at {} is beyond the range of a 64-bit float",
                    display_pointer(&pointer)
                ),
                Some(&pointer),
            )
        }
        Err(DocumentError::TooDeep { pointer }) => {
            return reject(
                ErrorCode::InvalidJson,
                "format",
                format!(
                    "the request body nests deeper than {MAX_DEPTH} levels (at {})",
                    display_pointer(&pointer)
                ),
                None,
            )
        }
        Err(DocumentError::NotJson { .. }) => {
            return reject(
                ErrorCode::InvalidJson,
                "format",
                not_json_message(body),
                None,
            )
        }
    };
    let mut request = match format {
        BodyFormat::Api(api) => match api.parse(document.root()) {
            Ok(request) => request,
            Err(shape) => {
                let message = format!(
                    "{} request: {}: {}",
                    api_name(*api),
                    display_pointer(&shape.pointer),
                    shape.reason
                );
                return reject(
                    ErrorCode::InvalidRequest,
                    "format",
                    message,
                    Some(&shape.pointer),
                );
            }
        },
        BodyFormat::Selectors(selectors) => selectors.parse(document.root()),
    };
    let strings = document.strings(&is_request_bookkeeping);
    if let BodyFormat::Api(api) = format {
        if let Err(pointer) = add_unread_strings(&mut request, strings, route.unknown_fields) {
            let message = format!(
                "{pointer} is not a field psf-guard reads in a {} request, and this route \
                 refuses fields it does not read",
                api_name(*api)
            );
            return reject(
                ErrorCode::InvalidRequest,
                "unknown_fields",
                message,
                Some(&pointer),
            );
        }
    }
    let limits = &route.limits;

    if let Some(max) = limits.max_messages {
        if request.message_count > max {
            let message = format!("{} messages, the limit is {max}", request.message_count);
            return reject(
                ErrorCode::TooManyMessages,
                "max_messages",
                message,
                Some(messages_pointer(format)),
            );
        }
    }
    // Characters per segment, counted once for the three limits that need them.
    let counted = limits.max_message_chars.is_some()
        || limits.max_total_chars.is_some()
        || limits.max_prompt_tokens.is_some();
    let chars: Vec<usize> = if counted {
        request
            .segments
            .iter()
            .map(|s| s.text.chars().count())
            .collect()
    } else {
        Vec::new()
    };
    if let Some(max) = limits.max_message_chars {
        if let Some((pointer, count)) =
            longest_message(&request, &chars).filter(|(_, count)| *count > max)
        {
            let message = format!("a message has {count} characters, the limit is {max}");
            return reject(
                ErrorCode::MessageTooLong,
                "max_message_chars",
                message,
                Some(&pointer),
            );
        }
    }
    if let Some(max) = limits.max_total_chars {
        let total: usize = chars.iter().sum();
        if total > max {
            let message = format!("the prompt has {total} characters, the limit is {max}");
            return reject(ErrorCode::PromptTooLong, "max_total_chars", message, None);
        }
    }
    if let Some(max) = limits.max_prompt_tokens {
        let estimate = estimate_from_char_counts(&chars, request.message_count);
        if estimate > max {
            let message = format!("the prompt is about {estimate} tokens, the limit is {max}");
            return reject(ErrorCode::TooManyTokens, "max_prompt_tokens", message, None);
        }
    }
    if let Some(model) = &request.model {
        if !limits.allows_model(&model.value) {
            let message = format!("model {:?} is not allowed on this route", model.value);
            return reject(
                ErrorCode::ModelNotAllowed,
                "models",
                message,
                Some(&model.pointer),
            );
        }
    } else if !limits.models.is_empty() {
        return reject(
            ErrorCode::ModelNotAllowed,
            "models",
            "the request names no model".into(),
            Some("/model"),
        );
    }
    if request.stream && !limits.allow_stream {
        return reject(
            ErrorCode::StreamNotAllowed,
            "stream",
            "streaming is not allowed on this route".into(),
            Some("/stream"),
        );
    }
    if let (Some(max), Some(n)) = (limits.max_n, &request.n) {
        if n.value > max {
            let message = format!("n is {}, the limit is {max}", n.value);
            return reject(
                ErrorCode::TooManyChoices,
                "max_n",
                message,
                Some(&n.pointer),
            );
        }
    }
    if let Some(allowed) = &limits.tools {
        if let Some(tool) = request
            .tool_names
            .iter()
            .find(|t| !allowed.contains(&t.value))
        {
            let message = format!("tool {:?} is not allowed on this route", tool.value);
            return reject(
                ErrorCode::ToolNotAllowed,
                "tools",
                message,
                Some(&tool.pointer),
            );
        }
    }
    let mut edits = BodyEdits::default();
    if let (Some(cap), Some(asked)) = (limits.max_tokens, &request.max_tokens) {
        if asked.value > cap.max {
            let key = asked.pointer.trim_start_matches('/');
            let number = document
                .root()
                .get(key)
                .filter(|v| matches!(v.shape(), Shape::Number(_)));
            if let Some(number) = number.filter(|_| cap.over == OverCap::Clamp) {
                edits.set_json(number, cap.max.to_string());
                return Checked::Pass(Read {
                    request,
                    document: Some(document),
                    edits,
                });
            }
            let message = format!(
                "{key} is {}, the limit is {}",
                asked.value,
                cap.max,
                key = asked.pointer.trim_start_matches('/')
            );
            return reject(
                ErrorCode::MaxTokensExceeded,
                "max_tokens",
                message,
                Some(&asked.pointer),
            );
        }
    }
    Checked::Pass(Read {
        request,
        document: Some(document),
        edits,
    })
}

/// Keys whose string values are the protocol's own words, never text for the model: ids,
/// roles, types and enums, model names, and binary payloads (images, audio, files) that
/// text detectors must not read or rewrite.
fn is_request_bookkeeping(key: &str) -> bool {
    matches!(
        key,
        "model"
            | "role"
            | "type"
            | "id"
            | "tool_call_id"
            | "call_id"
            | "tool_use_id"
            | "tool_choice"
            | "previous_response_id"
            | "service_tier"
            | "reasoning_effort"
            | "effort"
            | "detail"
            | "format"
            | "media_type"
            | "url"
            | "image_url"
            | "data"
            | "file_data"
            | "file_id"
            | "signature"
            | "voice"
            | "modalities"
            | "encoding_format"
            | "status"
            | "truncation"
            | "verbosity"
    )
}

/// Adds every string of the body that the format's reader did not take as a segment, so
/// detection, masking and limits see all text the model may read (`Inspect`), or names the
/// first one (`Refuse`).
fn add_unread_strings(
    request: &mut LlmRequest,
    strings: Vec<StringField<'_>>,
    unknown: UnknownFields,
) -> Result<(), String> {
    // Most requests have a few segments, which a scan checks faster than a hash set; a
    // request with many gets the set, so the check stays linear.
    let read: Vec<&str> = request
        .segments
        .iter()
        .map(|s| s.pointer.as_str())
        .chain(request.tool_names.iter().map(|t| t.pointer.as_str()))
        .collect();
    let hashed: Option<std::collections::HashSet<&str>> =
        (read.len() > 32).then(|| read.iter().copied().collect());
    let is_read = |pointer: &str| match &hashed {
        Some(set) => set.contains(pointer),
        None => read.contains(&pointer),
    };
    let unread: Vec<StringField<'_>> = strings
        .into_iter()
        .filter(|field| !is_read(&field.pointer))
        .collect();
    if unknown == UnknownFields::Refuse {
        // Tool names are read as names, not text; everything else unread is refused.
        return match unread.into_iter().next() {
            Some(field) => Err(field.pointer),
            None => Ok(()),
        };
    }
    for field in unread {
        let definition = [
            "/tools",
            "/functions",
            "/response_format",
            "/text/format",
            "/tool_choice",
        ]
        .iter()
        .any(|root| field.pointer.starts_with(root));
        let (role, origin) = if definition {
            (Role::Developer, Origin::ToolDefinition)
        } else {
            (Role::User, Origin::Typed)
        };
        request.segments.push(Segment {
            role,
            origin,
            text: field.text.to_string(),
            pointer: field.pointer,
            message: None,
        });
    }
    Ok(())
}

/// Why `body` is not JSON, in serde_json's words (with line and column): asked only for a
/// body the document parser refused, so a good body is still parsed once.
fn not_json_message(body: &[u8]) -> String {
    if body.iter().all(u8::is_ascii_whitespace) {
        return "the request body is empty".to_string();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Err(error) => format!("the request body is not valid JSON: {error}"),
        Ok(_) => "the request body is not valid JSON".to_string(),
    }
}

fn api_name(api: ApiFormat) -> &'static str {
    match api {
        ApiFormat::OpenAiChat => "chat completions",
        ApiFormat::OpenAiResponses => "responses",
        ApiFormat::AnthropicMessages => "messages",
        ApiFormat::Completions => "completions",
    }
}

fn display_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "the body"
    } else {
        pointer
    }
}

fn messages_pointer(format: &BodyFormat) -> &'static str {
    match format {
        BodyFormat::Api(ApiFormat::OpenAiResponses) => "/input",
        BodyFormat::Api(ApiFormat::Completions) => "/prompt",
        BodyFormat::Api(_) => "/messages",
        BodyFormat::Selectors(_) => "",
    }
}

/// The message with the most characters (all its segments together), with the pointer of
/// its largest segment.
fn longest_message(request: &LlmRequest, segment_chars: &[usize]) -> Option<(String, usize)> {
    let mut totals: Vec<(Option<usize>, usize, &str, usize)> = Vec::new();
    for (segment, &chars) in request.segments.iter().zip(segment_chars) {
        let key = segment.message;
        match totals.iter_mut().find(|(m, ..)| key.is_some() && *m == key) {
            Some(entry) => {
                entry.1 += chars;
                if chars > entry.3 {
                    entry.2 = &segment.pointer;
                    entry.3 = chars;
                }
            }
            None => totals.push((key, chars, &segment.pointer, chars)),
        }
    }
    totals
        .into_iter()
        .max_by_key(|(_, total, ..)| *total)
        .map(|(_, total, pointer, _)| (pointer.to_string(), total))
}
