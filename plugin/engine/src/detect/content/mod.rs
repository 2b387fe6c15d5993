//! Content filtering (PSF OV-3): category term lists matched as whole words on normalised
//! text, in model output and, per policy, in prompts; a cue scorer for answers that comply
//! with harmful requests.

mod compliance;
mod filter;
mod links;
mod lists;
mod moderation;
mod scope;
mod settings;
mod stream;
mod words;

pub use compliance::{paragraphs, ComplianceScorer, COMPLIANCE_CATEGORY, DEFAULT_POINTS};
pub use filter::{CategoryRule, ContentAction, ContentFilter, ContentHit};
pub use links::{LinkAction, LinkGuard, Removed, MAX_LINK_BYTES};
pub use lists::{category_terms, CATEGORIES};
pub use moderation::{
    FailureMode, Judgement, ModerationCall, ModerationSettings, ModerationVerdict, Subject,
};
pub use scope::{OffScope, Scope, DEFAULT_MIN_WORDS, MAX_SCOPE_BYTES};
pub use settings::ContentSettings;
pub use stream::ParagraphWindow;
pub use words::{canonical, WordMatcher};
