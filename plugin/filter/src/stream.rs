//! One HTTP stream: reads what the engine needs from the host and carries out its steps.

use crate::alerts;
use crate::audit;
use crate::header_hold::{self, release_request_headers, Hold, Leaving};
use crate::host;
use crate::metrics;
use crate::outbox;
use crate::shared::HostStore;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel, MapType, Status};
use psf_engine::detect::content::ModerationCall;
use psf_engine::{
    AnswerEffects, Delivery, ErrorCode, Exchange, Policy, Rejection, RequestFacts,
    RequestHeadEffects, ResponsePlan, ResponseStep, Step,
};
use std::rc::Rc;
use std::time::Duration;

pub struct GuardStream {
    context_id: u32,
    /// `None` only if the host created a stream without a configured policy;
    /// such a stream fails closed.
    exchange: Option<Exchange>,
    /// How the response body is read, decided at its headers.
    response: ResponsePlan,
    /// The moderation call the held request waits on.
    moderation_call: Option<u32>,
    /// The moderation call the held answer waits on, and the answer's buffered size.
    answer_call: Option<(u32, usize)>,
    /// The request, and the answer, came with a `content-encoding`: a body the engine
    /// rewrites goes on decoded, so the header goes.
    request_encoded: bool,
    response_encoded: bool,
    /// Headers that left before their body was inspected, because the host does not hold
    /// them ([`header_hold`]): they can no longer change.
    request_headers_left: bool,
    response_headers_left: bool,
    /// This stream holds its request headers to learn whether the host holds them.
    probing: bool,
    /// `content-encoding` went before the body was read, so the body goes on decoded
    /// whether or not it is rewritten.
    request_goes_decoded: bool,
    response_goes_decoded: bool,
    /// The error for an answer refused at its headers; once they have left, its body.
    refusal: Option<AnswerEffects>,
}

impl GuardStream {
    pub fn new(context_id: u32, policy: Option<Rc<Policy>>) -> Self {
        Self {
            context_id,
            exchange: policy.map(|p| Exchange::with_store(p, Rc::new(HostStore))),
            response: ResponsePlan::PassThrough,
            moderation_call: None,
            answer_call: None,
            request_encoded: false,
            response_encoded: false,
            request_headers_left: false,
            response_headers_left: false,
            probing: false,
            request_goes_decoded: false,
            response_goes_decoded: false,
            refusal: None,
        }
    }

    fn apply(&mut self, step: Step) -> Action {
        let reply = match &self.exchange {
            Some(exchange) => exchange.local_reply(&step),
            None => match &step {
                Step::Reject(rejection) => Some(rejection.reply(
                    &host::header(MapType::HttpRequestHeaders, "x-request-id").unwrap_or_default(),
                )),
                _ => None,
            },
        };
        if let Some(reply) = reply {
            let headers: Vec<(&str, &str)> = reply
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .collect();
            host::send_local_response(reply.status, &headers, &reply.body);
            return Action::Pause;
        }
        match step {
            Step::Continue => Action::Continue,
            // NeedBody, Replace and Consult only follow a complete body; the body callback
            // handles them.
            _ => Action::Pause,
        }
    }
}

impl GuardStream {
    /// Sends a moderation call the engine asked for: its token, or why the host refused it.
    fn consult(&self, call: &ModerationCall) -> Result<u32, Status> {
        let headers: Vec<(&str, &str)> = call
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let timeout = Duration::from_millis(call.timeout_ms);
        self.dispatch_http_call(&call.cluster, headers, Some(&call.body), vec![], timeout)
    }
}

