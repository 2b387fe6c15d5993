//! Prompt-injection detection (PSF IG-1): a versioned rule set in the spirit of the OWASP
//! Core Rule Set. Each rule has a stable id, a category, a paranoia level and a score; a
//! request's anomaly score is the sum over the distinct rules that match, and the route's
//! threshold decides. Text is matched in its detection form (see [`crate::detect::text`]), and again
//! after decoding base64, hex, URL-encoding, Morse, rot13, leetspeak and Unicode-tag payloads.
//! Beside the rules, [`assess`] runs the learned scorers of [`crate::detect::learned`]; either
//! reaching its threshold makes an injection.

mod assess;
pub mod decode;
mod detect;
mod rules;
mod ruleset;

pub use assess::{assess, Assessment};
pub use detect::{detect, Detection, InjectionAction, InjectionSettings, Scope};
pub use rules::{Category, RuleDef, RULES, RULESET_VERSION};
pub use ruleset::{rule_by_id, RuleSet};
