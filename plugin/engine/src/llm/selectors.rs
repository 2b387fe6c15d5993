//! Any other JSON route: the policy names the strings to inspect with JSON pointers,
//! where a `*` token stands for every element of an array or member of an object.

use super::json_ptr::pointer_escape;
use super::{LlmRequest, Origin, Role};
use crate::json::document::{Json, Shape};

/// Text fields picked out of a JSON body by pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectorFormat {
    /// `(pointer pattern, role)` pairs, e.g. `("/documents/*/text", Role::Tool)`.
    pub selectors: Vec<(String, Role)>,
}

impl SelectorFormat {
    /// Every string the selectors reach (non-string values are skipped, so a selector
    /// that misses reads nothing rather than failing the request).
    pub fn parse(&self, body: Json<'_>) -> LlmRequest {
        let mut request = LlmRequest::default();
        for (pattern, role) in &self.selectors {
            let tokens: Vec<&str> = pattern.split('/').skip(1).collect();
            let origin = if *role == Role::Tool {
                Origin::ToolResult
            } else {
                Origin::Typed
            };
            walk(body, &tokens, String::new(), *role, origin, &mut request);
        }
        request.message_count = request.segments.len();
        request
    }
}

fn walk(
    value: Json<'_>,
    tokens: &[&str],
    at: String,
    role: Role,
    origin: Origin,
    out: &mut LlmRequest,
) {
    let Some((token, rest)) = tokens.split_first() else {
        if let Some(text) = value.as_str() {
            out.push(role, origin, text, at, None);
        }
        return;
    };
    let token = token.replace("~1", "/").replace("~0", "~");
    match (value.shape(), token.as_str()) {
        (Shape::Array(items), "*") => {
            for (i, item) in items.children().enumerate() {
                walk(item, rest, format!("{at}/{i}"), role, origin, out);
            }
        }
        (Shape::Object(members), "*") => {
            // In key order, as a sorted map has them, so the order does not follow the sender.
            let mut members: Vec<_> = members.members().collect();
            members.sort_by(|a, b| a.0.cmp(b.0));
            for (key, item) in members {
                walk(
                    item,
                    rest,
                    format!("{at}/{}", pointer_escape(key)),
                    role,
                    origin,
                    out,
                );
            }
        }
        (Shape::Array(items), index) => {
            if let Some(item) = index.parse::<usize>().ok().and_then(|i| items.item(i)) {
                walk(item, rest, format!("{at}/{index}"), role, origin, out);
            }
        }
        (Shape::Object(members), key) => {
            if let Some(item) = members.get(key) {
                walk(
                    item,
                    rest,
                    format!("{at}/{}", pointer_escape(key)),
                    role,
                    origin,
                    out,
                );
            }
        }
        _ => {}
    }
}
