//! Finding PII and secrets in text. A [`Scanner`] holds the built-in detectors (see
//! [`super::specs`]) plus a policy's custom entities; [`Scanner::find`] runs them and
//! returns scored, non-overlapping entities. Offsets are byte offsets into the text,
//! always on character boundaries.
//!
//! Speed comes from the prefilter in [`super::window`]: one pass over the bytes picks the
//! few windows where an entity could be, and each detector's pattern only runs in windows
//! whose features allow it. Every pattern is linear-time (the `regex` crate), every judge
//! reads a bounded neighbourhood, so the whole scan is linear in the text.
//!
//! ```
//! use psf_engine::detect::pii::detect::{EntityKind, EntityType, Scanner};
//!
//! let text = "Card 4111 1111 1111 1111, mail ada@example.com";
//! let scanner = Scanner::default_scanner();
//! let kinds: Vec<EntityKind> = scanner.find(text).iter().map(|e| e.kind).collect();
//! let card = EntityKind::Builtin(EntityType::PaymentCard);
//! assert_eq!(kinds, [card, EntityKind::Builtin(EntityType::Email)]);
//! ```

use super::custom::{self, CustomDetector};
use super::entropy;
use super::features::features;
use super::hit::{Found, Hit};
use super::specs::SPECS;
use super::window::windows;
use regex::{Regex, RegexBuilder};
use std::sync::OnceLock;

pub use super::entity::{Entity, EntityClass, EntityKind, EntityType, Sensitivity};

/// How a custom entity's match is checked beyond its pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomValidator {
    None,
    /// The Luhn (mod 10) digit, over the match's digits.
    Luhn,
    /// ISO 7064 MOD 97-10 over the match's letters and digits, check digits last or (as
    /// in IBANs) in places three and four.
    Mod97,
}

/// A policy-defined entity type.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomEntity {
    pub name: String,
    pub pattern: String,
    pub validator: CustomValidator,
    /// Words that, within about 40 characters before or after a match, add 0.35.
    pub context: Vec<String>,
    pub score: f32,
}

/// The high-entropy token detector's thresholds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EntropySettings {
    pub min_length: usize,
    pub min_bits_per_char: f32,
}

/// What a scanner looks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ScannerConfig {
    pub custom: Vec<CustomEntity>,
    /// `None` (the default) leaves the high-entropy token detector off.
    pub entropy: Option<EntropySettings>,
    /// Entities scoring below this are dropped.
    pub min_score: f32,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        Self {
            custom: Vec::new(),
            entropy: None,
            min_score: 0.5,
        }
    }
}

/// A built-in detector, compiled.
struct Builtin {
    kind: EntityType,
    regex: Regex,
    spec: usize,
}

/// A custom entity's hold-back bound: its pattern's longest match is not known.
const CUSTOM_MAX_LEN: usize = 256;

/// Compiled detectors. Build once (per policy) and share; scanning needs `&self` only.
pub struct Scanner {
    builtins: &'static [Builtin],
    custom: Vec<(String, CustomDetector)>,
    entropy: Option<EntropySettings>,
    min_score: f32,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("builtins", &self.builtins.len())
            .field(
                "custom",
                &self.custom.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("entropy", &self.entropy)
            .field("min_score", &self.min_score)
            .finish()
    }
}

/// The built-in detectors, compiled once per process. A pattern that failed to compile
/// would be left out; `every_builtin_compiles` makes sure none does.
fn builtins() -> &'static [Builtin] {
    static BUILTINS: OnceLock<Vec<Builtin>> = OnceLock::new();
    BUILTINS.get_or_init(|| {
        SPECS
            .iter()
            .enumerate()
            .filter(|(_, spec)| !spec.pattern.is_empty())
            .filter_map(|(index, spec)| {
                Some(Builtin {
                    kind: spec.kind,
                    regex: RegexBuilder::new(spec.pattern)
                        .unicode(false)
                        .build()
                        .ok()?,
                    spec: index,
                })
            })
            .collect()
    })
}

/// A candidate before overlaps are resolved.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    kind: EntityKind,
    found: Found,
}

impl Scanner {
    /// Compiles the built-ins plus `config.custom`. `Err((index, reason))` names the first
    /// custom entity whose pattern does not compile or could match the empty string.
    pub fn new(config: &ScannerConfig) -> Result<Scanner, (usize, String)> {
        let custom = config
            .custom
            .iter()
            .enumerate()
            .map(|(index, entity)| {
                custom::compile(entity)
                    .map(|detector| (entity.name.clone(), detector))
                    .map_err(|reason| (index, reason))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Scanner {
            builtins: builtins(),
            custom,
            entropy: config.entropy,
            min_score: config.min_score,
        })
    }

    /// The default scanner, compiled once per process, for hot paths.
    pub fn default_scanner() -> &'static Scanner {
        static DEFAULT: OnceLock<Scanner> = OnceLock::new();
        DEFAULT.get_or_init(|| Scanner {
            builtins: builtins(),
            custom: Vec::new(),
            entropy: None,
            min_score: ScannerConfig::default().min_score,
        })
    }

