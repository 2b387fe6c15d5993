//! Construction errors: why a policy document was refused, each with the field path.
//! Runtime outcomes (a request that breaks a rule) live in [`crate::rejection`].

use std::fmt;

/// One problem in a policy document, displayed as `path: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    path: String,
    kind: PolicyErrorKind,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The document is not JSON (or not UTF-8).
    Syntax(String),
    /// A required field is absent or null.
    Missing,
    /// A required text field is empty or only white space.
    Blank,
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    UnknownField {
        found: String,
        expected: Vec<&'static str>,
    },
    UnknownValue {
        what: &'static str,
        found: String,
        expected: Vec<&'static str>,
    },
    UnsupportedVersion(String),
    /// PSF EA-1: the owner must be a named person, not a team, role or vendor.
    OwnerNotAPerson {
        owner: String,
        word: &'static str,
    },
    InvalidSize(String),
    /// Any other invalid value, with the reason.
    Invalid(String),
    InvalidId(String),
    DuplicateId(String),
}

impl PolicyError {
    pub fn new(path: &str, kind: PolicyErrorKind) -> Self {
        let path = if path.is_empty() { "(policy)" } else { path };
        Self {
            path: path.to_string(),
            kind,
        }
    }

    /// The dotted field path, e.g. `rules[2].action`.
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn kind(&self) -> &PolicyErrorKind {
        &self.kind
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.kind)
    }
}

impl fmt::Display for PolicyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(reason) => write!(f, "not valid JSON: {reason}"),
            Self::Missing => write!(f, "required field is missing"),
            Self::Blank => write!(f, "must not be empty"),
            Self::WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            Self::UnknownField { found, expected } => {
                write!(f, "unknown field {found:?}, expected one of: {}", expected.join(", "))
            }
            Self::UnknownValue { what, found, expected } => {
                write!(f, "unknown {what} {found:?}, expected one of: {}", expected.join(", "))
            }
            Self::UnsupportedVersion(found) => {
                write!(f, "unsupported policy version {found}, this filter reads version 1")
            }
            Self::OwnerNotAPerson { owner, word } => write!(
                f,
                "{owner:?} looks like a {word}, not a person: name the one accountable person (PSF EA-1)"
            ),
            Self::InvalidSize(reason) => write!(f, "invalid size: {reason}"),
            Self::Invalid(reason) => write!(f, "{reason}"),
            Self::InvalidId(found) => write!(
                f,
                "invalid id {found:?}: use lower-case letters, digits, '-', '_' or '.', starting with a letter or digit"
            ),
            Self::DuplicateId(found) => write!(f, "duplicate id {found:?}"),
        }
    }
}

/// Every problem found in one policy document (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub(crate) Vec<PolicyError>);

impl PolicyErrors {
    pub fn errors(&self) -> &[PolicyError] {
        &self.0
    }
}

impl fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}
