//! A route's PII policy, compiled: the scanner with its custom entities, and the action for
//! each entity type or class in each direction (PSF DG-1).

use super::action::PiiAction;
use super::detect::{EntityClass, EntityKind, Scanner};
use std::sync::Arc;

/// Which way text is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// The prompt, on its way to the model.
    Request,
    /// The model's output, on its way to the client.
    Response,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Request => "request",
            Direction::Response => "response",
        }
    }
}

/// Actions for one direction: a type's own entry wins over its class's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionMap {
    pub by_type: Vec<(String, PiiAction)>,
    pub by_class: Vec<(EntityClass, PiiAction)>,
}

impl ActionMap {
    pub fn action(&self, type_name: &str, class: EntityClass) -> PiiAction {
        self.by_type
            .iter()
            .find(|(name, _)| name == type_name)
            .map(|(_, action)| *action)
            .or_else(|| {
                self.by_class
                    .iter()
                    .find(|(c, _)| *c == class)
                    .map(|(_, action)| *action)
            })
            .unwrap_or(PiiAction::Allow)
    }

    /// Whether any entity gets an action other than `allow`.
    pub fn acts(&self) -> bool {
        self.by_type
            .iter()
            .map(|(_, a)| a)
            .chain(self.by_class.iter().map(|(_, a)| a))
            .any(|a| *a != PiiAction::Allow)
    }

    /// The documented defaults for a direction (docs/policy.md, "PII and secrets").
    pub fn default_for(direction: Direction) -> Self {
        use EntityClass::*;
        use PiiAction::*;
        let by_class = match direction {
            Direction::Request => vec![
                (Contact, Placeholder),
                (Financial, Placeholder),
                (GovernmentId, Placeholder),
                (Credential, Placeholder),
                (Network, Allow),
                (Custom, Placeholder),
            ],
            Direction::Response => vec![
                (Contact, Redact),
                (Financial, Partial),
                (GovernmentId, Redact),
                (Credential, Redact),
                (Network, Allow),
                (Custom, Redact),
            ],
        };
        Self {
            by_type: Vec::new(),
            by_class,
        }
    }
}

/// The compiled PII settings of a route.
#[derive(Clone)]
pub struct PiiSettings {
    pub scanner: Arc<Scanner>,
    pub request: ActionMap,
    pub response: ActionMap,
    /// Placeholders and pseudonyms the model echoes are put back in the response.
    pub restore: bool,
    /// The HMAC key for `pseudonymize`; never logged, never printed.
    pub pseudonym_key: Option<Vec<u8>>,
    /// The settings as written, which is what makes two of them equal.
    pub source: String,
}

impl PiiSettings {
    pub fn actions(&self, direction: Direction) -> &ActionMap {
        match direction {
            Direction::Request => &self.request,
            Direction::Response => &self.response,
        }
    }

    /// The action for an entity of `kind` going `direction`.
    pub fn action(&self, direction: Direction, kind: EntityKind) -> PiiAction {
        self.actions(direction)
            .action(self.scanner.name(kind), self.scanner.class(kind))
    }

    /// Whether responses need reading: to mask entities or to restore placeholders.
    pub fn reads_responses(&self) -> bool {
        self.restore || self.response.acts()
    }
}

impl PartialEq for PiiSettings {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for PiiSettings {}

/// Without the key: settings end up in debug output and logs.
impl std::fmt::Debug for PiiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiiSettings")
            .field("request", &self.request)
            .field("response", &self.response)
            .field("restore", &self.restore)
            .field(
                "pseudonym_key",
                &self.pseudonym_key.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}
