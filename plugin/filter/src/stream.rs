//! One HTTP stream: reads what the engine needs from the host and carries out its steps.

use crate::alerts;
use crate::audit;
use crate::host;
use crate::metrics;
use crate::outbox;
use crate::shared::HostStore;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, LogLevel, MapType, Status};
use psf_engine::content::ModerationCall;
use psf_engine::{
    ErrorCode, Exchange, Policy, Rejection, RequestHead, ResponsePlan, ResponseStep, Step,
};
use std::rc::Rc;
use std::time::Duration;

pub struct GuardStream {
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
}

impl GuardStream {
    pub fn new(policy: Option<Rc<Policy>>) -> Self {
        Self {
            exchange: policy.map(|p| Exchange::with_store(p, Rc::new(HostStore))),
            response: ResponsePlan::PassThrough,
            moderation_call: None,
            answer_call: None,
            request_encoded: false,
            response_encoded: false,
        }
    }

    fn apply(&mut self, step: Step) -> Action {
        match step {
            Step::Answer { status, body } => {
                host::send_local_response(status, &[("content-type", "application/json")], &body);
                Action::Pause
            }
            Step::Continue => Action::Continue,
            // NeedBody, Replace and Consult only follow a complete body; the body callback
            // handles them.
            Step::Pause | Step::NeedBody | Step::Replace(_) | Step::Consult { .. } => Action::Pause,
            Step::Reject(rejection) => {
                let request_id = match &self.exchange {
                    Some(exchange) => exchange.record().request_id.clone(),
                    None => host::header(MapType::HttpRequestHeaders, "x-request-id")
                        .unwrap_or_default(),
                };
                let mut headers = rejection.headers().to_vec();
                if let Some(exchange) = &self.exchange {
                    headers.extend(
                        exchange
                            .limit_headers()
                            .iter()
                            .map(|(n, v)| (*n, v.as_str())),
                    );
                }
                host::send_local_response(
                    rejection.status(),
                    &headers,
                    &rejection.body(&request_id),
                );
                Action::Pause
            }
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
                if let Some(exchange) = self.exchange.as_mut() {
                    let step =
                        exchange.on_response_moderation(status, &host::call_response_body(size));
                    apply_answer(exchange, step, body_size, self.response_encoded);
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
        let step = exchange.on_moderation(status, &body);
        if step == Step::Continue {
            set_flags(exchange, MapType::HttpRequestHeaders);
            exchange.mark_forwarded();
            self.resume_http_request();
        } else {
            self.apply(step);
        }
    }
}

impl HttpContext for GuardStream {
    fn on_http_request_headers(&mut self, num_headers: usize, end_of_stream: bool) -> Action {
        let started = host::now_ns();
        let action = self.request_headers(num_headers, end_of_stream);
        self.took(started, false, action);
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
        if let Some(exchange) = self.exchange.as_mut() {
            let queue = exchange
                .record()
                .route
                .as_deref()
                .and_then(|id| exchange.policy().routes.iter().find(|r| r.id == id))
                .and_then(|r| r.review.as_ref())
                .and_then(|r| r.queue.clone());
            if let (Some(item), Some(queue)) = (exchange.take_review_item(), queue) {
                outbox::push(queue, item);
            }
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
            exchange.add_filter_time(response, micros);
            if !response && action == Action::Continue && !exchange.rejected() {
                exchange.mark_forwarded();
            }
        }
    }

    /// The exchange is over: its audit record goes to every sink, then its metrics and alerts.
    fn conclude(&mut self) {
        let Some(exchange) = self.exchange.as_mut() else {
            return;
        };
        let Some(record) = exchange.finish() else {
            return;
        };
        let policy = exchange.policy();
        audit::emit(&record, policy.audit.collector.as_ref());
        metrics::record(exchange.record(), policy);
        let webhook = policy.abuse.as_ref().is_some_and(|a| a.webhook.is_some());
        for alert in exchange.take_alerts() {
            alerts::raise(&alert, webhook);
        }
    }

    fn request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            host::event(
                LogLevel::Critical,
                "policy_unavailable",
                serde_json::json!({"reason": "stream without a policy; failing closed"}),
            );
            let rejection = Rejection {
                code: ErrorCode::PolicyUnavailable,
                message: "the safety filter has no valid policy, so the request was not forwarded"
                    .into(),
                rule: "psf-guard".into(),
                param: None,
            };
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
        let method = header(":method").unwrap_or_default();
        let path = header(":path").unwrap_or_default();
        let property_id;
        let request_id = match header("x-request-id") {
            Some(id) => id,
            None => {
                property_id = host::property(&["request", "id"]).unwrap_or_default();
                property_id.as_str()
            }
        };
        let content_length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
        let content_type = header("content-type");
        if header(FLAGS_HEADER).is_some() {
            // Only the filter speaks for the filter: upstreams may trust this header.
            host::set_header(MapType::HttpRequestHeaders, FLAGS_HEADER, None);
        }
        for fallback in exchange
            .policy()
            .routes
            .iter()
            .filter_map(|r| r.fallback.as_ref())
        {
            if header(&fallback.header).is_some() {
                // Only the filter may send a request to the fallback route.
                host::set_header(MapType::HttpRequestHeaders, &fallback.header, None);
            }
        }
        let policy = exchange.policy();
        if policy.residency.is_some() {
            // The cluster of the route Envoy picked (newer Envoys name it `xds.cluster_name`).
            let cluster = host::property(&["xds", "cluster_name"])
                .or_else(|| host::property(&["cluster_name"]));
            exchange.set_upstream_cluster(cluster.as_deref());
        }
        let policy = exchange.policy();
        if !policy.client_headers().is_empty() || policy.needs_client_address() {
            if let Some(name) = policy
                .rate_limits
                .as_ref()
                .and_then(|r| r.export_header.as_deref())
            {
                if header(name).is_some() {
                    host::set_header(MapType::HttpRequestHeaders, name, None);
                }
            }
            let source = policy
                .needs_client_address()
                .then(|| host::property(&["source", "address"]))
                .flatten();
            let repeated: Vec<String> = policy
                .client_headers()
                .into_iter()
                .filter(|name| headers.iter().filter(|(key, _)| key == name).count() > 1)
                .map(str::to_string)
                .collect();
            for name in &repeated {
                exchange.saw_repeated_header(name);
            }
            exchange.set_client(&header, source.as_deref());
        }
        let encoding = header("content-encoding");
        self.request_encoded = encoding.is_some();
        exchange.set_request_encoding(encoding);
        let step = exchange.on_request_headers(RequestHead {
            method,
            path,
            request_id,
            content_length,
            content_type,
            end_of_stream,
        });
        if step == Step::Continue {
            set_flags(exchange, MapType::HttpRequestHeaders);
        }
        if let Some(header) = exchange.reroute() {
            // MS-4: the route table sends requests with this header to the fallback; Envoy
            // picked the route before this filter ran, so its choice is cleared.
            host::set_header(MapType::HttpRequestHeaders, header, Some("1"));
            host::clear_route_cache();
        }
        if exchange.wants_identity_response() && header("accept-encoding").is_some() {
            // A compressed answer could not be checked, so ask for a plain one.
            host::set_header(MapType::HttpRequestHeaders, "accept-encoding", None);
        }
        self.apply(step)
    }

    fn request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Pause;
        };
        let mut step = exchange.on_request_body(body_size as u64, end_of_stream);
        if step == Step::NeedBody {
            let body = host::request_body(body_size);
            step = exchange.inspect_request_body(&body);
        }
        // The headers are still held, so they can change before they leave.
        if matches!(step, Step::Continue | Step::Replace(_)) {
            set_flags(exchange, MapType::HttpRequestHeaders);
        }
        if let Step::Replace(body) = step {
            // Envoy does not fix content-length after a filter changes the body. The engine
            // writes bodies decoded, so an encoded request goes on without its encoding.
            if self.request_encoded {
                host::set_header(MapType::HttpRequestHeaders, "content-encoding", None);
            }
            host::replace_request_body(body_size, &body);
            return Action::Continue;
        }
        if let Step::Consult { call, body } = step {
            set_flags(exchange, MapType::HttpRequestHeaders);
            if let Some(body) = body {
                if self.request_encoded {
                    host::set_header(MapType::HttpRequestHeaders, "content-encoding", None);
                }
                host::replace_request_body(body_size, &body);
            }
            match self.consult(&call) {
                Ok(token) => {
                    self.moderation_call = Some(token);
                    return Action::Pause;
                }
                Err(status) => {
                    host::event(
                        LogLevel::Warn,
                        "moderation_call_failed",
                        serde_json::json!({
                            "cluster": call.cluster,
                            "status": format!("{status:?}"),
                            "request_id": self.exchange.as_ref().map(|e| e.record().request_id.as_str()),
                        }),
                    );
                    let Some(exchange) = self.exchange.as_mut() else {
                        return Action::Pause;
                    };
                    let step = exchange.on_moderation(None, &[]);
                    if step == Step::Continue {
                        set_flags(exchange, MapType::HttpRequestHeaders);
                        return Action::Continue;
                    }
                    return self.apply(step);
                }
            }
        }
        self.apply(step)
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
        let status = header(":status").and_then(|s| s.parse().ok()).unwrap_or(0);
        self.response_encoded = header("content-encoding").is_some();
        let plan = exchange.on_response_headers(
            status,
            header("content-type"),
            header("content-encoding"),
        );
        set_flags(exchange, MapType::HttpResponseHeaders);
        for (name, value) in exchange.limit_headers() {
            host::set_header(MapType::HttpResponseHeaders, name, Some(value));
        }
        for (name, value) in exchange.response_marks() {
            host::set_header(MapType::HttpResponseHeaders, name, Some(&value));
        }
        self.response = if end_of_stream {
            ResponsePlan::PassThrough
        } else {
            plan
        };
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

