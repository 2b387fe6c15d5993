//! The one reading of a JSON request body (PSF IG-2): the body is parsed here once, and
//! every reader of the request (the format readers, limits, detection, masking, clamps and
//! the rewrite) works on the tree this returns, never on the bytes again.
//!
//! Parsers disagree on duplicate keys: serde's typed readers refuse them, `Value` keeps the
//! last, some upstreams keep the first. A body with `"max_tokens"` twice would be clamped in
//! one place and read in another, so a duplicate key anywhere refuses the body with its JSON
//! pointer. So does nesting past [`MAX_DEPTH`], and a number no 64-bit float can hold
//! (`1e999`), which an upstream may read as infinity. Otherwise the grammar is serde_json's:
//! the two accept the same bodies (the `json_rewrite` fuzz target checks it), and serde_json
//! is asked only to word the error for a body this refuses as not JSON.
//!
//! The tree keeps each value's byte span, so a change is spliced into the bytes as sent:
//! re-serialising would reorder keys and change number formatting.

use crate::llm::{push_index, push_token};
use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::Range;

/// Deepest nesting accepted: serde_json's recursion limit of 128 refuses the 128th level,
/// and the two parsers accept the same bodies.
pub const MAX_DEPTH: usize = 127;

/// Why a document is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// The object at `pointer`'s parent has the key twice; `pointer` names it.
    DuplicateKey { pointer: String },
    /// Nesting deeper than [`MAX_DEPTH`] at `pointer`.
    TooDeep { pointer: String },
    /// A number at `pointer` beyond the range of a 64-bit float.
    NumberOutOfRange { pointer: String },
    /// Not JSON at byte `at`.
    NotJson { at: usize },
}

/// A parsed document: its values in document order, each subtree contiguous.
#[derive(Debug)]
pub struct Document<'a> {
    text: &'a str,
    nodes: Vec<Node<'a>>,
}

#[derive(Debug)]
struct Node<'a> {
    value: Scalar<'a>,
    /// The member's key when the parent is an object.
    key: Option<Cow<'a, str>>,
    /// Position among the parent's children.
    index: usize,
    parent: Option<usize>,
    /// The value's bytes (quotes and brackets included).
    start: usize,
    end: usize,
    /// The node after this one's subtree.
    after: usize,
}

#[derive(Debug)]
enum Scalar<'a> {
    Null,
    Bool(bool),
    Number(&'a str),
    String(Cow<'a, str>),
    Array,
    Object,
}

/// What a value is, for readers to `match` on.
#[derive(Debug, Clone, Copy)]
pub enum Shape<'d> {
    Null,
    Bool(bool),
    /// The number as written.
    Number(&'d str),
    String(&'d str),
    Array(Json<'d>),
    Object(Json<'d>),
}

/// One value of a [`Document`].
#[derive(Debug, Clone, Copy)]
pub struct Json<'d> {
    doc: &'d Document<'d>,
    at: usize,
}

/// A string value with its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringField<'d> {
    pub pointer: String,
    pub text: &'d str,
}

#[cfg(debug_assertions)]
thread_local! {
    static PARSES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many documents this thread has parsed (debug builds only; release builds count
/// nothing and return 0). Tests read it to prove a request body is parsed once.
pub fn parses() -> u64 {
    #[cfg(debug_assertions)]
    {
        PARSES.with(std::cell::Cell::get)
    }
    #[cfg(not(debug_assertions))]
    {
        0
    }
}

impl<'a> Document<'a> {
    /// Parses `text`, refusing duplicate keys, hostile depth and infinite numbers.
    pub fn parse(text: &'a str) -> Result<Self, DocumentError> {
        Self::parse_with(text, true)
    }

    /// [`Document::parse`], reading a repeated key instead of refusing it: for the
    /// upstream's answers, which serde_json reads the same way.
    pub fn parse_keeping_duplicates(text: &'a str) -> Result<Self, DocumentError> {
        Self::parse_with(text, false)
    }

    fn parse_with(text: &'a str, refuse_duplicates: bool) -> Result<Self, DocumentError> {
        #[cfg(debug_assertions)]
        PARSES.with(|n| n.set(n.get() + 1));
        Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
            nodes: Vec::new(),
            open: Vec::new(),
            refuse_duplicates,
        }
        .run()
    }

    /// The top-level value.
    pub fn root(&self) -> Json<'_> {
        Json { doc: self, at: 0 }
    }

    /// The text the document was parsed from.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Every string value whose nearest key `skip` does not name (ids, roles, types: the
    /// protocol's own words), in document order.
    pub fn strings<'d>(&'d self, skip: &dyn Fn(&str) -> bool) -> Vec<StringField<'d>> {
        let mut out = Vec::new();
        for (at, node) in self.nodes.iter().enumerate() {
            let Scalar::String(text) = &node.value else {
                continue;
            };
            if self.nearest_key(at).is_some_and(skip) {
                continue;
            }
            out.push(StringField {
                pointer: self.pointer(at),
                text,
            });
        }
        out
    }

    /// Every string value with its pointer, in document order.
    pub fn string_values(&self) -> impl Iterator<Item = (String, Json<'_>)> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| matches!(node.value, Scalar::String(_)))
            .map(move |(at, _)| (self.pointer(at), Json { doc: self, at }))
    }

    /// The key of the innermost object member the value at `at` sits in.
    fn nearest_key(&self, mut at: usize) -> Option<&str> {
        loop {
            let node = &self.nodes[at];
            if let Some(key) = &node.key {
                return Some(key);
            }
            at = node.parent?;
        }
    }

    fn pointer(&self, at: usize) -> String {
        pointer_of(&self.nodes, at)
    }
}

