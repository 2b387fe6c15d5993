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

mod parser;

use crate::llm::{push_index, push_token};
use parser::Parser;
use std::borrow::Cow;
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
    pub(super) text: &'a str,
    pub(super) nodes: Vec<Node<'a>>,
}

#[derive(Debug)]
pub(super) struct Node<'a> {
    pub(super) value: Scalar<'a>,
    /// The member's key when the parent is an object.
    pub(super) key: Option<Cow<'a, str>>,
    /// Position among the parent's children.
    pub(super) index: usize,
    pub(super) parent: Option<usize>,
    /// The value's bytes (quotes and brackets included).
    pub(super) start: usize,
    pub(super) end: usize,
    /// The node after this one's subtree.
    pub(super) after: usize,
}

#[derive(Debug)]
pub(super) enum Scalar<'a> {
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
mod tests;
