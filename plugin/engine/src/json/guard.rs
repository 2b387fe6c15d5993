//! One reading of a JSON body (PSF IG-2): the whole document, before any reader sees it.
//!
//! Parsers disagree on duplicate keys: serde's typed readers refuse them, `Value` keeps the
//! last, some upstreams keep the first. A body with `"max_tokens"` twice would be clamped in
//! one place and read in another, and two `"content"` keys would be masked in one and sent
//! in the other. Nesting limits likewise hold only where a parser looks, and fields the
//! filter skips were never counted. So every object and array of the document is walked
//! here once, without recursion: a duplicate key anywhere, or nesting past
//! [`MAX_DEPTH`], refuses the body with the JSON pointer where it happened. So does a
//! number no 64-bit float can hold (`1e999`): serde_json refuses it where it reads, skips
//! it where it does not, and an upstream may read it as infinity.

use crate::llm::{push_index, push_token};
use std::borrow::Cow;
use std::collections::HashSet;

/// Deepest nesting accepted, the same limit serde_json applies to what it parses.
pub const MAX_DEPTH: usize = 128;

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// The object at `pointer`'s parent has the key twice; `pointer` names it.
    DuplicateKey { pointer: String },
    /// Nesting deeper than [`MAX_DEPTH`] at `pointer`.
    TooDeep { pointer: String },
    /// A number at `pointer` beyond the range of a 64-bit float.
    NumberOutOfRange { pointer: String },
}

/// The keys of one object: a short list, or a hash set once the object is large, so an
/// object with a million keys costs a million lookups, not a million squared.
#[derive(Default)]
struct Keys<'a> {
    few: Vec<Cow<'a, str>>,
    many: HashSet<Cow<'a, str>>,
}

impl<'a> Keys<'a> {
    const FEW: usize = 16;

    /// Adds `key`; false when it was there already.
    fn insert(&mut self, key: Cow<'a, str>) -> bool {
        if !self.many.is_empty() {
            return self.many.insert(key);
        }
        if self.few.contains(&key) {
            return false;
        }
        self.few.push(key);
        if self.few.len() > Self::FEW {
            self.many = std::mem::take(&mut self.few).into_iter().collect();
        }
        true
    }
}

enum Frame<'a> {
    Object {
        keys: Keys<'a>,
        /// The key whose value is being read.
        current: Option<Cow<'a, str>>,
    },
    Array {
        index: usize,
    },
}

/// A string value of the document, with its JSON pointer; borrowed from the body unless it
/// has escapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringField<'a> {
    pub pointer: String,
    pub text: Cow<'a, str>,
}

/// Checks `body` for duplicate keys and depth. Bytes that are not JSON pass: the parser
/// that follows names what is wrong with them.
pub fn check_document(body: &[u8]) -> Result<(), DocumentError> {
    match std::str::from_utf8(body) {
        Ok(text) => read_document(text, &|_| true).map(|_| ()),
        Err(_) => Ok(()),
    }
}

/// [`check_document`], also returning every string value whose nearest key `skip` does not
/// name (ids, roles, types: the protocol's own words), so the caller can inspect the strings
/// no reader of its format looks at.
pub fn read_document<'a>(
    text: &'a str,
    skip: &dyn Fn(&str) -> bool,
) -> Result<Vec<StringField<'a>>, DocumentError> {
    let mut strings = Vec::new();
    let body = text.as_bytes();
    let mut stack: Vec<Frame<'a>> = Vec::new();
    let mut at = 0;
    while at < body.len() {
        match body[at] {
            b'{' | b'[' => {
                if stack.len() >= MAX_DEPTH {
                    return Err(DocumentError::TooDeep {
                        pointer: pointer_of(&stack),
                    });
                }
                stack.push(if body[at] == b'{' {
                    Frame::Object {
                        keys: Keys::default(),
                        current: None,
                    }
                } else {
                    Frame::Array { index: 0 }
                });
                at += 1;
            }
            b'}' | b']' => {
                stack.pop();
                at += 1;
            }
            b',' => {
                if let Some(Frame::Array { index }) = stack.last_mut() {
                    *index += 1;
                }
                if let Some(Frame::Object { current, .. }) = stack.last_mut() {
                    *current = None;
                }
                at += 1;
            }
            b'"' => {
                let Some((value, end)) = read_string(text, at) else {
                    return Ok(strings);
                };
                at = end;
                let is_key = matches!(stack.last(), Some(Frame::Object { current: None, .. }))
                    && next_significant(body, at) == Some(b':');
                if is_key {
                    if let Some(Frame::Object { keys, current }) = stack.last_mut() {
                        let fresh = keys.insert(value.clone());
                        *current = Some(value);
                        if !fresh {
                            return Err(DocumentError::DuplicateKey {
                                pointer: pointer_of(&stack),
                            });
                        }
                    }
                } else if !nearest_key(&stack).is_some_and(skip) {
                    strings.push(StringField {
                        pointer: pointer_of(&stack),
                        text: value,
                    });
                }
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(body, at);
                let finite = text
                    .get(at..end)
                    .and_then(|number| number.parse::<f64>().ok())
                    .is_none_or(f64::is_finite);
                if !finite {
                    return Err(DocumentError::NumberOutOfRange {
                        pointer: pointer_of(&stack),
                    });
                }
                at = end.max(at + 1);
            }
            _ => at += 1,
        }
    }
    Ok(strings)
}