impl<'d> Json<'d> {
    fn node(&self) -> &'d Node<'d> {
        &self.doc.nodes[self.at]
    }

    pub fn shape(self) -> Shape<'d> {
        match &self.node().value {
            Scalar::Null => Shape::Null,
            Scalar::Bool(b) => Shape::Bool(*b),
            Scalar::Number(raw) => Shape::Number(raw),
            Scalar::String(text) => Shape::String(text),
            Scalar::Array => Shape::Array(self),
            Scalar::Object => Shape::Object(self),
        }
    }

    pub fn is_null(self) -> bool {
        matches!(self.node().value, Scalar::Null)
    }

    pub fn is_object(self) -> bool {
        matches!(self.node().value, Scalar::Object)
    }

    pub fn as_str(self) -> Option<&'d str> {
        match &self.node().value {
            Scalar::String(text) => Some(text),
            _ => None,
        }
    }

    /// The value as serde_json reads a `u64`: an integer literal that fits.
    pub fn as_u64(self) -> Option<u64> {
        match self.node().value {
            Scalar::Number(raw) if raw.bytes().all(|b| b.is_ascii_digit()) => raw.parse().ok(),
            _ => None,
        }
    }

    /// The children of an array or object, in document order (none for a scalar).
    pub fn children(self) -> impl Iterator<Item = Json<'d>> {
        let node = self.node();
        let doc = self.doc;
        let mut next = self.at + 1;
        let end = if matches!(node.value, Scalar::Array | Scalar::Object) {
            node.after
        } else {
            next
        };
        std::iter::from_fn(move || {
            (next < end).then(|| {
                let child = Json { doc, at: next };
                next = doc.nodes[next].after;
                child
            })
        })
    }

    /// The members of an object with their keys (none for anything else).
    pub fn members(self) -> impl Iterator<Item = (&'d str, Json<'d>)> {
        let object = self.is_object();
        self.children()
            .filter(move |_| object)
            .map(|child| (child.node().key.as_deref().unwrap_or_default(), child))
    }

    pub fn len(self) -> usize {
        self.children().count()
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// The member `key` of an object.
    pub fn get(self, key: &str) -> Option<Json<'d>> {
        self.members().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The element `index` of an array.
    pub fn item(self, index: usize) -> Option<Json<'d>> {
        match self.node().value {
            Scalar::Array => self.children().nth(index),
            _ => None,
        }
    }

    /// The value at `pointer` (RFC 6901) below this one.
    pub fn pointer(self, pointer: &str) -> Option<Json<'d>> {
        if pointer.is_empty() {
            return Some(self);
        }
        let mut at = self;
        for token in pointer.strip_prefix('/')?.split('/') {
            let token = token.replace("~1", "/").replace("~0", "~");
            at = match at.node().value {
                Scalar::Object => at.get(&token)?,
                Scalar::Array => at.item(token.parse().ok()?)?,
                _ => return None,
            };
        }
        Some(at)
    }

    /// The value's JSON pointer.
    pub fn location(self) -> String {
        self.doc.pointer(self.at)
    }

    /// The value's bytes in the document.
    pub fn span(self) -> Range<usize> {
        let node = self.node();
        node.start..node.end
    }

    /// The value's JSON as sent.
    pub fn raw(self) -> &'d str {
        &self.doc.text[self.span()]
    }

    /// The value as a `serde_json::Value`, built from the tree (numbers from their text).
    pub fn to_value(self) -> serde_json::Value {
        use serde_json::Value;
        match self.shape() {
            Shape::Null => Value::Null,
            Shape::Bool(b) => Value::Bool(b),
            Shape::Number(raw) => raw
                .parse::<serde_json::Number>()
                .map_or(Value::Null, Value::Number),
            Shape::String(text) => Value::String(text.to_string()),
            Shape::Array(_) => Value::Array(self.children().map(Json::to_value).collect()),
            Shape::Object(_) => Value::Object(
                self.members()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

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
struct Open<'a> {
    node: usize,
    /// Keys seen so far; `None` for an array.
    keys: Option<Keys<'a>>,
    /// Children completed so far.
    count: usize,
}

/// An iterative parser: no recursion, so depth costs heap, not stack.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    nodes: Vec<Node<'a>>,
    open: Vec<Open<'a>>,
    refuse_duplicates: bool,
}

impl<'a> Parser<'a> {
    fn run(mut self) -> Result<Document<'a>, DocumentError> {
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

/// The JSON pointer of node `at`, from its chain of parents.
fn pointer_of(nodes: &[Node<'_>], at: usize) -> String {
    let mut chain = Vec::new();
    let mut next = Some(at);
    while let Some(i) = next {
        if nodes[i].parent.is_some() {
            chain.push(i);
        }
        next = nodes[i].parent;
    }
    let mut pointer = String::new();
    for &i in chain.iter().rev() {
        match &nodes[i].key {
            Some(key) => push_token(&mut pointer, key),
            None => push_index(&mut pointer, nodes[i].index),
        }
    }
    pointer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_document(body: &[u8]) -> Result<(), DocumentError> {
        Document::parse(std::str::from_utf8(body).unwrap()).map(|_| ())
    }

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
        // serde_json refuses the 128th level, and so does the document.
        let over = format!("{}1{}", "[".repeat(128), "]".repeat(128));
        assert!(serde_json::from_str::<serde_json::Value>(&over).is_err());
        assert!(matches!(
            check_document(over.as_bytes()),
            Err(DocumentError::TooDeep { .. })
        ));
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
        let document = Document::parse(body).unwrap();
        let found: Vec<String> = document
            .strings(&skip)
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
            assert!(matches!(
                check_document(body.as_bytes()),
                Err(DocumentError::NotJson { .. } | DocumentError::DuplicateKey { .. })
            ));
        }
    }

    /// The grammar is serde_json's: what one refuses, so does the other.
    #[test]
    fn agrees_with_serde_on_what_is_json() {
        for body in [
            "",
            " ",
            "{",
            "{}x",
            "[1,]",
            "[,1]",
            r#"{"a":}"#,
            r#"{"a" 1}"#,
            r#"{"a":1,}"#,
            "{1:2}",
            "01",
            "1.",
            ".5",
            "-",
            "1e",
            "1e+",
            "+1",
            "tru",
            "nul",
            r#""\u00""#,
            r#""\x""#,
            "\"a\u{1}\"",
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            "\"tab\there\"",
            r#""\t""#,
            "[1 2]",
            r#"{"a":1 "b":2}"#,
            "NaN",
            "Infinity",
            "[-0, 0.5e-3, 1E+2, -12]",
            r#""\ud83d\ude00""#,
            r#""\/\b\f""#,
            r#"  {"a" : [ true , false , null ] }  "#,
            r#""""#,
        ] {
            let ours = Document::parse(body).is_ok();
            let theirs = serde_json::from_str::<serde_json::Value>(body).is_ok();
            assert_eq!(ours, theirs, "{body:?}");
        }
    }

    #[test]
    fn answers_may_repeat_a_key() {
        let body = r#"{"a":"x","a":"y"}"#;
        assert!(Document::parse(body).is_err());
        let document = Document::parse_keeping_duplicates(body).unwrap();
        assert_eq!(document.strings(&|_| false).len(), 2);
    }

    #[test]
    fn values_keep_their_spans_and_shapes() {
        let body = r#"{"model":"m","n":2,"max_tokens":1.0,"messages":[{"content":"a\nb"}],"x":-3}"#;
        let document = Document::parse(body).unwrap();
        let root = document.root();
        assert_eq!(root.get("model").unwrap().raw(), "\"m\"");
        assert_eq!(root.get("n").and_then(Json::as_u64), Some(2));
        assert_eq!(root.get("max_tokens").and_then(Json::as_u64), None);
        assert_eq!(root.get("x").and_then(Json::as_u64), None);
        let content = root.pointer("/messages/0/content").unwrap();
        assert_eq!(content.as_str(), Some("a\nb"));
        assert_eq!(content.raw(), r#""a\nb""#);
        assert_eq!(root.get("messages").unwrap().len(), 1);
        assert_eq!(root.span(), 0..body.len());
        assert_eq!(
            root.to_value(),
            serde_json::from_str::<serde_json::Value>(body).unwrap()
        );
    }
}
