//! The `confidence` section of a route (PSF OV-4): the mean token log-probability under
//! which an answer counts as low-confidence, and what that does.

use super::error::PolicyErrorKind;
use super::reader::{type_name, Errors, Fields};

/// What a low-confidence answer does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LowConfidence {
    /// `x-psf-low-confidence` on the answer (when its headers are still held) and a finding.
    Flag,
    /// 502 `low_confidence` instead of the answer.
    Block,
}

/// A route's confidence threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceRule {
    pub min_mean_logprob: f64,
    pub action: LowConfidence,
}

impl Eq for ConfidenceRule {}

const ACTIONS: [(&str, LowConfidence); 2] = [
    ("flag", LowConfidence::Flag),
    ("block", LowConfidence::Block),
];

pub(super) fn read_confidence(
    fields: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<ConfidenceRule> {
    let value = fields.value("confidence")?;
    let mut section = Fields::open(value, &fields.path_of("confidence"), errors)?;
    let threshold = section.required("min_mean_logprob", errors);
    let action = section
        .choice("action", &ACTIONS, errors)
        .unwrap_or(LowConfidence::Flag);
    let at = section.path_of("min_mean_logprob");
    section.finish(errors);
    let threshold = threshold?;
    match threshold.as_f64() {
        Some(t) if t <= 0.0 && t.is_finite() => Some(ConfidenceRule {
            min_mean_logprob: t,
            action,
        }),
        Some(t) => {
            errors.push(
                &at,
                PolicyErrorKind::Invalid(format!(
                    "{t} is not a log-probability; use a number at or below 0, like -1.0"
                )),
            );
            None
        }
        None => {
            errors.push(
                &at,
                PolicyErrorKind::WrongType {
                    expected: "a number",
                    found: type_name(threshold),
                },
            );
            None
        }
    }
}
