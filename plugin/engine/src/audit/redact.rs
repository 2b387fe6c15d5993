//! Text for audit records, redacted by construction: every entity the scanner finds becomes
//! `[TYPE]`, whatever the route does with it, so a record never holds a value the policy lets
//! through to the model (an address on `allow`) nor a value restored in the answer.

use crate::detect::pii::detect::Scanner;

/// Text past this many bytes is cut before redaction: records stay small.
pub const MAX_TEXT_BYTES: usize = 4096;

/// `text` with every entity replaced by `[TYPE]`, cut to [`MAX_TEXT_BYTES`].
pub fn redact_all(scanner: &Scanner, text: &str) -> String {
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = &text[..end];
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for entity in scanner.find(text) {
        if entity.start < at {
            continue;
        }
        out.push_str(&text[at..entity.start]);
        out.push('[');
        out.push_str(&scanner.name(entity.kind).to_ascii_uppercase());
        out.push(']');
        at = entity.end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entity_is_replaced_by_its_type() {
        let scanner = Scanner::default_scanner();
        let text = "Mail ada@example.org or call +44 20 7946 0958 from 10.1.2.3, token ghp_a1B2c3D4a1B2c3D4a1B2c3D4a1B2c3D4e5F6";
        let redacted = redact_all(scanner, text);
        for value in ["ada@example.org", "7946", "10.1.2.3", "ghp_"] {
            assert!(!redacted.contains(value), "{redacted}");
        }
        assert!(redacted.contains("[EMAIL]"), "{redacted}");
        assert!(redact_all(scanner, &"é".repeat(5000)).len() <= MAX_TEXT_BYTES);
    }
}
