//! A route's content-filter settings, compiled.

use super::{ContentFilter, ModerationSettings, Scope};
use std::sync::Arc;

/// Which categories a route filters, in which directions.
#[derive(Clone)]
pub struct ContentSettings {
    pub filter: Arc<ContentFilter>,
    /// Filter prompts (harmful requests get 403 `harmful_request`).
    pub request: bool,
    /// Filter model output (502 `content_filtered`, or the stream's error event).
    pub response: bool,
    /// Also judge prompts with the learned harmful-request scorer
    /// ([`crate::detect::learned::Scorer::HarmfulRequest`]) at paranoia 1, when prompts are filtered.
    pub learned_requests: bool,
    /// Ask an external moderation service about every prompt.
    pub moderation: Option<ModerationSettings>,
    /// The topics answers stay on (`out_of_scope`).
    pub scope: Option<Arc<Scope>>,
    /// The settings as written, which is what makes two of them equal.
    pub source: String,
}

impl PartialEq for ContentSettings {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for ContentSettings {}

impl std::fmt::Debug for ContentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContentSettings")
            .field("request", &self.request)
            .field("response", &self.response)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}