impl Context for GuardStream {
    fn on_http_call_response(&mut self, token: u32, headers: usize, size: usize, _: usize) {
        // Envoy reports a failed or timed-out call as a response without headers.
        let status = (headers > 0)
            .then(|| host::header(MapType::HttpCallResponseHeaders, ":status"))
            .flatten()
            .and_then(|s| s.parse().ok());
        if let Some((call, body_size)) = self.answer_call {
            if call == token {
                self.answer_call = None;
                let answer = self.answer_delivery();
                if let Some(exchange) = self.exchange.as_mut() {
                    let step =
                        exchange.on_response_moderation(status, &host::call_response_body(size));
                    let body = host::response_body(body_size);
                    carry_out(&exchange.deliver(step, &body, answer), body_size);
                }
                self.resume_http_response();
                self.conclude();
            }
            return;
        }
        if self.moderation_call != Some(token) {
            return;
        }
        self.moderation_call = None;
        let Some(exchange) = self.exchange.as_mut() else {
            return;
        };
        let body = host::call_response_body(size);
        let effects = exchange.on_moderation_done(status, &body, !self.request_headers_left);
        set_request_headers(&effects.set_headers);
        if effects.step == Step::Continue {
            exchange.mark_forwarded();
            self.resume_http_request();
        } else {
            self.apply(effects.step);
        }
    }
}

impl HttpContext for GuardStream {
    fn on_http_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        let started = host::now_ns();
        let action = self.request_headers(num_headers, end_of_stream);
        // Headers that leave ahead of their body do not mark the request forwarded.
        let forwarded = if self.request_headers_left {
            Action::Pause
        } else {
            action
        };
        self.took(started, false, forwarded);
        action
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let started = host::now_ns();
        let action = self.request_body(body_size, end_of_stream);
        if end_of_stream {
            self.took(started, false, action);
        } else {
            self.took(started, false, Action::Pause);
        }
        action
    }

    fn on_http_response_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        let started = host::now_ns();
        let action = self.response_headers(num_headers, end_of_stream);
        self.took(started, true, Action::Pause);
        if end_of_stream {
            self.conclude();
        }
        action
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let started = host::now_ns();
        if let Some(exchange) = self.exchange.as_mut() {
            exchange.mark_first_byte();
        }
        let action = self.response_body(body_size, end_of_stream);
        if let Some((queue, item)) = self.exchange.as_mut().and_then(Exchange::take_review_item) {
            outbox::push(queue, item);
        }
        self.took(started, true, Action::Pause);
        if end_of_stream && self.answer_call.is_none() {
            self.conclude();
        }
        action
    }

    /// Streams reset before their end get their record here (Envoy's access log has run by
    /// now, so only the log line and the other sinks carry it).
    fn on_log(&mut self) {
        if self.probing {
            header_hold::stream_done(self.context_id);
        }
        if let Some(exchange) = self.exchange.as_mut().filter(|e| !e.finished()) {
            // The status the client got, which differs from the filter's when Envoy itself
            // answered (a body over its buffer limit, an upstream reset mid-body).
            if let Some(code) = host::property_u64(&["response", "code"]) {
                let detail = host::property(&["response", "code_details"]);
                exchange.on_client_status(u16::try_from(code).unwrap_or(0), detail.as_deref());
            }
        }
        self.conclude();
    }
}

impl GuardStream {
    /// Adds a callback's processing time; a request phase that lets the request go marks
    /// the moment it left for the upstream.
    fn took(&mut self, started: u64, response: bool, action: Action) {
        if let Some(exchange) = self.exchange.as_mut() {
            let micros = host::now_ns().saturating_sub(started) / 1000;
            exchange.callback_done(response, micros, action == Action::Continue);
        }
    }

    /// The exchange is over: its audit record goes to every sink, then its metrics and alerts.
    fn conclude(&mut self) {
        let Some(exchange) = self.exchange.as_mut() else {
            return;
        };
        let Some(done) = exchange.conclude() else {
            return;
        };
        audit::emit(&done.record, done.collector.as_ref());
        metrics::update(&done.metrics);
        for alert in &done.alerts {
            alerts::raise(alert, done.webhook);
        }
    }

