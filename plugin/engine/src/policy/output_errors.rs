//! The `output_errors` section of a route (PSF OV-5): what happens when the upstream fails,
//! sends output that cannot be read, or ends a stream without its terminator.

use super::reader::{Errors, Fields};
use crate::response::answer_state::AnswerState;

/// What the filter does with one failure state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateAction {
    /// Passed on as the upstream sent it; recorded.
    Pass,
    /// Passed on and recorded as a finding.
    Flag,
    /// Replaced by the filter's error (or, in a stream, ended with its error event).
    Replace,
}

/// The action for each failure state of a route's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputErrors {
    /// The upstream answered 5xx (or Envoy could not reach it).
    pub upstream_error: StateAction,
    /// The upstream did not answer in time (504 from Envoy's route timeout, or 408/504
    /// from the provider).
    pub upstream_timeout: StateAction,
    /// A 2xx JSON answer that is not JSON.
    pub malformed_output: StateAction,
    /// A stream that ended without its protocol's final event.
    pub truncated_stream: StateAction,
    /// The model declined (by phrasing, or a structured refusal).
    pub refusal: StateAction,
    /// No text and no tool call.
    pub empty_output: StateAction,
    /// Stopped at the token limit.
    pub output_truncated: StateAction,
    /// Stopped by the provider's own content filter.
    pub provider_filtered: StateAction,
}

impl Default for OutputErrors {
    /// Nothing malformed passes silently: failures are replaced by a defined error, and
    /// the edge states of a valid answer are flagged.
    fn default() -> Self {
        Self {
            upstream_error: StateAction::Replace,
            upstream_timeout: StateAction::Replace,
            malformed_output: StateAction::Replace,
            truncated_stream: StateAction::Replace,
            refusal: StateAction::Flag,
            empty_output: StateAction::Flag,
            output_truncated: StateAction::Flag,
            provider_filtered: StateAction::Flag,
        }
    }
}

impl OutputErrors {
    /// The action for an edge state of a valid answer.
    pub fn for_state(&self, state: AnswerState) -> StateAction {
        match state {
            AnswerState::Refusal => self.refusal,
            AnswerState::Empty => self.empty_output,
            AnswerState::Truncated => self.output_truncated,
            AnswerState::ProviderFiltered => self.provider_filtered,
        }
    }
}

const ACTIONS: [(&str, StateAction); 3] = [
    ("pass", StateAction::Pass),
    ("flag", StateAction::Flag),
    ("replace", StateAction::Replace),
];

pub(super) fn read_output_errors(fields: &mut Fields<'_>, errors: &mut Errors) -> OutputErrors {
    let defaults = OutputErrors::default();
    let Some(value) = fields.value("output_errors") else {
        return defaults;
    };
    let Some(mut section) = Fields::open(value, &fields.path_of("output_errors"), errors) else {
        return defaults;
    };
    let mut read = |name: &'static str, default: StateAction| {
        section.choice(name, &ACTIONS, errors).unwrap_or(default)
    };
    let out = OutputErrors {
        upstream_error: read("upstream_error", defaults.upstream_error),
        upstream_timeout: read("upstream_timeout", defaults.upstream_timeout),
        malformed_output: read("malformed_output", defaults.malformed_output),
        truncated_stream: read("truncated_stream", defaults.truncated_stream),
        refusal: read("refusal", defaults.refusal),
        empty_output: read("empty_output", defaults.empty_output),
        output_truncated: read("output_truncated", defaults.output_truncated),
        provider_filtered: read("provider_filtered", defaults.provider_filtered),
    };
    section.finish(errors);
    out
}
