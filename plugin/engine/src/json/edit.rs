//! Changes to a parsed request body, gathered while the checks run and written once.
//!
//! Clamps, model pinning, masking and stripping each say which value changes; the body is
//! then written in one pass. Without structural edits every change is spliced into the
//! bytes as sent, so all the rest (key order, spacing, number formatting) stays as the
//! client wrote it. With them (a pinned system prompt), the tree is re-serialised once.

use super::document::{Document, Json};
use serde_json::Value;
use std::collections::BTreeMap;

/// The changes to one document.
#[derive(Debug, Default)]
pub struct BodyEdits {
    /// Values replaced, by where they start; a later change to the same value replaces the
    /// earlier. Ordered, so the body is written front to back, and a request with
    /// thousands of masked strings costs thousands of steps, not their square.
    replaced: BTreeMap<usize, Replaced>,
    /// Top-level members added, each in front of the ones added before it.
    added: Vec<(String, String)>,
}

#[derive(Debug)]
struct Replaced {
    end: usize,
    pointer: String,
    new: New,
}

#[derive(Debug)]
enum New {
    Text(String),
    Json(String),
}

impl New {
    fn json(&self) -> String {
        match self {
            New::Text(text) => Value::String(text.clone()).to_string(),
            New::Json(json) => json.clone(),
        }
    }
}

impl BodyEdits {
    pub fn is_empty(&self) -> bool {
        self.replaced.is_empty() && self.added.is_empty()
    }

    /// Replaces the string `value` with `text`.
    pub fn set_text(&mut self, value: Json<'_>, text: String) {
        self.set(value, New::Text(text));
    }

    /// Replaces `value` with the JSON `json`.
    pub fn set_json(&mut self, value: Json<'_>, json: String) {
        self.set(value, New::Json(json));
    }

    fn set(&mut self, value: Json<'_>, new: New) {
        let span = value.span();
        match self.replaced.get_mut(&span.start) {
            Some(existing) => existing.new = new,
            None => {
                let replaced = Replaced {
                    end: span.end,
                    pointer: value.location(),
                    new,
                };
                self.replaced.insert(span.start, replaced);
            }
        }
    }

    /// Adds the top-level member `key` (the caller makes sure it is not there yet) as the
    /// object's first.
    pub fn add_member(&mut self, key: &str, json: String) {
        self.added.push((key.to_string(), json));
    }

    /// The text the string `value` will have: its replacement, else its own.
    pub fn text_of<'t>(&'t self, value: Json<'t>) -> &'t str {
        match self.replaced.get(&value.span().start) {
            Some(Replaced {
                new: New::Text(text),
                ..
            }) => text,
            _ => value.as_str().unwrap_or_default(),
        }
    }

    /// The body with every change spliced in, every other byte as sent; `None` when there
    /// are no changes.
    pub fn splice(&self, document: &Document<'_>) -> Option<Vec<u8>> {
        if self.is_empty() {
            return None;
        }
        let text = document.text().as_bytes();
        let mut out = Vec::with_capacity(text.len() + 64);
        let mut copied = 0;
        let root = document.root();
        // Members go into an object only (the callers add them to objects alone).
        if !self.added.is_empty() && root.is_object() {
            let open = root.span().start + 1;
            out.extend_from_slice(&text[..open]);
            for (i, (key, json)) in self.added.iter().rev().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(Value::String(key.clone()).to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(json.as_bytes());
            }
            if !root.is_empty() {
                out.push(b',');
            }
            copied = open;
        }
        for (&start, change) in &self.replaced {
            out.extend_from_slice(&text[copied..start]);
            out.extend_from_slice(change.new.json().as_bytes());
            copied = change.end;
        }
        out.extend_from_slice(&text[copied..]);
        Some(out)
    }

    /// The document as a `serde_json::Value` with every change made, for the structural
    /// edits that re-serialise it.
    pub fn to_value(&self, document: &Document<'_>) -> Value {
        let mut value = document.root().to_value();
        for change in self.replaced.values() {
            let new = match &change.new {
                New::Text(text) => Value::String(text.clone()),
                New::Json(json) => serde_json::from_str(json).unwrap_or(Value::Null),
            };
            if let Some(slot) = value.pointer_mut(&change.pointer) {
                *slot = new;
            }
        }
        if let Value::Object(object) = &mut value {
            for (key, json) in &self.added {
                let new = serde_json::from_str(json).unwrap_or(Value::Null);
                object.insert(key.clone(), new);
            }
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_spliced_once_keeping_every_other_byte() {
        let body = r#"{ "model" : "a", "max_tokens": 900, "messages":[{"content":"x é"}]}"#;
        let document = Document::parse(body).unwrap();
        let root = document.root();
        let mut edits = BodyEdits::default();
        assert_eq!(edits.splice(&document), None);
        edits.set_json(root.get("max_tokens").unwrap(), "500".into());
        edits.set_json(root.get("max_tokens").unwrap(), "100".into());
        edits.set_text(root.get("model").unwrap(), "b\"q".into());
        let content = root.pointer("/messages/0/content").unwrap();
        edits.set_text(content, "[EMAIL]".into());
        edits.add_member("stream_options", r#"{"include_usage":true}"#.into());
        edits.add_member("n", "1".into());
        let out = String::from_utf8(edits.splice(&document).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"n":1,"stream_options":{"include_usage":true}, "model" : "b\"q", "max_tokens": 100, "messages":[{"content":"[EMAIL]"}]}"#
        );
        assert_eq!(edits.text_of(content), "[EMAIL]");
        assert_eq!(BodyEdits::default().text_of(content), "x é");
        let value = edits.to_value(&document);
        assert_eq!(value, serde_json::from_str::<Value>(&out).unwrap());
    }

    #[test]
    fn members_are_never_spliced_into_anything_but_an_object() {
        let document = Document::parse(r#"["a"]"#).unwrap();
        let mut edits = BodyEdits::default();
        edits.add_member("a", "1".into());
        assert_eq!(edits.splice(&document).unwrap(), br#"["a"]"#);
    }

    #[test]
    fn members_are_added_to_an_empty_object() {
        let document = Document::parse(" {} ").unwrap();
        let mut edits = BodyEdits::default();
        edits.add_member("a", "1".into());
        assert_eq!(edits.splice(&document).unwrap(), br#" {"a":1} "#);
    }
}
