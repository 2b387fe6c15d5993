//! `content_filter.moderation` (PSF OV-3): the external moderation service a route asks
//! about every prompt, with an explicit failure mode.

use super::error::PolicyErrorKind;
use super::pii::fraction;
use super::reader::{Errors, Fields};
use crate::detect::content::{FailureMode, ModerationSettings};

const FAILURE_MODES: [(&str, FailureMode); 2] =
    [("open", FailureMode::Open), ("closed", FailureMode::Closed)];

/// Calls slower than this are a configuration mistake: the client waits on every prompt.
const MAX_TIMEOUT_MS: u64 = 60_000;

pub(super) fn read_moderation(
    section: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<ModerationSettings> {
    let value = section.value("moderation")?;
    let path = section.path_of("moderation");
    let mut fields = Fields::open(value, &path, errors)?;
    let cluster = fields
        .required_string("cluster", errors)
        .map(str::to_string);
    let path_value = fields
        .string("path", errors)
        .unwrap_or("/v1/moderations")
        .to_string();
    if !path_value.starts_with('/') {
        errors.push(
            &fields.path_of("path"),
            PolicyErrorKind::Invalid(format!("{path_value:?} is not a path starting with /")),
        );
    }
    let authority = fields.string("authority", errors).map(str::to_string);
    let model = fields.string("model", errors).map(str::to_string);
    let timeout_ms = fields.count("timeout_ms", errors).unwrap_or(1000);
    if !(1..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        errors.push(
            &fields.path_of("timeout_ms"),
            PolicyErrorKind::Invalid(format!(
                "{timeout_ms} is not a timeout between 1 and {MAX_TIMEOUT_MS} ms"
            )),
        );
    }
    // Required: whether an outage lets prompts through unchecked is the operator's call.
    fields.required("failure_mode", errors);
    let failure_mode = fields.choice("failure_mode", &FAILURE_MODES, errors);
    let min_score = fraction(&mut fields, "min_score", errors).map(f64::from);
    let (mut requests, mut responses) = (true, false);
    if fields.value("directions").is_some() {
        requests = false;
        for (at, item) in fields.array("directions", errors) {
            match item.as_str() {
                Some("request") => requests = true,
                Some("response") => responses = true,
                _ => errors.push(
                    &at,
                    PolicyErrorKind::UnknownValue {
                        what: "direction",
                        found: item.to_string(),
                        expected: vec!["request", "response"],
                    },
                ),
            }
        }
    }
    fields.finish(errors);
    let cluster = cluster?;
    Some(ModerationSettings {
        authority: authority.unwrap_or_else(|| cluster.clone()),
        cluster,
        path: path_value,
        model,
        timeout_ms,
        failure_mode: failure_mode?,
        min_score,
        requests,
        responses,
    })
}
