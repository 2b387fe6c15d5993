//! The PII policy on model output: entities the model emits are masked per the response
//! actions (a secret in an answer is caught), then this exchange's placeholders are restored
//! (PSF DG-1, OV-1). Masking comes first, so restored values, which are the client's own,
//! are given back as they were sent.

use super::detect::Entity;
use super::masker::Masker;
use super::settings::{Direction, PiiSettings};
use crate::code::ErrorCode;
use crate::rejection::Rejection;
use crate::response::output::OutputFilter;

/// The longest run a stream holds back while waiting to see whether it is an entity.
const MAX_ENTITY_HOLD: usize = 4096;

/// Response-side PII handling for one exchange.
pub struct ResponsePii<'a> {
    pub masker: &'a mut Masker,
    pub settings: &'a PiiSettings,
    /// The route's id, for the rule a refusal names.
    pub route: &'a str,
    /// Monitor mode: count, never change.
    pub enforce: bool,
}

impl OutputFilter for ResponsePii<'_> {
    fn filter(&mut self, context: &str, text: &str) -> Result<Option<String>, Rejection> {
        let entities = self.entities_after(context, text);
        let masked = self
            .masker
            .mask_found(self.settings, Direction::Response, text, &entities);
        if !self.enforce {
            return Ok(None);
        }
        let blocked = self.masker.blocked(Direction::Response);
        if !blocked.is_empty() {
            return Err(Rejection::new(
                ErrorCode::PiiInOutput,
                format!("{}.pii.response", self.route),
                format!(
                    "the model's answer contained {}, which this route does not let through",
                    blocked.join(", ")
                ),
            ));
        }
        let restored = match &masked {
            Some(masked) => self.masker.restore(masked).or(Some(masked.clone())),
            None => self.masker.restore(text),
        };
        Ok(if self.settings.restore {
            restored
        } else {
            masked
        })
    }

    /// Settled at `at` when the part before ends in nothing that the next characters
    /// continue (a word followed by a space: an entity crosses a space only as digit
    /// groups, which [`entity_tail`] joins once it sees them), and no entity or mask found
    /// in the whole runs across it.
    fn settled(&self, text: &str, at: usize) -> bool {
        let mut peek = at;
        for c in text.get(at..).unwrap_or_default().chars().take(2) {
            peek += c.len_utf8();
        }
        let Some(seen) = text.get(..peek) else {
            return false;
        };
        self.hold_from(seen) >= at
            && !(self.settings.restore && self.masker.mask_spans(text, at))
            && !self
                .settings
                .scanner
                .find(text)
                .iter()
                .any(|e| e.start < at && at < e.end)
    }

    fn hold_from(&self, text: &str) -> usize {
        let for_masks = if self.settings.restore {
            self.masker.mask_tail(text)
        } else {
            text.len()
        };
        let for_entities = if self.settings.response.acts() {
            let cap = self
                .settings
                .scanner
                .max_entity_len()
                .clamp(64, MAX_ENTITY_HOLD);
            entity_tail(text, cap)
        } else {
            text.len()
        };
        for_masks.min(for_entities)
    }
}

impl ResponsePii<'_> {
    /// Entities of `text`, read after `context` (so a keyword sent earlier still counts);
    /// one that began in `context` is cut to its part in `text`.
    fn entities_after(&self, context: &str, text: &str) -> Vec<Entity> {
        if context.is_empty() {
            return self.settings.scanner.find(text);
        }
        let joined = format!("{context}{text}");
        let offset = context.len();
        self.settings
            .scanner
            .find(&joined)
            .into_iter()
            .filter(|e| e.end > offset)
            .map(|e| Entity {
                start: e.start.max(offset) - offset,
                end: e.end - offset,
                ..e
            })
            .collect()
    }
}

/// Where the trailing run that could still grow into an entity begins: the word being
/// written (letters, digits and the punctuation of addresses, keys and URLs), digit groups
/// joined by spaces (cards, IBANs, phone numbers), or an open PEM block. At most `cap` bytes.
pub fn entity_tail(text: &str, cap: usize) -> usize {
    let bytes = text.as_bytes();
    let floor = text.len().saturating_sub(cap);
    if let Some(begin) = text.get(floor..).and_then(|t| t.rfind("-----BEGIN")) {
        let begin = floor + begin;
        if !text[begin..].contains("-----END") {
            return begin;
        }
    }
    let mut start = text.len();
    while start > floor {
        let b = bytes[start - 1];
        let joins_groups = b == b' '
            && start >= 2
            && bytes[start - 2].is_ascii_digit()
            && bytes
                .get(start)
                .is_some_and(|n| n.is_ascii_alphanumeric() || *n == b'(');
        if b.is_ascii_alphanumeric()
            || b >= 0x80
            || b"@._%+-/:=~#?&()!$*".contains(&b)
            || joins_groups
        {
            start -= 1;
        } else {
            break;
        }
    }
    while !text.is_char_boundary(start) {
        start += 1;
    }
    start
}

#[cfg(test)]
mod tests {
    use super::entity_tail;

    #[test]
    fn holds_the_word_in_progress_and_digit_groups() {
        let tail = |t: &'static str| &t[entity_tail(t, 256)..];
        assert_eq!(tail("my token is ghp_abc"), "ghp_abc");
        assert_eq!(tail("card 4111 1111 1111"), "4111 1111 1111");
        assert_eq!(tail("plain words "), "");
        assert_eq!(tail("mail ada@exa"), "ada@exa");
        assert_eq!(
            tail("x -----BEGIN RSA PRIVATE KEY-----\nMIIE"),
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE"
        );
        assert_eq!(tail("grüße"), "grüße");
        assert_eq!(entity_tail(&"a".repeat(1000), 64), 936);
    }
}