/// Where the number token starting at `from` ends (its grammar is checked by the parser
/// that follows; this only needs its extent).
fn number_end(body: &[u8], from: usize) -> usize {
    let mut end = from;
    while end < body.len() && matches!(body[end], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
        end += 1;
    }
    end
}

/// The key of the innermost object member the current value sits in.
fn nearest_key<'s>(stack: &'s [Frame<'_>]) -> Option<&'s str> {
    stack.iter().rev().find_map(|frame| match frame {
        Frame::Object { current, .. } => Some(current.as_deref().unwrap_or_default()),
        Frame::Array { .. } => None,
    })
}

fn next_significant(body: &[u8], from: usize) -> Option<u8> {
    body[from.min(body.len())..]
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

/// The string starting at the quote at `start`, decoded, and the index after its closing
/// quote; `None` when it never closes or an escape is bad (not JSON).
fn read_string(text: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let body = text.as_bytes();
    let mut at = start + 1;
    let run_start = at;
    // Most strings have no escapes: borrow the run and decode only when one appears.
    at += memchr::memchr2(b'"', b'\\', body.get(at..)?).unwrap_or(body.len() - at);
    if body.get(at) == Some(&b'"') {
        // Quotes are ASCII, so both ends are character boundaries.
        return Some((Cow::Borrowed(text.get(run_start..at)?), at + 1));
    }
    let mut out: Vec<u8> = body[run_start..at].to_vec();
    while at < body.len() {
        match body[at] {
            b'"' => return Some((Cow::Owned(String::from_utf8(out).ok()?), at + 1)),
            b'\\' => {
                let escape = *body.get(at + 1)?;
                at += 2;
                match escape {
                    b'u' => {
                        let hex = std::str::from_utf8(body.get(at..at + 4)?).ok()?;
                        let unit = u32::from_str_radix(hex, 16).ok()?;
                        at += 4;
                        let code = if (0xd800..0xdc00).contains(&unit)
                            && body.get(at..at + 2) == Some(b"\\u")
                        {
                            let low = std::str::from_utf8(body.get(at + 2..at + 6)?).ok()?;
                            let low = u32::from_str_radix(low, 16).ok()?;
                            at += 6;
                            0x10000 + ((unit - 0xd800) << 10) + (low.wrapping_sub(0xdc00) & 0x3ff)
                        } else {
                            unit
                        };
                        let c = char::from_u32(code).unwrap_or('\u{fffd}');
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    other => out.push(other),
                }
            }
            _ => {
                // The run up to the next quote or escape, in one copy.
                let run = memchr::memchr2(b'"', b'\\', &body[at..]).unwrap_or(body.len() - at);
                out.extend_from_slice(&body[at..at + run]);
                at += run;
            }
        }
    }
    None
}

fn pointer_of(stack: &[Frame<'_>]) -> String {
    let mut pointer = String::new();
    for frame in stack {
        match frame {
            Frame::Object {
                current: Some(key), ..
            } => push_token(&mut pointer, key),
            Frame::Object { current: None, .. } => {}
            Frame::Array { index } => push_index(&mut pointer, *index),
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn duplicate(body: &str) -> Option<String> {
        match check_document(body.as_bytes()) {
            Err(DocumentError::DuplicateKey { pointer }) => Some(pointer),
            _ => None,
        }
    }

    #[test]
    fn duplicate_keys_anywhere_are_named() {
        // See: #15 (finding 4)
        assert_eq!(
            duplicate(r#"{"max_tokens":1,"model":"m","max_tokens":100000}"#).as_deref(),
            Some("/max_tokens")
        );
        assert_eq!(
            duplicate(r#"{"messages":[{"role":"user","content":"a"},{"content":"x","role":"user","content":"y"}]}"#)
                .as_deref(),
            Some("/messages/1/content")
        );
        // An escaped spelling is the same key to every parser.
        assert_eq!(
            duplicate(r#"{"max_tokens":1,"max\u005ftokens":2}"#).as_deref(),
            Some("/max_tokens")
        );
        // The same key in sibling objects, or as a string value, is fine.
        assert_eq!(
            duplicate(r#"{"a":{"k":1},"b":{"k":2},"c":"a","d":["a","a"]}"#),
            None
        );
        assert_eq!(duplicate(r#"{"a":"x,\"a\":y","b":1}"#), None);
    }

    #[test]
    fn depth_counts_every_field() {
        // See: #15 (finding 5)
        let deep = format!(
            r#"{{"model":"m","unread":{}1{}}}"#,
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(matches!(
            check_document(deep.as_bytes()),
            Err(DocumentError::TooDeep { .. })
        ));
        let fine = format!("{}1{}", "[".repeat(127), "]".repeat(127));
        assert_eq!(check_document(fine.as_bytes()), Ok(()));
    }

    #[test]
    fn large_objects_are_checked_by_hash() {
        let members: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\":{i}")).collect();
        let body = format!("{{{}}}", members.join(","));
        assert_eq!(check_document(body.as_bytes()), Ok(()));
        let body = format!("{{{},\"k49999\":0}}", members.join(","));
        assert_eq!(
            check_document(body.as_bytes()),
            Err(DocumentError::DuplicateKey {
                pointer: "/k49999".into()
            })
        );
    }

    #[test]
    fn agrees_with_serde_on_keys() {
        let body = r#"{"a\"b":1,"é\ud83d\ude00":2,"x":{"y":[{"z":null}]}}"#;
        assert_eq!(check_document(body.as_bytes()), Ok(()));
        let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(parsed.get("é😀").is_some());
    }

    #[test]
    fn strings_come_with_their_pointers() {
        let body = r#"{"model":"m","messages":[{"role":"user","name":"ada@example.org","content":"hi"}],"stop":["x"]}"#;
        let skip = |key: &str| matches!(key, "model" | "role");
        let found: Vec<String> = read_document(body, &skip)
            .unwrap()
            .into_iter()
            .map(|f| format!("{}={}", f.pointer, f.text))
            .collect();
        assert_eq!(
            found,
            [
                "/messages/0/name=ada@example.org",
                "/messages/0/content=hi",
                "/stop/0=x"
            ]
        );
    }

    #[test]
    fn numbers_no_float_can_hold_are_refused_with_their_pointer() {
        assert_eq!(
            check_document(br#"{"a":[1,{"b":1e92222}]}"#),
            Err(DocumentError::NumberOutOfRange {
                pointer: "/a/1/b".into()
            })
        );
        assert_eq!(
            check_document(br#"{"a":-1e400}"#),
            Err(DocumentError::NumberOutOfRange {
                pointer: "/a".into()
            })
        );
        for fine in [
            &br#"{"a":1e300,"b":-0.5,"c":1e-400,"d":"1e999"}"#[..],
            b"[12345678901234567890]",
        ] {
            assert_eq!(check_document(fine), Ok(()));
        }
    }

    #[test]
    fn hostile_bytes_do_not_panic() {
        for body in [
            "\"",
            "{\"",
            "{\"a\\",
            "{\"\\u12",
            "{\"\\ud800\\u",
            "}}]]",
            "{\"a\":1,\"a\"",
        ] {
            let _ = check_document(body.as_bytes());
        }
    }
}
