//! Detection (PSF IG-1, DG-1, OV-3): the text form detection reads, injection rules, PII
//! and secrets, content categories and the learned scorers.

pub mod content;
pub mod injection;
pub mod learned;
pub mod pii;
pub mod text;
