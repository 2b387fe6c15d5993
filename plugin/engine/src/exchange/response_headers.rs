//! Response headers (PSF OV-1, OV-5, MS-4): how the answer will be read, upstream error
//! states and fallback, and moderation of the answer.

use super::*;

impl Exchange {
    /// The moderation service answered about the model's answer (`status` is `None` when
    /// the call failed or timed out): the step the answer takes.
    pub fn on_response_moderation(&mut self, status: Option<u16>, body: &[u8]) -> ResponseStep {
        let Some(pending) = self.pending_answer.take() else {
            return ResponseStep::Continue;
        };
        let policy = Rc::clone(&self.policy);
        let Some(route) = self.route.and_then(|i| policy.routes.get(i)) else {
            return pending;
        };
        let Some(settings) = route.content.as_ref().and_then(|c| c.moderation.as_ref()) else {
            return pending;
        };
        let rejection = match settings.judge(status, body, &route.id, Subject::Answer) {
            Judgement::Clear => return pending,
            Judgement::Refuse(rejection) => rejection,
            Judgement::Flag(rejection) => {
                self.answer_state(StateAction::Flag, rejection);
                return pending;
            }
        };
        self.answer_state(StateAction::Replace, rejection)
            .map_or(pending, ResponseStep::Reject)
    }

    /// Whether the upstream should be asked for an uncompressed body (the adapter then
    /// drops `accept-encoding`): a compressed body cannot be read.
    pub fn wants_identity_response(&self) -> bool {
        self.current_route().is_some_and(Route::reads_responses)
    }

    /// Response headers arrived: decides how the body is read.
    pub fn on_response_headers(
        &mut self,
        status: u16,
        content_type: Option<&str>,
        content_encoding: Option<&str>,
    ) -> ResponsePlan {
        self.record.status = Some(status);
        if let Some(sent) = self.forwarded_ms {
            self.record.latency.upstream_ms = Some(self.store.now_ms().saturating_sub(sent));
        }
        let policy = Rc::clone(&self.policy);
        let Some(route) = self
            .route
            .and_then(|i| policy.routes.get(i))
            .filter(|r| self.phase != Phase::Rejected && r.reads_responses())
        else {
            return ResponsePlan::PassThrough;
        };
        let format = route.api_format();
        if let Some(fallback) = route.fallback.as_ref().filter(|f| f.counts(status)) {
            // MS-4: a failing provider counts against its breaker; `degrade` answers now.
            self.record.breaker_opened =
                crate::controls::breaker::failure(self.store.as_ref(), &route.id, fallback);
            if fallback.action == FallbackAction::Degrade && self.mode == Mode::Enforce {
                self.record.fallback = Some("degrade");
                let rejection = self.degrade_rejection(route);
                let refusal = self.answer_state(StateAction::Replace, rejection);
                return self.refused_plan(refusal);
            }
        }
        if status == 504 || status == 408 {
            // Envoy's route timeout answers 504 itself; a provider's gateway timeout says
            // the same thing: no answer came in time.
            let rejection = Rejection::new(
                ErrorCode::UpstreamTimeout,
                format!("{}.output_errors.upstream_timeout", route.id),
                format!("the model provider did not answer in time ({status})"),
            );
            let refusal = self.answer_state(route.output_errors.upstream_timeout, rejection);
            return self.refused_plan(refusal);
        }
        if status >= 500 {
            let rejection = Rejection::new(
                ErrorCode::UpstreamError,
                format!("{}.output_errors.upstream_error", route.id),
                format!("the model provider answered {status}, so there is no answer"),
            );
            let refusal = self.answer_state(route.output_errors.upstream_error, rejection);
            return self.refused_plan(refusal);
        }
        let media = content_type
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let success = (200..300).contains(&status);
        // Keyed on the route, not the label (OV-1): any body on an inspected route is read,
        // whatever its content type says, and error bodies too. Only a 2xx labelled JSON
        // is held to being a JSON answer; anything else is inspected as JSON if it parses,
        // else as text.
        self.json_answer = success && (media == "application/json" || media.ends_with("+json"));
        let plan = if success && media == "text/event-stream" {
            ResponsePlan::Stream
        } else {
            ResponsePlan::Buffer
        };
        self.response_coding = Coding::parse(content_encoding).unwrap_or(Coding::Identity);
        let decodable = plan == ResponsePlan::Buffer
            && route.encoded_bodies == EncodedBodies::Decode
            && Coding::parse(content_encoding).is_ok();
        if self.response_coding != Coding::Identity && decodable {
            // Decoded when the whole body is in (on_response_body).
        } else if content_encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
            let rejection = Rejection::new(
                ErrorCode::OutputUnreadable,
                format!("{}.response", route.id),
                "the model's response is compressed, so it could not be checked",
            );
            let refusal = self.answer_state(StateAction::Replace, rejection);
            return self.refused_plan(refusal);
        }
        self.response = match plan {
            ResponsePlan::Stream => {
                let mut rewriter = StreamRewriter::new(format, &self.record.request_id);
                // Every LLM stream: its edge states and output schema are judged whole.
                if format.is_some() {
                    rewriter.keep_transcript();
                }
                if self.hide_usage_chunk {
                    rewriter.hide_usage_chunk();
                }
                rewriter.hash_input();
                ResponseRead::Stream(Box::new(rewriter))
            }
            _ => ResponseRead::Buffer,
        };
        plan
    }
}

impl Exchange {
    /// The plan for an answer a state of it may replace ([`Exchange::answer_state`]).
    fn refused_plan(&mut self, refusal: Option<Rejection>) -> ResponsePlan {
        let Some(rejection) = refusal else {
            return ResponsePlan::PassThrough;
        };
        self.refusal = Some(rejection);
        ResponsePlan::Refuse
    }
}

/// What the response headers ask of the host: how the body is read, and the headers to set
/// on the response, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHeadEffects {
    pub plan: ResponsePlan,
    pub set_headers: Vec<(&'static str, String)>,
    /// With [`ResponsePlan::Refuse`]: the error that replaces the answer.
    pub refusal: Option<AnswerEffects>,
}

impl Exchange {
    /// Response headers arrived, read through `header`: [`Exchange::on_response_headers`]
    /// plus every header the filter puts on the answer. The SDKs read the request id from
    /// one header, so the record's id goes there and the provider's own id moves to
    /// `x-upstream-request-id`; then the flags, the limit headers and the route's marks
    /// (HO-1, HO-3).
    pub fn on_response_head<'h>(
        &mut self,
        header: &dyn Fn(&str) -> Option<&'h str>,
    ) -> ResponseHeadEffects {
        let status = header(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
        let id_header = request_id_header(self.api_format());
        let record_id = self.record.request_id.clone();
        let mut set_headers = Vec::new();
        if let Some(provider_id) = header(id_header).filter(|v| *v != record_id) {
            set_headers.push((UPSTREAM_REQUEST_ID, provider_id.to_string()));
        }
        set_headers.push((id_header, record_id));
        let plan =
            self.on_response_headers(status, header("content-type"), header("content-encoding"));
        if !self.flags.is_empty() {
            set_headers.push((FLAGS_HEADER, self.flags.join(",")));
        }
        set_headers.extend(self.limit_headers().iter().cloned());
        set_headers.extend(self.response_marks());
        let refusal = match plan {
            ResponsePlan::Refuse => self.take_refusal().map(|r| self.error_effects(&r)),
            _ => None,
        };
        ResponseHeadEffects {
            plan,
            set_headers,
            refusal,
        }
    }
}
