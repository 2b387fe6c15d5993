//! Finding PII and secrets in text: each entity type is a pattern, and where a checksum or
//! structure exists, a validator that must accept the candidate (see [`super::validate`]).
//! Offsets are byte offsets into the text, always on character boundaries.

use super::validate;
use regex::{Regex, RegexBuilder};
use std::sync::OnceLock;

/// The entity types found so far, by the names used in policies and records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityType {
    Email,
    PaymentCard,
    Iban,
    UsSsn,
    AwsAccessKey,
    GithubToken,
    OpenAiKey,
    AnthropicKey,
    SlackToken,
    StripeKey,
    GoogleApiKey,
    Jwt,
    PrivateKey,
}

impl EntityType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityType::Email => "email",
            EntityType::PaymentCard => "payment_card",
            EntityType::Iban => "iban",
            EntityType::UsSsn => "us_ssn",
            EntityType::AwsAccessKey => "aws_access_key",
            EntityType::GithubToken => "github_token",
            EntityType::OpenAiKey => "openai_key",
            EntityType::AnthropicKey => "anthropic_key",
            EntityType::SlackToken => "slack_token",
            EntityType::StripeKey => "stripe_key",
            EntityType::GoogleApiKey => "google_api_key",
            EntityType::Jwt => "jwt",
            EntityType::PrivateKey => "private_key",
        }
    }
}

/// One entity found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entity {
    pub kind: EntityType,
    /// Byte range in the text.
    pub start: usize,
    pub end: usize,
}

/// A detector: its pattern and, where one exists, the validator a candidate must pass.
struct Detector {
    kind: EntityType,
    pattern: Regex,
    validate: Option<fn(&str) -> bool>,
}

/// An entity type, its pattern and its validator.
type Spec = (EntityType, &'static str, Option<fn(&str) -> bool>);

const SPECS: [Spec; 13] = [
    (
        EntityType::Email,
        r"(?i)\b[a-z0-9._%+-]{1,64}@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,24}\b",
        None,
    ),
    (
        EntityType::PaymentCard,
        r"\b(?:\d[ -]?){11,18}\d\b",
        Some(validate::payment_card),
    ),
    (
        EntityType::Iban,
        r"(?i)\b[a-z]{2}\d{2}(?:[ -]?[a-z0-9]){11,30}\b",
        Some(validate::iban),
    ),
    (
        EntityType::UsSsn,
        r"\b\d{3}[- ]\d{2}[- ]?\d{4}\b",
        Some(validate::us_ssn),
    ),
    (
        EntityType::AwsAccessKey,
        r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b",
        None,
    ),
    (
        EntityType::GithubToken,
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
        None,
    ),
    (
        EntityType::AnthropicKey,
        r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_-]{80,120}",
        None,
    ),
    (
        EntityType::OpenAiKey,
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}|\bsk-[A-Za-z0-9]{48}\b",
        None,
    ),
    (
        EntityType::SlackToken,
        r"\bxox[abposre](?:\.xox[bp])?-[0-9A-Za-z-]{10,250}",
        None,
    ),
    (
        EntityType::StripeKey,
        r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,99}\b",
        None,
    ),
    (EntityType::GoogleApiKey, r"\bAIza[0-9A-Za-z_-]{35}\b", None),
    (
        EntityType::Jwt,
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        None,
    ),
    (
        EntityType::PrivateKey,
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----",
        None,
    ),
];

fn detectors() -> &'static [Detector] {
    static DETECTORS: OnceLock<Vec<Detector>> = OnceLock::new();
    DETECTORS.get_or_init(|| {
        SPECS
            .iter()
            .filter_map(|(kind, pattern, validate)| {
                Some(Detector {
                    kind: *kind,
                    // ASCII semantics: the crate is built without Unicode tables, and every
                    // pattern here is ASCII. A pattern that fails to compile is caught by
                    // `every_detector_compiles`.
                    pattern: RegexBuilder::new(pattern).unicode(false).build().ok()?,
                    validate: *validate,
                })
            })
            .collect()
    })
}

/// Every entity in `text`, in order of position; where two overlap, the earlier (then the
/// longer) one wins.
pub fn find_entities(text: &str) -> Vec<Entity> {
    let mut found: Vec<Entity> = Vec::new();
    for detector in detectors() {
        for candidate in detector.pattern.find_iter(text) {
            if detector
                .validate
                .is_some_and(|valid| !valid(candidate.as_str()))
            {
                continue;
            }
            found.push(Entity {
                kind: detector.kind,
                start: candidate.start(),
                end: candidate.end(),
            });
        }
    }
    found.sort_by_key(|e| (e.start, std::cmp::Reverse(e.end)));
    let mut kept: Vec<Entity> = Vec::with_capacity(found.len());
    for entity in found {
        if kept.last().is_none_or(|last| entity.start >= last.end) {
            kept.push(entity);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(EntityType, &str)> {
        find_entities(text)
            .into_iter()
            .map(|e| (e.kind, &text[e.start..e.end]))
            .collect()
    }

    #[test]
    fn every_detector_compiles() {
        assert_eq!(detectors().len(), SPECS.len());
    }

    #[test]
    fn finds_the_done_when_entities_and_leaves_look_alikes() {
        let text = "Mail ada@example.com, card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, key AKIAIOSFODNN7EXAMPLE.";
        assert_eq!(
            kinds(text),
            vec![
                (EntityType::Email, "ada@example.com"),
                (EntityType::PaymentCard, "4111 1111 1111 1111"),
                (EntityType::Iban, "DE89 3704 0044 0532 0130 00"),
                (EntityType::AwsAccessKey, "AKIAIOSFODNN7EXAMPLE"),
            ]
        );
        assert!(kinds("card 4111 1111 1111 1112 and order 1234-5678-9012").is_empty());
        assert!(kinds("ssn 000-12-3456, version 1.2.3").is_empty());
    }

    #[test]
    fn finds_secrets_by_their_prefixes() {
        let github = format!("ghp_{}", "a1B2".repeat(9));
        let text = format!("token {github} and -----BEGIN RSA PRIVATE KEY----- here");
        let found = kinds(&text);
        assert_eq!(found[0], (EntityType::GithubToken, github.as_str()));
        assert_eq!(found[1].0, EntityType::PrivateKey);
    }

    #[test]
    fn offsets_stay_on_character_boundaries_in_multibyte_text() {
        let text = "Grüße 🦀 an jörg@exämple.de und ada@example.com";
        for entity in find_entities(text) {
            assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
        }
        assert!(kinds(text).contains(&(EntityType::Email, "ada@example.com")));
    }

    #[test]
    fn adversarial_text_is_bounded_and_safe() {
        for text in [
            "9".repeat(1 << 20),
            "@".repeat(1 << 20),
            "4111 ".repeat(200_000),
        ] {
            let _ = find_entities(&text);
        }
    }
}
