//! One way to end or record an outcome: a violation, a block, a rejection, its reply.

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

    /// A route check failed: reject in enforce mode, record and continue in monitor mode.
    pub(super) fn violation(&mut self, rejection: Rejection) -> Step {
        let enforced = self.mode == Mode::Enforce;
        self.record_block(&rejection, enforced);
        if enforced {
            self.reject(rejection)
        } else {
            Step::Continue
        }
    }

    /// Records a finding, enforced when the policy enforces and the action changes
    /// something (see [`FindingAction::changes`]); returns whether it is.
    pub(super) fn note(
        &mut self,
        rule: impl Into<String>,
        code: ErrorCode,
        action: FindingAction,
    ) -> bool {
        let enforced = self.mode == Mode::Enforce && action.changes();
        self.record
            .findings
            .push(Finding::new(rule, code, action, enforced));
        enforced
    }

    /// Records a blocking finding; an enforced one makes the decision a block.
    pub(super) fn record_block(&mut self, rejection: &Rejection, enforced: bool) {
        let finding = Finding::new(
            rejection.rule.clone(),
            rejection.code,
            FindingAction::Block,
            enforced,
        );
        self.record.findings.push(finding);
        if enforced {
            self.record.decision = Decision::Block;
        }
    }

    pub(super) fn reject(&mut self, rejection: Rejection) -> Step {
        self.phase = Phase::Rejected;
        self.record.decision = Decision::Block;
        self.record.status = Some(rejection.status());
        Step::Reject(rejection)
    }
}
