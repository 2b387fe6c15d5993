//! What happens to a detected entity (PSF DG-1), and the text each action puts in its place.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The action for one entity, per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PiiAction {
    /// Counted, left as it is.
    Allow,
    /// `[EMAIL]`: the type only.
    Redact,
    /// `[EMAIL_1]`: the same value gets the same index within a request, so the model can
    /// still tell values apart; restorable in the response.
    Placeholder,
    /// `<EMAIL:3fa9c1d2>`: a keyed HMAC-SHA-256 pseudonym, stable across requests.
    Pseudonymize,
    /// `************1111`: all but the last four characters masked.
    Partial,
    /// The request is refused (403 `pii_detected`), the response withheld.
    Block,
}

impl PiiAction {
    pub const CHOICES: [(&'static str, PiiAction); 6] = [
        ("allow", PiiAction::Allow),
        ("redact", PiiAction::Redact),
        ("placeholder", PiiAction::Placeholder),
        ("pseudonymize", PiiAction::Pseudonymize),
        ("partial", PiiAction::Partial),
        ("block", PiiAction::Block),
    ];

    pub fn as_str(self) -> &'static str {
        Self::CHOICES
            .iter()
            .find(|(_, action)| *action == self)
            .map_or("allow", |(name, _)| name)
    }
}

/// The upper-case label of a type in masks: `payment_card` → `PAYMENT_CARD`.
pub fn label(type_name: &str) -> String {
    type_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// `[LABEL]`.
pub fn redacted(label: &str) -> String {
    format!("[{label}]")
}

/// `[LABEL_n]`.
pub fn placeholder(label: &str, index: usize) -> String {
    format!("[{label}_{index}]")
}

/// `<LABEL:xxxxxxxx>`: the first four bytes of HMAC-SHA-256(key, type name, value) in hex.
/// The type is part of the message so equal strings of different types do not collide.
pub fn pseudonym(key: &[u8], type_name: &str, label: &str, value: &str) -> String {
    let digest = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(type_name.as_bytes());
            mac.update(&[0]);
            mac.update(value.as_bytes());
            mac.finalize().into_bytes()
        }
        // HMAC takes keys of any length; this branch exists only because the API is fallible.
        Err(_) => return redacted(label),
    };
    let hex: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("<{label}:{hex}>")
}

/// All but the last four letters and digits masked with `*`, separators dropped; an email
/// keeps its first letter and its domain, which is what a reader needs to recognise it.
pub fn partial(type_name: &str, value: &str) -> String {
    if type_name == "email" {
        if let Some((local, domain)) = value.rsplit_once('@') {
            let first = local.chars().next().unwrap_or('*');
            return format!("{first}***@{domain}");
        }
    }
    let kept: Vec<char> = value.chars().filter(|c| c.is_alphanumeric()).collect();
    let visible = if kept.len() > 8 { 4 } else { 0 };
    let hidden = kept.len() - visible;
    let mut out = "*".repeat(hidden.max(4));
    out.extend(&kept[hidden..]);
    out
}

/// The longest mask that can be restored, for stream hold-back: `[` label `_` index `]` or
/// `<` label `:` eight hex `>`, with labels up to 48 characters.
pub const MAX_TOKEN_LEN: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_look_as_documented() {
        assert_eq!(label("payment_card"), "PAYMENT_CARD");
        assert_eq!(redacted("EMAIL"), "[EMAIL]");
        assert_eq!(placeholder("EMAIL", 1), "[EMAIL_1]");
        assert_eq!(
            partial("payment_card", "4111 1111 1111 1111"),
            "************1111"
        );
        assert_eq!(partial("email", "ada@example.com"), "a***@example.com");
        assert_eq!(partial("us_ssn", "078-05-1120"), "*****1120");
        assert_eq!(partial("x", "ab"), "****");
    }

    #[test]
    fn pseudonyms_are_keyed_stable_and_typed() {
        let a = pseudonym(b"key-one-0123456789", "email", "EMAIL", "ada@example.com");
        assert_eq!(
            a,
            pseudonym(b"key-one-0123456789", "email", "EMAIL", "ada@example.com")
        );
        assert!(
            a.starts_with("<EMAIL:") && a.ends_with('>') && a.len() == 16,
            "{a}"
        );
        assert_ne!(
            a,
            pseudonym(b"key-two-0123456789", "email", "EMAIL", "ada@example.com")
        );
        assert_ne!(
            pseudonym(b"k", "phone", "EMAIL", "x"),
            pseudonym(b"k", "email", "EMAIL", "x")
        );
    }
}
