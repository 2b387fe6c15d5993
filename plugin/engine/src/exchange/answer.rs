//! A buffered answer (PSF OV-1..OV-5, HO-2, DG-1): schema, content, PII, links, confidence,
//! refusal and edge states, and human review of held tool calls.

use super::*;

impl Exchange {
    /// HO-2: an answer calling a tool the route holds goes out only with a valid approval;
    /// without one the client gets 202 and a ticket, and the call goes to the review queue.
    pub(super) fn review(
        &mut self,
        route: &Route,
        review: &Review,
        answer: &Value,
    ) -> Option<ResponseStep> {
        let call = crate::controls::review::held_call(answer, review)?;
        // The ticket names this exact request: a replay with the same body gets the same one.
        let ticket: String = self
            .record
            .prompt_sha256
            .as_deref()
            .unwrap_or_default()
            .chars()
            .take(24)
            .collect();
        let rule = format!("{}.review", route.id);
        let now = self.store.now_ms();
        let rejection = match self.approval.as_deref() {
            Some(presented) => {
                match crate::controls::review::check_approval(&review.key, &ticket, presented, now)
                {
                    Ok(()) => {
                        self.found(rule, ErrorCode::PendingHumanReview, FindingAction::Log);
                        return None;
                    }
                    Err(why) => Rejection::new(
                        ErrorCode::ApprovalInvalid,
                        rule,
                        format!("the tool call {:?} was not released: {why}", call.tool),
                    )
                    .at(ticket),
                }
            }
            None => {
                let expires = crate::audit::time::rfc3339(now + review.ttl_ms);
                let arguments = redact_all(self.scanner(), &call.arguments.to_string());
                self.review_item = Some(
                    serde_json::json!({
                        "type": "psf.review", "ticket": ticket, "route": route.id,
                        "request_id": self.record.request_id, "tool": call.tool,
                        "arguments": arguments, "review_by": expires,
                    })
                    .to_string(),
                );
                Rejection::new(ErrorCode::PendingHumanReview, rule, format!(
                        "the answer calls {:?}, which a person must approve; replay this request with x-psf-approval once ticket {ticket} is approved",
                        call.tool
                    )).at(ticket)
            }
        };
        self.answer_state(StateAction::Replace, rejection)
            .map(ResponseStep::Reject)
    }

    /// The held tool call and the route's review queue to post it to, once; `None` when
    /// nothing is held or the route names no queue.
    pub fn take_review_item(&mut self) -> Option<(ReviewQueue, String)> {
        let item = self.review_item.take()?;
        let queue = self.current_route()?.review.as_ref()?.queue.clone()?;
        Some((queue, item))
    }

    /// Headers for the model's response on a route: `x-ai-generated: true` and the
    /// disclosure text (HO-3), and the route's autonomy level (HO-1).
    pub fn response_marks(&self) -> Vec<(&'static str, String)> {
        let Some(route) = self
            .current_route()
            .filter(|_| self.phase != Phase::Rejected)
        else {
            return Vec::new();
        };
        let mut marks = Vec::new();
        if route.disclosure.header {
            marks.push(("x-ai-generated", "true".to_string()));
        }
        if let Some(text) = &route.disclosure.text {
            marks.push(("x-ai-disclosure", text.clone()));
        }
        if let Some(autonomy) = route.autonomy {
            marks.push(("x-psf-autonomy", autonomy.as_str().to_string()));
        }
        marks
    }

    /// Codes of the findings that flag this request, for the `x-psf-flags` header.
    pub fn flags(&self) -> &[&'static str] {
        &self.flags
    }

    /// OV-4: records the answer's log-probabilities and applies the route's threshold. A
    /// rejection comes back only for `block`, in enforce mode, while the answer can still be
    /// replaced (`replaceable`; a stream has gone out by its end, so it is only flagged).
    pub(super) fn judge_confidence(
        &mut self,
        route: &Route,
        logprobs: &[f64],
        replaceable: bool,
    ) -> Option<ResponseStep> {
        let summary = summarise(logprobs)?;
        self.record.confidence = Some(summary);
        let rule = route.confidence?;
        if summary.mean >= rule.min_mean_logprob {
            return None;
        }
        self.low_confidence = Some(format!("mean_logprob={:.3}", summary.mean));
        let rejection = Rejection::new(ErrorCode::LowConfidence, format!("{}.confidence", route.id), format!(
                "the model's answer has a mean token log-probability of {:.3}, under this route's {}",
                summary.mean, rule.min_mean_logprob
            ));
        let action = match rule.action {
            LowConfidence::Block if replaceable => StateAction::Replace,
            LowConfidence::Block | LowConfidence::Flag => StateAction::Flag,
        };
        self.answer_state(action, rejection)
            .map(ResponseStep::Reject)
    }

    /// `x-psf-low-confidence` for an answer under its route's threshold.
    pub fn low_confidence(&self) -> Option<&str> {
        self.low_confidence.as_deref()
    }

    /// The error that replaces the response after [`ResponsePlan::Refuse`].
    /// The answer `body` decoded from the upstream's `content-encoding`.
    pub fn decoded_answer(&self, body: &[u8]) -> Result<Vec<u8>, DecodeError> {
        decode(self.response_coding, body, DEFAULT_MAX_DECODED)
    }

    pub fn take_refusal(&mut self) -> Option<Rejection> {
        self.refusal.take()
    }

