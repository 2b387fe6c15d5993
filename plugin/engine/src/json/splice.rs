//! Rewrites one top-level member of a JSON object in place, leaving every other byte as the
//! client sent it (re-serialising would reorder keys and change formatting).

/// The body with the top-level `key`'s numeric value replaced by `value`, or `None` if the
/// body is not an object with such a number.
pub fn replace_top_level_number(body: &[u8], key: &str, value: u64) -> Option<Vec<u8>> {
    let (start, end) = top_level_value(body, key)?;
    let number = body[start..end]
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    number.then(|| splice(body, start, end, value.to_string().as_bytes()))
}

/// The body with the top-level `key`'s string value replaced by `value`, or `None` if the
/// body is not an object with such a string.
pub fn replace_top_level_string(body: &[u8], key: &str, value: &str) -> Option<Vec<u8>> {
    let (start, end) = top_level_value(body, key)?;
    if body.get(start) != Some(&b'"') {
        return None;
    }
    Some(splice(
        body,
        start,
        end,
        serde_json::to_string(value).ok()?.as_bytes(),
    ))
}

/// Where the value of the top-level member `key` starts and ends, when the body is an object
/// that has it.
fn top_level_value(body: &[u8], key: &str) -> Option<(usize, usize)> {
    let mut scan = Scanner { bytes: body, at: 0 };
    scan.skip_ws();
    scan.expect(b'{')?;
    loop {
        scan.skip_ws();
        if scan.peek()? == b'}' {
            return None;
        }
        let name = scan.string()?;
        scan.skip_ws();
        scan.expect(b':')?;
        scan.skip_ws();
        let start = scan.at;
        scan.value()?;
        if name == key.as_bytes() {
            return Some((start, scan.at));
        }
        scan.skip_ws();
        match scan.next()? {
            b',' => continue,
            _ => return None,
        }
    }
}

/// `body` with `start..end` replaced by `with`.
fn splice(body: &[u8], start: usize, end: usize, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + with.len());
    out.extend_from_slice(&body[..start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&body[end..]);
    out
}

/// The body with `"key":value_json` added as the object's first member, or `None` if the
/// body is not an object. The caller makes sure `key` is not there already.
pub fn insert_top_level(body: &[u8], key: &str, value_json: &str) -> Option<Vec<u8>> {
    let mut scan = Scanner { bytes: body, at: 0 };
    scan.skip_ws();
    scan.expect(b'{')?;
    let open = scan.at;
    scan.skip_ws();
    let empty = scan.peek()? == b'}';
    let mut out = Vec::with_capacity(body.len() + key.len() + value_json.len() + 4);
    out.extend_from_slice(&body[..open]);
    out.extend_from_slice(serde_json::to_string(key).ok()?.as_bytes());
    out.push(b':');
    out.extend_from_slice(value_json.as_bytes());
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(&body[open..]);
    Some(out)
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string's raw bytes between the quotes (escapes left as they are).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            match self.next()? {
                b'\\' => {
                    self.next()?;
                }
                b'"' => return Some(&self.bytes[start..self.at - 1]),
                _ => {}
            }
        }
    }

    /// Skips one value of any kind; nesting is tracked with a counter, not recursion.
    fn value(&mut self) -> Option<()> {
        let mut depth = 0usize;
        loop {
            self.skip_ws();
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                b'{' | b'[' => {
                    self.at += 1;
                    depth += 1;
                    continue;
                }
                b'}' | b']' if depth > 0 => {
                    self.at += 1;
                    depth -= 1;
                }
                b',' | b':' if depth > 0 => {
                    self.at += 1;
                    continue;
                }
                _ => {
                    let start = self.at;
                    while matches!(self.peek(), Some(b) if !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    {
                        self.at += 1;
                    }
                    if self.at == start {
                        return None;
                    }
                }
            }
            if depth == 0 {
                return Some(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{insert_top_level, replace_top_level_number, replace_top_level_string};

    #[test]
    fn replaces_strings_and_inserts_members_leaving_the_rest() {
        let body = r#"{"messages":[{"model":"inner"}], "model" : "gpt-4o" ,"n":1}"#;
        let out = replace_top_level_string(body.as_bytes(), "model", "gpt-4o-2024-08-06").unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"messages":[{"model":"inner"}], "model" : "gpt-4o-2024-08-06" ,"n":1}"#
        );
        assert_eq!(
            replace_top_level_string(br#"{"model":3}"#, "model", "x"),
            None
        );
        assert_eq!(
            replace_top_level_string(br#"{"m":"a"}"#, "model", "x"),
            None
        );
        let quoted = replace_top_level_string(br#"{"model":"a"}"#, "model", "q\"x").unwrap();
        assert_eq!(quoted, br#"{"model":"q\"x"}"#);
        assert_eq!(
            insert_top_level(b" {} ", "a", "1").unwrap(),
            br#" {"a":1} "#
        );
        assert_eq!(
            insert_top_level(br#"{"b":2}"#, "a", "1").unwrap(),
            br#"{"a":1,"b":2}"#
        );
        assert_eq!(insert_top_level(b"[]", "a", "1"), None);
    }

    #[test]
    fn replaces_only_the_top_level_value() {
        let cases: [(&str, Option<&str>); 7] = [
            (
                r#"{"max_tokens": 9000, "model":"m"}"#,
                Some(r#"{"max_tokens": 100, "model":"m"}"#),
            ),
            (
                r#"{"a":{"max_tokens":1},"b":[1,{"c":"}"}],"max_tokens":500}"#,
                Some(r#"{"a":{"max_tokens":1},"b":[1,{"c":"}"}],"max_tokens":100}"#),
            ),
            (
                "{\n  \"x\": \"q\\\"\",\n  \"max_tokens\" :\t7e3\n}",
                Some("{\n  \"x\": \"q\\\"\",\n  \"max_tokens\" :\t100\n}"),
            ),
            (r#"{"max_tokens":"9000"}"#, None),
            (r#"{"other":1}"#, None),
            (r#"[1,2]"#, None),
            (r#"{"max_tokens":"#, None),
        ];
        for (body, expected) in cases {
            let out = replace_top_level_number(body.as_bytes(), "max_tokens", 100);
            assert_eq!(out.as_deref(), expected.map(str::as_bytes), "{body}");
        }
    }
}