    fn request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            host::event(
                LogLevel::Critical,
                "policy_unavailable",
                serde_json::json!({"reason": "stream without a policy; failing closed"}),
            );
            let rejection = Rejection::new(
                ErrorCode::PolicyUnavailable,
                "psf-guard",
                "the safety filter has no valid policy, so the request was not forwarded",
            );
            return self.apply(Step::Reject(rejection));
        };
        // One host call for all headers: each value read is a round trip into the host
        // and back into the module's allocator, and this runs on every request.
        let headers = host::headers(MapType::HttpRequestHeaders);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        let count = |name: &str| headers.iter().filter(|(key, _)| key == name).count();
        let effects = exchange.on_request_head(&RequestFacts {
            header: &header,
            count: &count,
            property: &|path: &[&str]| host::property(path),
            end_of_stream,
        });
        for name in &effects.remove_headers {
            host::set_header(MapType::HttpRequestHeaders, name, None);
        }
        set_request_headers(&effects.set_headers);
        if effects.clear_route_cache {
            host::clear_route_cache();
        }
        self.request_encoded = header("content-encoding").is_some();
        if effects.step == Step::Pause {
            return self.hold_for_body(&header, &effects);
        }
        self.apply(effects.step)
    }

    /// The engine waits for the body. The headers stay held where the host holds them;
    /// elsewhere they leave now, readied to go ahead of a body that may change.
    fn hold_for_body<'h>(
        &mut self,
        header: &dyn Fn(&str) -> Option<&'h str>,
        effects: &RequestHeadEffects,
    ) -> Action {
        let leaving = Leaving {
            encoded: self.request_encoded,
            admin: effects.admin && header("authorization").is_some(),
        };
        if header_hold::may_hold(self.context_id, leaving) {
            self.probing = header_hold::hold() == Hold::Unknown;
            return Action::Pause;
        }
        release_request_headers(leaving);
        self.request_goes_decoded = self.request_encoded;
        set_request_headers(&effects.set_if_released);
        self.request_headers_left = true;
        Action::Continue
    }

    fn request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if self.probing {
            self.probing = false;
            self.request_headers_left = !header_hold::body_arrived(self.context_id);
            // The probe's timer readied its headers as they left.
            self.request_goes_decoded = self.request_headers_left && self.request_encoded;
        }
        let held = !self.request_headers_left;
        let delivery = Delivery {
            headers_held: held,
            encoded: self.request_encoded,
            goes_decoded: self.request_goes_decoded,
        };
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Pause;
        };
        let effects = exchange.on_request_body_read(
            body_size as u64,
            end_of_stream,
            &|| host::request_body(body_size),
            delivery,
        );
        for name in &effects.remove_headers {
            host::set_header(MapType::HttpRequestHeaders, name, None);
        }
        for (name, value) in &effects.set_headers {
            host::set_header(MapType::HttpRequestHeaders, name, Some(value));
        }
        if let Some(body) = &effects.body {
            host::replace_request_body(body_size, body, effects.set_length);
        }
        let Some(call) = effects.consult else {
            return self.apply(effects.step);
        };
        match self.consult(&call) {
            Ok(token) => {
                self.moderation_call = Some(token);
                Action::Pause
            }
            Err(status) => {
                host::event(
                    LogLevel::Warn,
                    "moderation_call_failed",
                    serde_json::json!({
                        "cluster": call.cluster,
                        "status": format!("{status:?}"),
                        "request_id": effects.request_id,
                    }),
                );
                let Some(exchange) = self.exchange.as_mut() else {
                    return Action::Pause;
                };
                let effects = exchange.on_moderation_done(None, &[], held);
                set_request_headers(&effects.set_headers);
                if effects.step == Step::Continue {
                    return Action::Continue;
                }
                self.apply(effects.step)
            }
        }
    }

    fn response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        let headers = host::headers(MapType::HttpResponseHeaders);
        let header = |name: &str| {
            headers
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        self.response_encoded = header("content-encoding").is_some();
        let effects = exchange.on_response_head(&header);
        for (name, value) in &effects.set_headers {
            host::set_header(MapType::HttpResponseHeaders, name, Some(value));
        }
        let plan = effects.plan;
        self.refusal = effects.refusal;
        self.response = if end_of_stream {
            ResponsePlan::PassThrough
        } else {
            plan
        };
        if header_hold::hold() != Hold::Held
            && matches!(self.response, ResponsePlan::Buffer | ResponsePlan::Refuse)
        {
            return self.release_response_headers(header("content-length").is_some());
        }
        match self.response {
            ResponsePlan::PassThrough => Action::Continue,
            // Held until the whole body is read, so content-length can be set to match.
            ResponsePlan::Buffer => Action::Pause,
            ResponsePlan::Stream => {
                // The rewritten stream's length differs from the upstream's.
                host::set_header(MapType::HttpResponseHeaders, "content-length", None);
                Action::Continue
            }
            // Held like a buffered body, which is then replaced by the error.
            ResponsePlan::Refuse => Action::Pause,
        }
    }

    /// The host would not deliver the body of paused response headers, so they leave now:
    /// an answer refused at its headers gets its status and error headers first; a body
    /// that may change loses `content-length` (and goes decoded if it was encoded).
    fn release_response_headers(&mut self, has_length: bool) -> Action {
        self.response_headers_left = true;
        if has_length {
            host::set_header(MapType::HttpResponseHeaders, "content-length", None);
        }
        if self.response == ResponsePlan::Refuse {
            if let Some(refusal) = self.refusal.as_mut() {
                // The error's status and headers go now; its body replaces the answer's.
                set_response_headers(refusal);
                refusal.set_headers.clear();
                refusal.remove_headers.clear();
                refusal.set_length = false;
            }
        } else if self.response_encoded {
            host::set_header(MapType::HttpResponseHeaders, "content-encoding", None);
            self.response_goes_decoded = true;
        }
        Action::Continue
    }

    /// How a complete answer is written back.
    fn answer_delivery(&self) -> Delivery {
        Delivery {
            headers_held: !self.response_headers_left,
            encoded: self.response_encoded,
            goes_decoded: self.response_goes_decoded,
        }
    }

    fn response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let answer = self.answer_delivery();
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        match self.response {
            ResponsePlan::PassThrough => Action::Continue,
            ResponsePlan::Buffer | ResponsePlan::Refuse if !end_of_stream => Action::Pause,
            ResponsePlan::Refuse => {
                if let Some(refusal) = self.refusal.take() {
                    carry_out(&refusal, body_size);
                }
                Action::Continue
            }
            ResponsePlan::Buffer => {
                let body = host::response_body(body_size);
                let step = exchange.on_response_body(&body);
                if let ResponseStep::Consult(call) = step {
                    let sent = self.consult(&call);
                    let Some(exchange) = self.exchange.as_mut() else {
                        return Action::Continue;
                    };
                    match sent {
                        Ok(token) => {
                            self.answer_call = Some((token, body_size));
                            return Action::Pause;
                        }
                        Err(_) => {
                            let step = exchange.on_response_moderation(None, &[]);
                            carry_out(&exchange.deliver(step, &body, answer), body_size);
                            return Action::Continue;
                        }
                    }
                }
                carry_out(&exchange.deliver(step, &body, answer), body_size);
                Action::Continue
            }
            ResponsePlan::Stream => {
                let chunk = host::response_body(body_size);
                let out = exchange.on_response_chunk(&chunk, end_of_stream);
                if out != chunk {
                    host::replace_response_body(body_size, &out, false);
                }
                Action::Continue
            }
        }
    }
}

/// Sets and removes the response headers `effects` name, while they can still change.
fn set_response_headers(effects: &AnswerEffects) {
    for (name, value) in &effects.set_headers {
        host::set_header(MapType::HttpResponseHeaders, name, Some(value));
    }
    for name in &effects.remove_headers {
        host::set_header(MapType::HttpResponseHeaders, name, None);
    }
}

/// Carries out what the engine decided for a complete answer of `body_size` bytes.
fn carry_out(effects: &AnswerEffects, body_size: usize) {
    set_response_headers(effects);
    if let Some(body) = &effects.body {
        host::replace_response_body(body_size, body, effects.set_length);
    }
}

/// Sets request headers the engine named, while they can still change.
fn set_request_headers(headers: &[(String, String)]) {
    for (name, value) in headers {
        host::set_header(MapType::HttpRequestHeaders, name, Some(value));
    }
}
