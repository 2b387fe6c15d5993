//! Rewrites string values of a JSON document in place, by JSON pointer. Every byte outside
//! the changed strings stays as it was sent: re-serialising would reorder keys, change number
//! formatting and turn a masked request into a diff far larger than the masking itself.

use crate::llm::{push_index, push_token};

/// Deeper documents are refused rather than walked (serde_json's own limit is 128).
const MAX_DEPTH: usize = 256;

/// Why a document could not be walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJson;

/// Walks `body` and offers every string value whose pointer `select` accepts to `change`,
/// which returns the new text or `None` to keep it. Returns `Ok(None)` when nothing changed,
/// so an untouched body can be forwarded as the very same bytes.
pub fn rewrite_strings(
    body: &[u8],
    select: &dyn Fn(&str) -> bool,
    change: &mut dyn FnMut(&str, &str) -> Option<String>,
) -> Result<Option<Vec<u8>>, NotJson> {
    let mut walk = Walk {
        bytes: body,
        at: 0,
        pointer: String::new(),
        out: Vec::new(),
        copied: 0,
        select,
        change,
    };
    walk.skip_ws();
    walk.value(0)?;
    walk.skip_ws();
    if walk.at != body.len() {
        return Err(NotJson);
    }
    if walk.copied == 0 {
        return Ok(None);
    }
    walk.out.extend_from_slice(&body[walk.copied..]);
    Ok(Some(walk.out))
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

struct Walk<'a, 'f> {
    bytes: &'a [u8],
    at: usize,
    /// Pointer of the value being read.
    pointer: String,
    /// The rewritten document up to `copied`.
    out: Vec<u8>,
    copied: usize,
    select: &'f dyn Fn(&str) -> bool,
    change: &'f mut dyn FnMut(&str, &str) -> Option<String>,
}

impl Walk<'_, '_> {
    fn peek(&self) -> Result<u8, NotJson> {
        self.bytes.get(self.at).copied().ok_or(NotJson)
    }

    fn skip_ws(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), NotJson> {
        self.skip_ws();
        if self.peek()? != byte {
            return Err(NotJson);
        }
        self.at += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), NotJson> {
        if depth > MAX_DEPTH {
            return Err(NotJson);
        }
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string_value(),
            _ => {
                let start = self.at;
                while matches!(self.bytes.get(self.at), Some(b) if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'+' | b'.'))
                {
                    self.at += 1;
                }
                if self.at == start {
                    return Err(NotJson);
                }
                Ok(())
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), NotJson> {
        self.at += 1;
        self.skip_ws();
        if self.peek()? == b'}' {
            self.at += 1;
            return Ok(());
        }
        let base = self.pointer.len();
        loop {
            self.skip_ws();
            let (start, end) = self.raw_string()?;
            let key = decode(&self.bytes[start..end])?;
            push_token(&mut self.pointer, &key);
            self.expect(b':')?;
            self.value(depth + 1)?;
            self.pointer.truncate(base);
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), NotJson> {
        self.at += 1;
        self.skip_ws();
        if self.peek()? == b']' {
            self.at += 1;
            return Ok(());
        }
        let base = self.pointer.len();
        let mut index = 0usize;
        loop {
            push_index(&mut self.pointer, index);
            self.value(depth + 1)?;
            self.pointer.truncate(base);
            index += 1;
            self.skip_ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Ok(());
                }
                _ => return Err(NotJson),
            }
        }
    }

    fn string_value(&mut self) -> Result<(), NotJson> {
        let (start, end) = self.raw_string()?;
        if !(self.select)(&self.pointer) {
            return Ok(());
        }
        let text = decode(&self.bytes[start..end])?;
        if let Some(new) = (self.change)(&self.pointer, &text) {
            let quoted = serde_json::to_string(&new).map_err(|_| NotJson)?;
            // Replace from the opening quote to the closing one.
            self.out
                .extend_from_slice(&self.bytes[self.copied..start - 1]);
            self.out.extend_from_slice(quoted.as_bytes());
            self.copied = end + 1;
        }
        Ok(())
    }

    /// The bytes between a string's quotes, escapes left as they are.
    fn raw_string(&mut self) -> Result<(usize, usize), NotJson> {
        if self.peek()? != b'"' {
            return Err(NotJson);
        }
        self.at += 1;
        let start = self.at;
        loop {
            match self.peek()? {
                b'\\' => self.at += 2,
                b'"' => {
                    self.at += 1;
                    return Ok((start, self.at - 1));
                }
                _ => self.at += 1,
            }
        }
    }
}

/// A JSON string's text from its raw bytes, `\u0040`-style escapes included.
fn decode(raw: &[u8]) -> Result<String, NotJson> {
    if !raw.contains(&b'\\') {
        return std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|_| NotJson);
    }
    let mut quoted = Vec::with_capacity(raw.len() + 2);
    quoted.push(b'"');
    quoted.extend_from_slice(raw);
    quoted.push(b'"');
    serde_json::from_slice(&quoted).map_err(|_| NotJson)
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
