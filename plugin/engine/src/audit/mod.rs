//! The audit trail (PSF IG-3, OM-5, DG-2, DG-3, EA-4): one record per request, redacted by
//! construction, chained per VM so edits and deletions show.

pub mod chain;
pub mod metrics;
pub(crate) mod record;
pub mod redact;
pub mod request_id;
pub mod settings;
pub mod time;
pub mod verify;
