//! The end of an exchange (PSF IG-3, IG-4, OM-3, OM-5): limits settled, strikes and
//! alerts, and the decision record.

use super::*;

impl Exchange {
    /// The request left the filter for the upstream.
    pub fn mark_forwarded(&mut self) {
        self.forwarded_ms.get_or_insert(self.store.now_ms());
    }

    /// The first byte of the response body arrived.
    pub fn mark_first_byte(&mut self) {
        if let (Some(sent), None) = (self.forwarded_ms, self.record.latency.first_byte_ms) {
            self.record.latency.first_byte_ms = Some(self.store.now_ms().saturating_sub(sent));
        }
    }

    /// Whether the audit record was made ([`Exchange::finish`] ran).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// What the client actually got, from the host once the stream is over (Envoy's
    /// `response.code` and `response.code_details` at its log phase): a local reply of the
    /// host's own (a body over its buffer limit, an upstream reset mid-body) replaces the
    /// status the record would otherwise claim. Call it before [`Exchange::finish`].
    pub fn on_client_status(&mut self, status: u16, detail: Option<&str>) {
        if self.finished || status == 0 || self.record.status == Some(status) {
            return;
        }
        self.record.status = Some(status);
        self.record.status_detail = detail.map(|d| {
            d.chars()
                .filter(|c| c.is_ascii_graphic())
                .take(128)
                .collect()
        });
    }

    /// The exchange is over (the answer ended, the filter answered, or the stream was reset):
    /// settles limits and returns the audit record, once; later calls return `None`.
    pub fn finish(&mut self) -> Option<String> {
        if self.finished {
            return None;
        }
        self.finished = true;
        self.on_stream_done();
        let now = self.store.now_ms();
        self.record.latency.total_ms = Some(now.saturating_sub(self.record.started_ms));
        if let ResponseRead::Stream(rewriter) = &mut self.response {
            self.record.response_sha256 = rewriter.take_hash();
            if self.wants_text {
                self.answer_text = rewriter.transcript().map(|t| {
                    t.texts
                        .iter()
                        .map(|(_, text)| text.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                });
            }
        }
        if self.wants_text {
            let scanner = self.scanner();
            self.record.redacted = Some(Redacted {
                prompt: redact_all(scanner, self.prompt_text.as_deref().unwrap_or_default()),
                response: redact_all(scanner, self.answer_text.as_deref().unwrap_or_default()),
            });
        }
        Some(self.record.to_json(&self.policy))
    }

    /// The exchange is over: [`Exchange::finish`] and everything the host does with it,
    /// once. `None` if it was concluded already.
    pub fn conclude(&mut self) -> Option<Concluded> {
        let record = self.finish()?;
        let policy = Rc::clone(&self.policy);
        Some(Concluded {
            record,
            collector: policy.audit.collector.clone(),
            metrics: exchange_metrics(&self.record, &policy),
            alerts: self.take_alerts(),
            webhook: policy.abuse.as_ref().is_some_and(|a| a.webhook.is_some()),
        })
    }

    /// Settles the request's limits with the tokens it used and counts its strike, once.
    /// Used tokens are the provider's usage, or the estimates where it reported none.
    pub(super) fn settle_limits(&mut self) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        let (mut usage, mut answer_chars) = (self.usage, self.answer_chars);
        if let ResponseRead::Stream(rewriter) = &self.response {
            usage = rewriter.usage();
            answer_chars = rewriter.answer_bytes();
        }
        // A request the filter refused never reached the model: it used nothing. Only a body
        // the filter read has tokens to count.
        let read = self.record.prompt_sha256.is_some();
        let used = (self.phase != Phase::Rejected && read).then(|| {
            let prompt = usage.prompt.unwrap_or(self.reserved.prompt);
            let completion = usage
                .completion
                .unwrap_or((answer_chars as u64).div_ceil(4));
            self.record.tokens = Some(crate::audit::record::Tokens {
                prompt,
                completion,
                reported: usage.is_complete(),
            });
            (prompt, completion)
        });
        if !self.limits() {
            return;
        }
        let strike = self.record.findings.iter().find_map(strike_of);
        let policy = Rc::clone(&self.policy);
        let request_id = self.record.request_id.clone();
        self.rate
            .finish(&policy, self.store.as_ref(), used, strike, &request_id);
        self.record.limit_key = self.rate.key().map(str::to_string);
    }