    /// A complete buffered response body (after [`ResponsePlan::Buffer`]).
    pub fn on_response_body(&mut self, body: &[u8]) -> ResponseStep {
        let policy = Rc::clone(&self.policy);
        let Some(route) = self.route.and_then(|i| policy.routes.get(i)) else {
            return ResponseStep::Continue;
        };
        let enforce = self.mode == Mode::Enforce;
        let decoded;
        let body = if self.response_coding == Coding::Identity {
            body
        } else {
            match decode(self.response_coding, body, DEFAULT_MAX_DECODED) {
                Ok(bytes) => {
                    decoded = bytes;
                    decoded.as_slice()
                }
                Err(error) => {
                    let rejection = Rejection::new(
                        ErrorCode::OutputUnreadable,
                        format!("{}.encoded_bodies", route.id),
                        decode_message(&error, "model's response"),
                    );
                    return self
                        .answer_state(StateAction::Replace, rejection)
                        .map_or(ResponseStep::Continue, ResponseStep::Reject);
                }
            }
        };
        if !self.json_answer {
            return self.inspect_other_body(route, body);
        }
        let parsed = serde_json::from_slice::<Value>(body);
        if parsed.is_err() {
            let rejection = Rejection::new(
                ErrorCode::MalformedOutput,
                format!("{}.output_errors.malformed_output", route.id),
                "the model provider's answer is not valid JSON",
            );
            return self
                .answer_state(route.output_errors.malformed_output, rejection)
                .map_or(ResponseStep::Continue, ResponseStep::Reject);
        }
        self.record.response_sha256 = Some(sha256_hex(body));
        if let Ok(answer) = &parsed {
            self.usage.read(answer);
            let (texts, _) = answer_parts(answer);
            self.answer_chars = texts.iter().map(|(_, t)| t.chars().count()).sum();
            if self.wants_text {
                let texts: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
                self.answer_text = Some(texts.join("\n"));
            }
        }
        if let (Ok(answer), Some(review)) = (&parsed, &route.review) {
            if let Some(step) = self.review(route, review, answer) {
                return step;
            }
        }
        if let Ok(answer) = &parsed {
            let mut logprobs = Vec::new();
            token_logprobs(answer, &mut logprobs);
            if let Some(step) = self.judge_confidence(route, &logprobs, true) {
                return step;
            }
            for state in answer_states(answer) {
                let action = route.output_errors.for_state(state);
                if let Some(refusal) = self.answer_state(action, state.rejection(&route.id)) {
                    return ResponseStep::Reject(refusal);
                }
            }
        }
        if let (Some(contract), Ok(answer)) = (&route.output_schema, &parsed) {
            if let Some(violation) = contract.check(answer) {
                let rejection = violation.rejection(&route.id);
                let action = match contract.action {
                    SchemaAction::Block => StateAction::Replace,
                    SchemaAction::Flag => StateAction::Flag,
                };
                if let Some(refusal) = self.answer_state(action, rejection) {
                    return ResponseStep::Reject(refusal);
                }
            }
        }
        let mut guard = OutputGuard::new(
            route,
            &mut self.masker,
            (&mut self.flagged, &mut self.watch),
            enforce,
        );
        let result = filter_body(body, &mut guard);
        self.finish_response(route, result.as_ref().err());
        let moderation = route
            .content
            .as_ref()
            .and_then(|c| c.moderation.as_ref())
            .filter(|m| m.responses);
        if let (Some(settings), Ok(_), Ok(answer)) = (moderation, &result, &parsed) {
            // The model's own words: placeholders stay masked for the service.
            let (texts, _) = answer_parts(answer);
            let texts: Vec<String> = texts.into_iter().map(|(_, t)| t).collect();
            if !texts.iter().all(|t| t.trim().is_empty()) {
                self.pending_answer = Some(match result {
                    Ok(Some(body)) if enforce => ResponseStep::Replace(body),
                    _ => ResponseStep::Continue,
                });
                return ResponseStep::Consult(settings.call(&texts));
            }
        }
        match result {
            Ok(Some(body)) if enforce => ResponseStep::Replace(body),
            Err(rejection) if enforce => ResponseStep::Reject(rejection),
            // Monitor mode: recorded above, never changed.
            Ok(_) | Err(_) => ResponseStep::Continue,
        }
    }

    /// A body that is not a 2xx JSON answer (an error body, or an answer labelled text or
    /// nothing): its strings if it is JSON, else its text, pass the output checks whole.
    pub(super) fn inspect_other_body(&mut self, route: &Route, body: &[u8]) -> ResponseStep {
        self.record.response_sha256 = Some(sha256_hex(body));
        let enforce = self.mode == Mode::Enforce;
        let mut guard = OutputGuard::new(
            route,
            &mut self.masker,
            (&mut self.flagged, &mut self.watch),
            enforce,
        );
        let result = if body.is_empty() {
            Ok(None)
        } else if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
            filter_body(body, &mut guard)
        } else {
            match std::str::from_utf8(body) {
                Ok(text) => guard
                    .filter("", text)
                    .and_then(|new| guard.finish(None).map(|()| new))
                    .map(|new| new.map(String::into_bytes)),
                Err(_) => Err(Rejection::new(
                    ErrorCode::OutputUnreadable,
                    format!("{}.response", route.id),
                    "the model provider's answer is neither JSON nor text, so it \
                              could not be checked",
                )),
            }
        };
        self.finish_response(route, result.as_ref().err());
        match result {
            Ok(Some(body)) if enforce => ResponseStep::Replace(body),
            Err(rejection) if enforce => ResponseStep::Reject(rejection),
            Ok(_) | Err(_) => ResponseStep::Continue,
        }
    }
}