    fn response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(exchange) = self.exchange.as_mut() else {
            return Action::Continue;
        };
        match self.response {
            ResponsePlan::PassThrough => Action::Continue,
            ResponsePlan::Buffer | ResponsePlan::Refuse if !end_of_stream => Action::Pause,
            ResponsePlan::Refuse => {
                if let Some(rejection) = exchange.take_refusal() {
                    replace_response(exchange, &rejection, body_size);
                }
                Action::Continue
            }
            ResponsePlan::Buffer => {
                let body = host::response_body(body_size);
                let step = exchange.on_response_body(&body);
                if let Some(value) = exchange.low_confidence() {
                    // The headers are still held, so the answer can carry the flag.
                    host::set_header(
                        MapType::HttpResponseHeaders,
                        "x-psf-low-confidence",
                        Some(value),
                    );
                }
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
                            apply_answer(exchange, step, body_size, self.response_encoded);
                            return Action::Continue;
                        }
                    }
                }
                apply_answer(exchange, step, body_size, self.response_encoded);
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

/// Carries out the step for a complete, held answer of `body_size` bytes.
fn apply_answer(exchange: &Exchange, step: ResponseStep, body_size: usize, encoded: bool) {
    match step {
        ResponseStep::Continue | ResponseStep::Consult(_) => {}
        ResponseStep::Replace(new) => {
            // The engine writes answers decoded.
            if encoded {
                host::set_header(MapType::HttpResponseHeaders, "content-encoding", None);
            }
            host::replace_response_body(body_size, &new, true)
        }
        ResponseStep::Reject(rejection) => replace_response(exchange, &rejection, body_size),
    }
}

/// Turns the held response into the filter's error: status, headers and body. Used while the
/// response headers have not left yet, so the client sees one consistent answer.
fn replace_response(exchange: &Exchange, rejection: &Rejection, body_size: usize) {
    let body = rejection.body(&exchange.record().request_id);
    host::set_header(
        MapType::HttpResponseHeaders,
        ":status",
        Some(&rejection.status().to_string()),
    );
    for (name, value) in rejection.headers() {
        host::set_header(MapType::HttpResponseHeaders, name, Some(value));
    }
    host::set_header(MapType::HttpResponseHeaders, "content-encoding", None);
    host::replace_response_body(body_size, &body, true);
}

/// `x-psf-flags`: the codes of findings that flagged the request without blocking it, on the
/// request the upstream sees and on the response the client sees.
fn set_flags(exchange: &Exchange, map: MapType) {
    if !exchange.flags().is_empty() {
        host::set_header(map, FLAGS_HEADER, Some(&exchange.flags().join(",")));
    }
    if map == MapType::HttpRequestHeaders {
        if let Some((name, value)) = exchange.limit_export() {
            host::set_header(map, name, Some(value));
        }
    }
}

const FLAGS_HEADER: &str = "x-psf-flags";
