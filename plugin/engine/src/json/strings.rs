//! Rewrites string values of a JSON document (a model's answer, a stream event) in place,
//! by JSON pointer. Every byte outside the changed strings stays as it was sent:
//! re-serialising would reorder keys, change number formatting and turn a masked answer
//! into a diff far larger than the masking itself.

use super::document::Document;
use super::edit::BodyEdits;
use crate::llm::{push_index, push_token};

/// Why a document could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson;

/// Offers every string value of `body` whose pointer `select` accepts to `change`, which
/// returns the new text or `None` to keep it. Returns `Ok(None)` when nothing changed, so
/// an untouched body can be forwarded as the very same bytes. An answer is the upstream's
/// JSON: a repeated key is read, not refused (serde_json reads it too).
pub fn rewrite_strings(
    body: &[u8],
    select: &dyn Fn(&str) -> bool,
    change: &mut dyn FnMut(&str, &str) -> Option<String>,
) -> Result<Option<Vec<u8>>, NotJson> {
    let text = std::str::from_utf8(body).map_err(|_| NotJson)?;
    let document = Document::parse_keeping_duplicates(text).map_err(|_| NotJson)?;
    let mut edits = BodyEdits::default();
    for (pointer, value) in document.string_values() {
        if !select(&pointer) {
            continue;
        }
        if let Some(new) = change(&pointer, value.as_str().unwrap_or_default()) {
            edits.set_text(value, new);
        }
    }
    Ok(edits.splice(&document))
}

/// The string values of an already parsed document whose pointer `select` accepts, with
/// their pointers (object members in key order). Cheaper than [`rewrite_strings`] when the
/// document is parsed anyway and nothing is to be rewritten.
pub fn parsed_strings<'v>(
    value: &'v serde_json::Value,
    select: &dyn Fn(&str) -> bool,
) -> Vec<(String, &'v str)> {
    fn walk<'v>(
        value: &'v serde_json::Value,
        pointer: &mut String,
        select: &dyn Fn(&str) -> bool,
        out: &mut Vec<(String, &'v str)>,
    ) {
        let base = pointer.len();
        match value {
            serde_json::Value::String(text) if select(pointer) => {
                out.push((pointer.clone(), text.as_str()))
            }
            serde_json::Value::Object(members) => {
                for (key, member) in members {
                    push_token(pointer, key);
                    walk(member, pointer, select, out);
                    pointer.truncate(base);
                }
            }
            serde_json::Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    push_index(pointer, index);
                    walk(item, pointer, select, out);
                    pointer.truncate(base);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut String::new(), select, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upper_at(body: &str, wanted: &str) -> Option<String> {
        let out = rewrite_strings(body.as_bytes(), &|p| p == wanted, &mut |_, text| {
            Some(text.to_uppercase())
        })
        .unwrap()?;
        Some(String::from_utf8(out).unwrap())
    }

    #[test]
    fn changes_only_the_selected_string_and_keeps_every_other_byte() {
        let body = "{ \"b\" : [1, 2.5e3, {\"t\":\"x\"}],\n \"m\":[{\"c\":\"hi \\u0040 you\"}], \"z\":null }";
        assert_eq!(
            upper_at(body, "/m/0/c").unwrap(),
            "{ \"b\" : [1, 2.5e3, {\"t\":\"x\"}],\n \"m\":[{\"c\":\"HI @ YOU\"}], \"z\":null }"
        );
        assert_eq!(upper_at(body, "/b/2/t").unwrap().len(), body.len());
        assert!(upper_at(body, "/nope").is_none());
    }

    #[test]
    fn escaped_keys_and_multibyte_text_keep_the_json_valid() {
        let body = r#"{"a/b":"grüße \"q\" 🦀","k~":"x"}"#;
        let out = upper_at(body, "/a~1b").unwrap();
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["a/b"], "GRÜSSE \"Q\" 🦀");
        assert!(upper_at(body, "/k~0").is_some());
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        for body in [
            "",
            "{",
            "{\"a\":",
            "[1,",
            "{\"a\" 1}",
            "\"\\",
            "{}x",
            "[[[[[[",
        ] {
            assert!(
                rewrite_strings(body.as_bytes(), &|_| true, &mut |_, _| None).is_err(),
                "{body}"
            );
        }
        let deep = "[".repeat(10_000);
        assert!(rewrite_strings(deep.as_bytes(), &|_| true, &mut |_, _| None).is_err());
    }
}
