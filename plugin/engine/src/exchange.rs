//! One HTTP exchange seen by the filter: the engine's per-stream state machine.
//!
//! The proxy adapter reports each host event and does what the returned [`Step`] says.
//! The engine never holds body bytes it does not need: a request with a trusted
//! `content-length` under every limit streams through without buffering.

use crate::policy::{Action, Check, Mode, Policy};
use crate::record::{Decision, DecisionRecord, Finding};
use crate::rejection::Rejection;
use crate::ErrorCode;
use std::rc::Rc;

/// What the adapter does next with the current phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Let this phase (and anything held) through.
    Continue,
    /// Hold this phase and buffer what follows; the engine will be asked again.
    Pause,
    /// Answer the client with this error; nothing more goes upstream.
    Reject(Rejection),
}

/// The request line and headers the engine needs.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub request_id: &'a str,
    pub content_length: Option<u64>,
    /// True when the request has no body.
    pub end_of_stream: bool,
}

/// Per-stream state. Create one per HTTP request.
#[derive(Debug)]
pub struct Exchange {
    policy: Rc<Policy>,
    record: DecisionRecord,
    /// Whether headers are held until the body has been measured.
    holding: bool,
    rejected: bool,
}

impl Exchange {
    pub fn new(policy: Rc<Policy>) -> Self {
        Self {
            policy,
            record: DecisionRecord::default(),
            holding: false,
            rejected: false,
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// True once the filter answered the client itself; the response it then sees
    /// is its own local reply and needs no inspection.
    pub fn rejected(&self) -> bool {
        self.rejected
    }

    pub fn on_request_headers(&mut self, head: RequestHead<'_>) -> Step {
        self.record.request_id = head.request_id.to_string();
        self.record.method = head.method.to_string();
        self.record.path = head.path.to_string();
        if head.end_of_stream {
            return Step::Continue;
        }
        if let Some(length) = head.content_length {
            self.record.request_bytes = length;
            if let Some(rejection) = self.check_body_size(length, true) {
                return self.reject(rejection);
            }
            // The codec enforces content-length framing, so the body cannot outgrow it.
            return Step::Continue;
        }
        if self.has_body_size_rules() {
            self.holding = true;
            return Step::Pause;
        }
        Step::Continue
    }

    /// `buffered_bytes` is the whole body received so far (the host's size while paused).
    pub fn on_request_body(&mut self, buffered_bytes: u64, end_of_stream: bool) -> Step {
        if !self.holding || self.rejected {
            return Step::Continue;
        }
        self.record.request_bytes = buffered_bytes;
        if let Some(rejection) = self.check_body_size(buffered_bytes, false) {
            return self.reject(rejection);
        }
        if end_of_stream {
            self.holding = false;
            Step::Continue
        } else {
            Step::Pause
        }
    }

    pub fn on_response_headers(&mut self, status: u16) {
        self.record.status = Some(status);
    }

    /// The record of what was decided, for the log at stream end.
    pub fn record(&self) -> &DecisionRecord {
        &self.record
    }

    fn has_body_size_rules(&self) -> bool {
        self.policy
            .rules
            .iter()
            .any(|rule| matches!(rule.check, Check::RequestBodySize { .. }))
    }

    /// Records every size rule `bytes` breaks; returns the rejection if one is enforced.
    fn check_body_size(&mut self, bytes: u64, known_length: bool) -> Option<Rejection> {
        let mut rejection = None;
        let enforcing = self.policy.mode == Mode::Enforce;
        for rule in &self.policy.rules {
            let Check::RequestBodySize { max_bytes } = rule.check;
            if bytes <= max_bytes || self.record.findings.iter().any(|f| f.rule == rule.id) {
                continue;
            }
            let enforced = enforcing && rule.action == Action::Block;
            self.record.findings.push(Finding {
                rule: rule.id.clone(),
                code: ErrorCode::RequestTooLarge,
                action: rule.action,
                enforced,
            });
            if enforced && rejection.is_none() {
                rejection = Some(Rejection {
                    code: ErrorCode::RequestTooLarge,
                    message: body_size_message(bytes, max_bytes, known_length),
                    rule: rule.id.clone(),
                    param: None,
                });
            }
        }
        rejection
    }

    fn reject(&mut self, rejection: Rejection) -> Step {
        self.rejected = true;
        self.holding = false;
        self.record.decision = Decision::Block;
        self.record.status = Some(rejection.status());
        Step::Reject(rejection)
    }
}

/// The client-facing reason. A body measured while it arrives is cut at the limit, and how
/// much had arrived depends on network chunking, so only a declared length is quoted.
fn body_size_message(bytes: u64, max_bytes: u64, known_length: bool) -> String {
    if known_length {
        format!("request body of {bytes} bytes is over the limit of {max_bytes} bytes")
    } else {
        format!("request body is over the limit of {max_bytes} bytes")
    }
}