    /// Every entity scoring at least `min_score`, sorted by start. Where two overlap, the
    /// earlier wins, then the longer, then the higher score; a generic credential (a named
    /// assignment, a high-entropy token) first yields to any key of a known format that it
    /// overlaps (`token: "ghp_…"` is a GitHub token).
    pub fn find(&self, text: &str) -> Vec<Entity> {
        let mut found: Vec<Candidate> = Vec::new();
        for window in windows(text) {
            let Some(slice) = text.get(window.start..window.end) else {
                continue;
            };
            let features = features(text, &window);
            for builtin in self.builtins {
                let Some(spec) = SPECS.get(builtin.spec) else {
                    continue;
                };
                if !(spec.gate)(&features) {
                    continue;
                }
                let mut at = 0;
                while let Some(m) = builtin.regex.find_at(slice, at) {
                    let (start, end) = (window.start + m.start(), window.start + m.end());
                    // A match at a cut edge may be the piece of a longer token.
                    let cut = (window.cut_start && m.start() == 0)
                        || (window.cut_end && m.end() == slice.len());
                    let verdict = if cut {
                        None
                    } else {
                        (spec.judge)(Hit { text, start, end })
                    };
                    // A judge that kept only the front of a long match (an IBAN running
                    // into the next word) lets the search resume right after it.
                    let mut next = m.end();
                    if let Some(found_one) = verdict {
                        if found_one.start >= start && found_one.end < end && found_one.end > start
                        {
                            next = found_one.end - window.start;
                        }
                        found.push(Candidate {
                            kind: EntityKind::Builtin(builtin.kind),
                            found: found_one,
                        });
                    }
                    at = if next > m.start() {
                        next
                    } else {
                        m.end().max(m.start() + 1)
                    };
                    while !slice.is_char_boundary(at) && at < slice.len() {
                        at += 1;
                    }
                    if at > slice.len() {
                        break;
                    }
                }
            }
        }
        if let Some(entropy) = self.entropy {
            for found_one in entropy::find(text, entropy.min_length, entropy.min_bits_per_char) {
                found.push(Candidate {
                    kind: EntityKind::Builtin(EntityType::HighEntropyToken),
                    found: found_one,
                });
            }
        }
        for (index, (_, detector)) in self.custom.iter().enumerate() {
            let Ok(index) = u16::try_from(index) else {
                break;
            };
            for found_one in detector.find(text) {
                found.push(Candidate {
                    kind: EntityKind::Custom(index),
                    found: found_one,
                });
            }
        }
        resolve(text, found, self.min_score)
    }

    /// The name of an entity kind: the built-in type's name or the custom entity's.
    pub fn name(&self, kind: EntityKind) -> &str {
        match kind {
            EntityKind::Builtin(t) => t.as_str(),
            EntityKind::Custom(index) => self
                .custom
                .get(usize::from(index))
                .map_or("custom", |(name, _)| name.as_str()),
        }
    }

    pub fn class(&self, kind: EntityKind) -> EntityClass {
        match kind {
            EntityKind::Builtin(t) => t.class(),
            EntityKind::Custom(_) => EntityClass::Custom,
        }
    }

    /// An upper bound in bytes on the entities this scanner reports, for sizing a stream's
    /// hold-back. A PEM key counts as its header line, JWTs as 2 KiB, custom entities as
    /// 256 bytes (a pattern's longest match is not known).
    pub fn max_entity_len(&self) -> usize {
        let builtin = SPECS.iter().map(|s| s.max_len).max().unwrap_or(0);
        let custom = if self.custom.is_empty() {
            0
        } else {
            CUSTOM_MAX_LEN
        };
        let entropy = if self.entropy.is_some() {
            entropy::MAX_TOKEN
        } else {
            0
        };
        builtin.max(custom).max(entropy)
    }
}

/// Whether a kind is a generic credential that yields to a specific one it overlaps.
fn is_generic(kind: EntityKind) -> bool {
    matches!(
        kind,
        EntityKind::Builtin(EntityType::PasswordAssignment | EntityType::HighEntropyToken)
    )
}

/// Whether a kind is a specific credential (a key with a known format).
fn is_specific_credential(kind: EntityKind) -> bool {
    match kind {
        EntityKind::Builtin(t) => t.class() == EntityClass::Credential && !is_generic(kind),
        EntityKind::Custom(_) => false,
    }
}

/// Drops low scores, lets generic credentials yield, and keeps the earliest, longest,
/// best-scoring of each overlapping group.
fn resolve(text: &str, mut found: Vec<Candidate>, min_score: f32) -> Vec<Entity> {
    found.retain(|c| {
        c.found.score >= min_score
            && c.found.start < c.found.end
            && text.is_char_boundary(c.found.start)
            && text.is_char_boundary(c.found.end)
            && c.found.end <= text.len()
    });
    found.sort_by(|a, b| {
        a.found
            .start
            .cmp(&b.found.start)
            .then(b.found.end.cmp(&a.found.end))
            .then(b.found.score.total_cmp(&a.found.score))
    });
    let overlaps = |a: &Found, b: &Found| a.start < b.end && b.start < a.end;
    let specific: Vec<Found> = found
        .iter()
        .filter(|c| is_specific_credential(c.kind))
        .map(|c| c.found)
        .collect();
    let mut kept: Vec<Entity> = Vec::with_capacity(found.len());
    for c in found {
        if is_generic(c.kind) && specific.iter().any(|s| overlaps(s, &c.found)) {
            continue;
        }
        if kept.last().is_none_or(|last| c.found.start >= last.end) {
            kept.push(Entity {
                kind: c.kind,
                start: c.found.start,
                end: c.found.end,
                score: c.found.score,
            });
        }
    }
    kept
}

/// Every entity the default scanner finds in `text`.
pub fn find_entities(text: &str) -> Vec<Entity> {
    Scanner::default_scanner().find(text)
}

#[cfg(test)]
mod tests;
