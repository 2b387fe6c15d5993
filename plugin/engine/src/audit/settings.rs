//! What a policy's `audit` section says (PSF IG-3, OM-2, DG-2, DG-3).

/// How audit records are kept, sampled and shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// Days a record is kept: it carries `retention_until`, which `psf-guard audit prune` acts on.
    pub retention_days: u64,
    /// A request header naming the data subject; recorded only as an HMAC under `subject_key`.
    pub subject_header: Option<String>,
    pub subject_key: Option<String>,
    /// Put the redacted prompt and answer in every record, not only in sampled ones.
    pub include_text: bool,
    /// Records marked `sample` (with the redacted texts) per million requests.
    pub sample_per_million: u32,
    /// Where records are also posted, in batches.
    pub collector: Option<Collector>,
    /// Models (or `prefix*` patterns) named in metric labels besides the routes' model
    /// lists; any other model is counted as `other` (PSF OM-1).
    pub model_labels: Vec<String>,
}

/// A collector cluster that receives records as JSON lines, batched on ticks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collector {
    pub cluster: String,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
    /// Records per post.
    pub batch: usize,
    /// Records waiting at most; past it the oldest are dropped and counted.
    pub max_pending: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self {
            retention_days: 30,
            subject_header: None,
            subject_key: None,
            include_text: false,
            sample_per_million: 10_000,
            collector: None,
            model_labels: Vec::new(),
        }
    }
}
