//! The `review` section of a supervised route (PSF HO-2): tool calls that a person must
//! approve before the client gets them.

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Review {
    /// Tool names held for review; an entry ending in `*` matches by prefix (`transfer_*`).
    pub tools: Vec<String>,
    /// When given, a call is held only if one holds: `(JSON pointer into the arguments,
    /// threshold)`, met when the number there is above the threshold.
    pub above: Vec<(String, String)>,
    /// The HMAC key approvals are made with (`psf-guard approve`).
    pub key: String,
    /// How long an approval stays valid.
    pub ttl_ms: u64,
    /// Where held items are posted for reviewers.
    pub queue: Option<ReviewQueue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewQueue {
    pub cluster: String,
    pub path: String,
    pub authority: String,
}

pub(super) fn read_review(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<Review> {
    let value = fields.value("review")?;
    let mut section = Fields::open(value, &fields.path_of("review"), errors)?;
    let tools = section.strings("tools", errors).unwrap_or_default();
    if tools.is_empty() {
        errors.push(
            &section.path_of("tools"),
            PolicyErrorKind::Invalid(
                "list the tools a person must approve (\"transfer_*\")".into(),
            ),
        );
    }
    let mut above = Vec::new();
    for (path, item) in section.array("conditions", errors) {
        let Some(mut condition) = Fields::open(item, &path, errors) else {
            continue;
        };
        let pointer = condition
            .required_string("pointer", errors)
            .map(str::to_string);
        let threshold = condition
            .required("above", errors)
            .filter(|v| v.is_number());
        if condition.value("above").is_some() && threshold.is_none() {
            errors.push(
                &condition.path_of("above"),
                PolicyErrorKind::Invalid("expected a number".into()),
            );
        }
        condition.finish(errors);
        if let (Some(pointer), Some(threshold)) = (pointer, threshold) {
            above.push((pointer, threshold.to_string()));
        }
    }
    let key = section.required_string("key", errors).map(str::to_string);
    if key.as_deref().is_some_and(|k| k.chars().count() < 16) {
        errors.push(
            &section.path_of("key"),
            PolicyErrorKind::Invalid("the approval key must have at least 16 characters".into()),
        );
    }
    let ttl_s = section.count("ttl_seconds", errors).unwrap_or(3600);
    let queue = match section.value("queue") {
        Some(value) => {
            let mut queue = Fields::open(value, &section.path_of("queue"), errors)?;
            let cluster = queue.required_string("cluster", errors).map(str::to_string);
            let path = queue.string("path", errors).unwrap_or("/").to_string();
            let authority = queue.string("authority", errors).map(str::to_string);
            queue.finish(errors);
            cluster.map(|cluster| ReviewQueue {
                authority: authority.unwrap_or_else(|| cluster.clone()),
                cluster,
                path,
            })
        }
        None => None,
    };
    section.finish(errors);
    Some(Review {
        tools,
        above,
        key: key?,
        ttl_ms: ttl_s * 1000,
        queue,
    })
}