    /// Alerts raised while the request ran (suspensions, contention), for the host to log,
    /// count and post; taken once.
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        self.rate.take_alerts()
    }

    /// Headers for the client about its limits: `x-ratelimit-*` on admitted responses when
    /// the policy says so, and with `retry-after` on a refusal.
    pub fn limit_headers(&self) -> &[(&'static str, String)] {
        let refused = self
            .rate
            .headers()
            .first()
            .is_some_and(|(name, _)| *name == "retry-after");
        let on_admitted = self
            .policy
            .rate_limits
            .as_ref()
            .is_some_and(|r| r.response_headers);
        if refused || on_admitted {
            self.rate.headers()
        } else {
            &[]
        }
    }

    /// The export header and its value (`<limit id>:<key hash>`), for a fleet-wide
    /// rate-limit service after this filter.
    pub fn limit_export(&self) -> Option<(&str, &str)> {
        let name = self.policy.rate_limits.as_ref()?.export_header.as_deref()?;
        Some((name, self.rate.export()?))
    }

    /// Records what the output side found.
    pub(super) fn finish_response(&mut self, route: &Route, refused: Option<&Rejection>) {
        self.record.entities = self.masker.tallies().to_vec();
        // Notes are flags and logs: never enforced.
        for (note, action) in std::mem::take(&mut self.watch.notes) {
            self.found(note.rule, note.code, action);
        }
        if self.watch.off_scope.take().is_some() {
            let rule = format!("{}.content_filter.scope", route.id);
            self.found(rule, ErrorCode::OutOfScope, FindingAction::Flag);
        }
        if let Some(action) = self.watch.links.take() {
            // The guard strips links only when it enforces, so a strip is enforced.
            let rule = format!("{}.links", route.id);
            self.found(rule, ErrorCode::ContentFiltered, action);
        }
        for category in std::mem::take(&mut self.flagged) {
            let rule = format!("{}.content_filter.{category}", route.id);
            if !self.record.findings.iter().any(|f| f.rule == rule) {
                self.found(rule, ErrorCode::ContentFiltered, FindingAction::Flag);
            }
        }
        // Collected first: the masker's tallies are borrowed while the findings grow.
        let mut pii_findings: Vec<(String, FindingAction)> = Vec::new();
        for tally in self.masker.tallies() {
            if tally.direction != crate::detect::pii::settings::Direction::Response
                || tally.action == crate::detect::pii::action::PiiAction::Allow
            {
                continue;
            }
            let rule = format!("{}.pii.{}", route.id, tally.type_name);
            let recorded =
                |rules: &[(String, FindingAction)]| rules.iter().any(|(r, _)| *r == rule);
            if recorded(&pii_findings)
                || self
                    .record
                    .findings
                    .iter()
                    .any(|f| f.rule == rule && f.code == ErrorCode::PiiInOutput)
            {
                continue;
            }
            let action = if tally.action == crate::detect::pii::action::PiiAction::Block {
                FindingAction::Block
            } else {
                FindingAction::Mask
            };
            pii_findings.push((rule, action));
        }
        for (rule, action) in pii_findings {
            self.found(rule, ErrorCode::PiiInOutput, action);
        }
        if let Some(rejection) = refused {
            self.answer_state(StateAction::Replace, rejection.clone());
        } else if self
            .record
            .findings
            .iter()
            .any(|f| f.code == ErrorCode::PiiInOutput && f.enforced)
            && self.record.decision == Decision::Allow
        {
            self.record.decision = Decision::Modify;
        }
    }
}

/// Whether the request with `request_id` is in the audit sample: decided from the id, so a
/// request is in or out the same way wherever its record is looked at.
pub(super) fn sampled(request_id: &str, per_million: u32) -> bool {
    let hash = request_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    hash % 1_000_000 < u64::from(per_million)
}

/// The abuse strike an enforced finding counts as, if any.
pub(super) fn strike_of(finding: &Finding) -> Option<Strike> {
    if !finding.enforced || finding.action != FindingAction::Block {
        return None;
    }
    match finding.code {
        ErrorCode::PromptInjection => Some(Strike::Injection),
        ErrorCode::PiiDetected | ErrorCode::PiiInOutput => Some(Strike::Pii),
        ErrorCode::RateLimitExceeded => Some(Strike::RateLimited),
        ErrorCode::InvalidJson
        | ErrorCode::InvalidRequest
        | ErrorCode::InvalidUtf8
        | ErrorCode::UnsupportedContentType
        | ErrorCode::RequestTooLarge
        | ErrorCode::TooManyMessages
        | ErrorCode::MessageTooLong
        | ErrorCode::PromptTooLong
        | ErrorCode::TooManyTokens
        | ErrorCode::MaxTokensExceeded
        | ErrorCode::ModelNotAllowed
        | ErrorCode::StreamNotAllowed
        | ErrorCode::TooManyChoices
        | ErrorCode::ToolNotAllowed => Some(Strike::Schema),
        _ => None,
    }
}

/// What a finished exchange asks of the host (PSF OM-1, OM-3, OM-5): its decision record to
/// seal and send to every sink, its metric updates, and its alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Concluded {
    /// The record as JSON, before sealing (the chain is the VM's).
    pub record: String,
    /// Where records are batched to, when the policy names a collector.
    pub collector: Option<Collector>,
    pub metrics: Vec<Metric>,
    pub alerts: Vec<Alert>,
    /// The policy posts alerts to a webhook.
    pub webhook: bool,
}
