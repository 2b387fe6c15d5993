//! Content filtering (PSF OV-3): category term lists matched as whole words on normalised
//! text, in model output and, per policy, in prompts.

mod filter;
mod lists;
mod settings;

pub use filter::{CategoryRule, ContentAction, ContentFilter, ContentHit};
pub use lists::{category_terms, CATEGORIES};
pub use settings::ContentSettings;
