//! How an exchange records what its checks found, ends with a refusal, and words the
//! filter's own replies.

use super::*;

impl Exchange {
    /// The answer the filter sends itself for `step`, if it is one: an admin or degraded
    /// answer, or the error for a rejection. Either carries the record's request id.
    pub fn local_reply(&self, step: &Step) -> Option<Reply> {
        match step {
            Step::Answer { status, body } => Some(Reply {
                status: *status,
                headers: vec![
                    ("content-type", "application/json".to_string()),
                    (
                        request_id_header(self.api_format()),
                        self.record.request_id.clone(),
                    ),
                ],
                body: body.clone(),
            }),
            Step::Reject(rejection) => Some(self.error_reply(rejection)),
            _ => None,
        }
    }

    /// The filter's answer for `rejection`, in the route's API shape.
    pub fn error_reply(&self, rejection: &Rejection) -> Reply {
        let format = self.api_format();
        let request_id = &self.record.request_id;
        let mut headers: Vec<(&'static str, String)> = rejection
            .headers()
            .into_iter()
            .map(|(n, v)| (n, v.to_string()))
            .collect();
        headers.push((request_id_header(format), request_id.clone()));
        headers.extend(self.limit_headers().iter().cloned());
        Reply {
            status: rejection.status(),
            headers,
            body: rejection.body_for(format, request_id),
        }
    }

    /// The one way a check's result is recorded: a finding of `rule` and `code` with
    /// `action`, enforced when the policy enforces and the action changes something (see
    /// [`FindingAction::changes`]). Returns whether it is enforced. Every other outcome
    /// below is this plus what the enforced result does.
    pub(super) fn found(
        &mut self,
        rule: impl Into<String>,
        code: ErrorCode,
        action: FindingAction,
    ) -> bool {
        let enforced = self.mode == Mode::Enforce && action.changes();
        self.push_finding(rule.into(), code, action, enforced);
        enforced
    }

    /// A request check refused `rejection`: recorded as a block, and in enforce mode the
    /// end of the exchange; in monitor mode the request goes on.
    pub(super) fn refuse(&mut self, rejection: Rejection) -> Step {
        if self.found(rejection.rule.clone(), rejection.code, FindingAction::Block) {
            self.end(rejection)
        } else {
            Step::Continue
        }
    }

    /// A refusal whatever the mode: the filter's own (a path or header it cannot route
    /// safely, the admin path, an incident mode, an open breaker).
    pub(super) fn refuse_always(&mut self, rejection: Rejection) -> Step {
        let (rule, code) = (rejection.rule.clone(), rejection.code);
        self.push_finding(rule, code, FindingAction::Block, true);
        self.end(rejection)
    }

    /// A state of the answer (OV-5) handled as the route says: recorded, and with `replace`
    /// in enforce mode, the rejection that replaces the answer.
    pub(super) fn answer_state(
        &mut self,
        action: StateAction,
        rejection: Rejection,
    ) -> Option<Rejection> {
        let recorded = match action {
            StateAction::Replace => FindingAction::Block,
            StateAction::Flag => FindingAction::Flag,
            StateAction::Pass => FindingAction::Log,
        };
        if !self.found(rejection.rule.clone(), rejection.code, recorded) {
            return None;
        }
        self.record.decision = Decision::Block;
        self.record.status = Some(rejection.status());
        Some(rejection)
    }

    fn push_finding(
        &mut self,
        rule: String,
        code: ErrorCode,
        action: FindingAction,
        enforced: bool,
    ) {
        let finding = Finding::new(rule, code, action, enforced);
        self.record.findings.push(finding);
    }

    /// Ends the exchange with `rejection`, which the check that found it has recorded: the
    /// filter answers the client itself.
    pub(super) fn end(&mut self, rejection: Rejection) -> Step {
        self.phase = Phase::Rejected;
        self.record.decision = Decision::Block;
        self.record.status = Some(rejection.status());
        Step::Reject(rejection)
    }
}
