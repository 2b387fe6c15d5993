//! The parser of [`super::Document`]: iterative, so depth costs heap, not stack, and
//! strict, so it accepts what serde_json accepts and nothing else.

use super::{pointer_of, Document, DocumentError, Node, Scalar, MAX_DEPTH};
use crate::llm::push_token;
use std::borrow::Cow;
use std::collections::HashSet;

/// The keys of one open object: a short list, or a hash set once the object is large, so an
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

/// An array or object being read.
pub(super) struct Open<'a> {
    node: usize,
    /// Keys seen so far; `None` for an array.
    keys: Option<Keys<'a>>,
    /// Children completed so far.
    count: usize,
}

/// An iterative parser: no recursion, so depth costs heap, not stack.
pub(super) struct Parser<'a> {
    pub(super) text: &'a str,
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
    pub(super) nodes: Vec<Node<'a>>,
    pub(super) open: Vec<Open<'a>>,
    pub(super) refuse_duplicates: bool,
}

impl<'a> Parser<'a> {
    pub(super) fn run(mut self) -> Result<Document<'a>, DocumentError> {
        let mut key: Option<Cow<'a, str>> = None;
        'value: loop {
            self.skip_ws();
            let start = self.at;
            let value = match self.peek()? {
                open @ (b'{' | b'[') => {
                    let node = self.push(Scalar::Array, key.take(), start);
                    if self.open.len() >= MAX_DEPTH {
                        return Err(DocumentError::TooDeep {
                            pointer: self.pointer(node),
                        });
                    }
                    let object = open == b'{';
                    if object {
                        self.nodes[node].value = Scalar::Object;
                    }
                    self.open.push(Open {
                        node,
                        keys: object.then(Keys::default),
                        count: 0,
                    });
                    self.at += 1;
                    self.skip_ws();
                    let close = if object { b'}' } else { b']' };
                    if self.peek()? != close {
                        if object {
                            key = Some(self.key()?);
                        }
                        continue 'value;
                    }
                    None
                }
                b'"' => Some(Scalar::String(self.string()?)),
                b't' => Some(self.literal("true", Scalar::Bool(true))?),
                b'f' => Some(self.literal("false", Scalar::Bool(false))?),
                b'n' => Some(self.literal("null", Scalar::Null)?),
                b'-' | b'0'..=b'9' => Some(Scalar::Number(self.number()?)),
                _ => return Err(self.not_json()),
            };
            if let Some(value) = value {
                let node = self.push(value, key.take(), start);
                self.nodes[node].end = self.at;
                self.nodes[node].after = node + 1;
                if matches!(self.nodes[node].value, Scalar::Number(_)) {
                    self.check_finite(node)?;
                }
            }
            // After a value: a comma and the next one, or the close of its container.
            loop {
                self.skip_ws();
                let Some(top) = self.open.last() else {
                    if self.at != self.bytes.len() {
                        return Err(self.not_json());
                    }
                    return Ok(Document {
                        text: self.text,
                        nodes: self.nodes,
                    });
                };
                let (object, node) = (top.keys.is_some(), top.node);
                match self.peek()? {
                    b',' => {
                        if let Some(top) = self.open.last_mut() {
                            top.count += 1;
                        }
                        self.at += 1;
                        if object {
                            self.skip_ws();
                            key = Some(self.key()?);
                        }
                        continue 'value;
                    }
                    b'}' if object => {}
                    b']' if !object => {}
                    _ => return Err(self.not_json()),
                }
                // The close of a container: its span ends here, its subtree with it.
                self.at += 1;
                self.open.pop();
                self.nodes[node].end = self.at;
                self.nodes[node].after = self.nodes.len();
            }
        }
    }

    /// Adds a node for the value starting at `start`; its end is set when it is complete.
    fn push(&mut self, value: Scalar<'a>, key: Option<Cow<'a, str>>, start: usize) -> usize {
        let (parent, index) = match self.open.last() {
            Some(open) => (Some(open.node), open.count),
            None => (None, 0),
        };
        self.nodes.push(Node {
            value,
            key,
            index,
            parent,
            start,
            end: start,
            after: 0,
        });
        self.nodes.len() - 1
    }

    /// A member's key and its colon; a repeated key is refused here, before its value.
    fn key(&mut self) -> Result<Cow<'a, str>, DocumentError> {
        if self.peek()? != b'"' {
            return Err(self.not_json());
        }
        let key = self.string()?;
        self.skip_ws();
        if self.peek()? != b':' {
            return Err(self.not_json());
        }
        self.at += 1;
        let top = self
            .open
            .last_mut()
            .ok_or(DocumentError::NotJson { at: self.at })?;
        let parent = top.node;
        let fresh = !self.refuse_duplicates
            || top
                .keys
                .as_mut()
                .is_some_and(|keys| keys.insert(key.clone()));
        if !fresh {
            let mut pointer = self.pointer(parent);
            push_token(&mut pointer, &key);
            return Err(DocumentError::DuplicateKey { pointer });
        }
        Ok(key)
    }

    fn peek(&self) -> Result<u8, DocumentError> {
        self.bytes
            .get(self.at)
            .copied()
            .ok_or(DocumentError::NotJson { at: self.at })
    }

    fn not_json(&self) -> DocumentError {
        DocumentError::NotJson { at: self.at }
    }

    fn skip_ws(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn literal(&mut self, word: &str, value: Scalar<'a>) -> Result<Scalar<'a>, DocumentError> {
        if !self.bytes[self.at..].starts_with(word.as_bytes()) {
            return Err(self.not_json());
        }
        self.at += word.len();
        Ok(value)
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, as written.
    fn number(&mut self) -> Result<&'a str, DocumentError> {
        let start = self.at;
        if self.bytes.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.not_json()),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            self.required_digits()?;
        }
        if matches!(self.bytes.get(self.at), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.bytes.get(self.at), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.required_digits()?;
        }
        Ok(&self.text[start..self.at])
    }

    fn digits(&mut self) {
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), DocumentError> {
        if !self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            return Err(self.not_json());
        }
        self.digits();
        Ok(())
    }

    fn check_finite(&self, node: usize) -> Result<(), DocumentError> {
        let Scalar::Number(raw) = self.nodes[node].value else {
            return Ok(());
        };
        // Integers of up to 300 digits are finite whatever they are; only exponents and
        // longer literals need the float parse.
        let plain = raw.len() < 300 && !raw.contains(['e', 'E']);
        if plain || raw.parse::<f64>().is_ok_and(f64::is_finite) {
            return Ok(());
        }
        Err(DocumentError::NumberOutOfRange {
            pointer: self.pointer(node),
        })
    }

    /// The string at the opening quote, decoded; borrowed unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, DocumentError> {
        let bytes = self.bytes;
        self.at += 1;
        let run_start = self.at;
        // Most strings have no escapes: borrow the run and decode only when one appears.
        self.string_run()?;
        if self.peek()? == b'"' {
            self.at += 1;
            // Quotes are ASCII, so both ends are character boundaries.
            return Ok(Cow::Borrowed(&self.text[run_start..self.at - 1]));
        }
        let mut out = String::from(&self.text[run_start..self.at]);
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    let escape = *bytes
                        .get(self.at + 1)
                        .ok_or(DocumentError::NotJson { at: self.at })?;
                    self.at += 2;
                    let c = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.not_json()),
                    };
                    out.push(c);
                }
                _ => {
                    let from = self.at;
                    self.string_run()?;
                    out.push_str(&self.text[from..self.at]);
                }
            }
        }
    }

    /// Moves to the next quote or backslash; a control character on the way is not JSON.
    fn string_run(&mut self) -> Result<(), DocumentError> {
        let rest = &self.bytes[self.at..];
        let length = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
        let run = &rest[..length];
        // No early exit, so it vectorises: strings are most of a request.
        if run.iter().fold(false, |seen, &b| seen | (b < 0x20)) {
            let first = run.iter().position(|&b| b < 0x20).unwrap_or(length);
            return Err(DocumentError::NotJson {
                at: self.at + first,
            });
        }
        self.at += length;
        Ok(())
    }

    /// The code point of `\uXXXX` (the `\u` already read), joining a surrogate pair; a
    /// lone surrogate is not JSON, as serde_json has it.
    fn unicode_escape(&mut self) -> Result<char, DocumentError> {
        let high = self.hex4()?;
        let code = match high {
            0xd800..=0xdbff => {
                if self.bytes.get(self.at..self.at + 2) != Some(b"\\u") {
                    return Err(self.not_json());
                }
                self.at += 2;
                let low = self.hex4()?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(self.not_json());
                }
                0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
            }
            0xdc00..=0xdfff => return Err(self.not_json()),
            code => code,
        };
        char::from_u32(code).ok_or(DocumentError::NotJson { at: self.at })
    }

    fn hex4(&mut self) -> Result<u32, DocumentError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit))
            .ok_or(DocumentError::NotJson { at: self.at })?;
        let value = digits
            .iter()
            .fold(0, |n, &d| n * 16 + char::from(d).to_digit(16).unwrap_or(0));
        self.at += 4;
        Ok(value)
    }

    /// The pointer of node `at`, while it is being read.
    fn pointer(&self, at: usize) -> String {
        pointer_of(&self.nodes, at)
    }
}
