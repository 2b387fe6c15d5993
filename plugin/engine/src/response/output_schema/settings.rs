//! A route's output-schema settings, compiled, and the check of a complete answer.

use super::answer::answer_parts;
use super::compile::Schema;
use super::validate::Violation;
use serde_json::Value;

/// What a violation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaAction {
    /// 502 `output_schema_violation` (or the stream's error event).
    Block,
    /// Recorded; the answer passes.
    Flag,
}

/// The output contract of a route.
#[derive(Debug, Clone)]
pub struct OutputSchema {
    /// The assistant text must be JSON (a schema implies it).
    pub json: bool,
    pub content: Option<Schema>,
    /// Schemas for the arguments of named tools.
    pub tools: Vec<(String, Schema)>,
    /// The most characters of assistant text an answer may have.
    pub max_chars: Option<usize>,
    pub action: SchemaAction,
    /// The settings as written, which is what makes two of them equal.
    pub source: String,
}

impl PartialEq for OutputSchema {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for OutputSchema {}

impl OutputSchema {
    /// The first place one assistant text (`at` names it) breaks the contract: its length,
    /// whether it is JSON, and the content schema.
    pub fn check_text(&self, at: &str, text: &str) -> Option<Violation> {
        if let Some(max) = self.max_chars {
            let length = text.chars().count();
            if length > max {
                return Some(Violation {
                    pointer: at.to_string(),
                    reason: format!("the answer has {length} characters, over the limit of {max}"),
                });
            }
        }
        if !self.json && self.content.is_none() {
            return None;
        }
        let Ok(value) = serde_json::from_str::<Value>(text) else {
            return Some(Violation {
                pointer: at.to_string(),
                reason: "the answer is not JSON".into(),
            });
        };
        match self.content.as_ref().map(|s| s.check(&value)) {
            Some(Err(violation)) => Some(Violation {
                pointer: format!("{at}{}", violation.pointer),
                reason: violation.reason,
            }),
            _ => None,
        }
    }

    /// The first place a complete answer breaks the contract: where (a JSON pointer into
    /// the body, then into the checked JSON) and why.
    pub fn check(&self, body: &Value) -> Option<Violation> {
        let (texts, calls) = answer_parts(body);
        for (at, text) in &texts {
            if let Some(violation) = self.check_text(at, text) {
                return Some(violation);
            }
        }
        for call in &calls {
            let Some((_, schema)) = self.tools.iter().find(|(name, _)| *name == call.name) else {
                continue;
            };
            let Some(arguments) = &call.arguments else {
                return Some(Violation {
                    pointer: call.pointer.clone(),
                    reason: format!("the arguments of tool {:?} are not JSON", call.name),
                });
            };
            if let Err(violation) = schema.check(arguments) {
                return Some(Violation {
                    pointer: format!("{}{}", call.pointer, violation.pointer),
                    reason: format!("tool {:?}: {}", call.name, violation.reason),
                });
            }
        }
        None
    }
}
