//! One HTTP exchange seen by the filter: the engine's per-stream state machine.
//!
//! The proxy adapter reports each host event and does what the returned [`Step`] says.
//! The engine never holds body bytes it does not need: on a route that does not inspect
//! bodies, a request with a trusted `content-length` under every limit streams through.

use crate::answer_state::answer_states;
use crate::audit::chain::{hmac_hex, sha256_hex};
use crate::audit::redact::redact_all;
use crate::audit::request_id::request_id;
use crate::confidence::{summarise, token_logprobs};
use crate::content::{Judgement, ModerationCall, Subject};
use crate::encoding::{decode, Coding, DecodeError};
use crate::inspect::{inspect_text, Verdict};
use crate::json_splice::{insert_top_level, replace_top_level_number, replace_top_level_string};
use crate::json_strings::rewrite_strings;
use crate::kill_switch::{self, effective_mode, Switch, Switches};
use crate::llm::usage::Usage;
use crate::llm::{ApiFormat, LlmRequest};
use crate::output::{filter_body, OutputFilter, StreamRewriter};
use crate::output_guard::{OutputGuard, OutputWatch};
use crate::output_schema::answer_parts;
use crate::output_schema::SchemaAction;
use crate::path::RequestPath;
use crate::pii::detect::Scanner;
use crate::pii::masker::Masker;
use crate::policy::{Action, Check, LowConfidence, Mode, OverCap, Policy, RouteMatch, StateAction};
use crate::policy::{EncodedBodies, FallbackAction, Review, Route};
use crate::ratelimit::alert::Alert;
use crate::ratelimit::key::ClientFacts;
use crate::ratelimit::limiter::Demand;
use crate::ratelimit::settings::Strike;
use crate::ratelimit::store::{thread_store, SharedStore};
use crate::ratelimit::RateState;
use crate::record::{Decision, DecisionRecord, Finding, FindingAction, ModeSwitch, Redacted};
use crate::rejection::{request_id_header, Rejection, Reply};
use crate::schema::{check_body, Checked};
use crate::tokens::estimate_prompt_tokens;
use crate::ErrorCode;
use serde_json::Value;
use std::rc::Rc;

/// What the adapter does next with the current phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Let this phase (and anything held) through.
    Continue,
    /// Hold this phase and buffer what follows; the engine will be asked again.
    Pause,
    /// The whole body has arrived: read it and call [`Exchange::inspect_request_body`].
    NeedBody,
    /// Replace the held body with this one (and its `content-length`), then continue.
    Replace(Vec<u8>),
    /// Answer the client with this error; nothing more goes upstream.
    Reject(Rejection),
    /// Answer the client with this JSON body (the admin path's own answers).
    Answer { status: u16, body: Vec<u8> },
    /// Replace the held body with `body` when there is one, keep holding it, and make this
    /// call; its answer goes to [`Exchange::on_moderation`], which says how to go on.
    Consult {
        call: ModerationCall,
        body: Option<Vec<u8>>,
    },
}

/// The request line and headers the engine needs.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub request_id: &'a str,
    pub content_length: Option<u64>,
    pub content_type: Option<&'a str>,
    /// True when the request has no body.
    pub end_of_stream: bool,
}

/// Per-stream state. Create one per HTTP request.
#[derive(Debug)]
pub struct Exchange {
    policy: Rc<Policy>,
    record: DecisionRecord,
    /// Index of the route that applies, if any.
    route: Option<usize>,
    /// Whether headers are held until the body has been measured or read.
    holding: bool,
    rejected: bool,
    /// Codes of findings that flag the request (`x-psf-flags`).
    flags: Vec<&'static str>,
    /// Masks and their originals: per stream, never logged, dropped with the exchange.
    masker: Masker,
    /// How the response body is read, once its headers are known.
    response: ResponseRead,
    /// Content categories the output side flagged (recorded, not blocked).
    flagged: Vec<String>,
    /// A moderation call is out; the request is held until it answers.
    moderating: bool,
    /// What the answer does once the moderation service has said it is clear.
    pending_answer: Option<ResponseStep>,
    /// What the output checks that span a whole answer have seen so far.
    watch: OutputWatch,
    /// The error that replaces the upstream's response, decided at its headers.
    refusal: Option<Rejection>,
    /// The response stream reached its end (rather than being reset).
    stream_ended: bool,
    /// The value of `x-psf-low-confidence`, when the answer is under the threshold.
    low_confidence: Option<String>,
    /// Where limit and abuse counters live (the host's shared data in Envoy).
    store: Rc<dyn SharedStore>,
    /// This request's part in the rate limits and abuse counting.
    rate: RateState,
    /// What admission reserved: estimated prompt tokens and completion tokens.
    reserved: Demand,
    /// The token usage the answer reported (JSON answers; streams keep their own).
    usage: Usage,
    /// Characters of answer text, for the completion estimate when no usage came.
    answer_chars: usize,
    /// The filter asked an OpenAI stream for its usage chunk, which the client did not.
    hide_usage_chunk: bool,
    /// Limits settled and strikes counted (once, at the end).
    settled: bool,
    /// The audit record was made.
    finished: bool,
    /// When the request left for the upstream (Unix ms).
    forwarded_ms: Option<u64>,
    /// The record carries the redacted texts (sampled, or the policy's `include_text`).
    wants_text: bool,
    /// The prompt's text and the answer's, for redaction into the record.
    prompt_text: Option<String>,
    answer_text: Option<String>,
    /// The mode this request runs under: the policy's, its route's, or a runtime switch.
    mode: Mode,
    /// This request is to the admin path: its body is a mode switch.
    admin: bool,
    /// The request body's `content-encoding`, or why it cannot be read.
    request_coding: Result<Coding, DecodeError>,
    /// The answer's `content-encoding`, decided at its headers.
    response_coding: Coding,
    /// The response is a 2xx labelled JSON: an answer in its API's shape.
    json_answer: bool,
    /// A keyed header that came more than once.
    repeated_header: Option<String>,
    /// Whether the client is in the admin path's `sources`, and its `authorization` header.
    admin_source_allowed: bool,
    authorization: Option<String>,
    /// The Envoy cluster the request's route sends to, for residency (DG-5).
    upstream_cluster: Option<String>,
    /// The client's `x-psf-approval`, for held tool calls (HO-2).
    approval: Option<String>,
    /// A held tool call for the review queue, as JSON, until the host takes it.
    review_item: Option<String>,
    /// The request header that sends this request to the fallback route (MS-4).
    reroute: Option<String>,
}

impl std::fmt::Debug for dyn SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedStore")
    }
}

/// How the filter reads a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePlan {
    /// Not read: passed on as it comes.
    PassThrough,
    /// A JSON body: hold the headers, read the whole body, then send it (rewritten or not).
    Buffer,
    /// An event stream: rewrite it chunk by chunk, holding back only what may be cut.
    Stream,
    /// The route must read the body but cannot (an encoded body): answer with this error.
    Refuse,
}

#[derive(Debug)]
enum ResponseRead {
    None,
    Buffer,
    Stream(Box<StreamRewriter>),
}

/// What to do with a complete response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseStep {
    Continue,
    Replace(Vec<u8>),
    Reject(Rejection),
    /// Keep holding the answer and make this call; its answer goes to
    /// [`Exchange::on_response_moderation`], which gives the step to take then.
    Consult(ModerationCall),
}

impl Exchange {
    /// An exchange whose limits count in this thread's [`crate::ratelimit::MemoryStore`].
    pub fn new(policy: Rc<Policy>) -> Self {
        Self::with_store(policy, thread_store())
    }

    /// An exchange whose limit and abuse counters live in `store`, shared with every
    /// other exchange (and, through the host, every worker) that uses it.
    pub fn with_store(policy: Rc<Policy>, store: Rc<dyn SharedStore>) -> Self {
        let mode = policy.mode;
        Self {
            policy,
            record: DecisionRecord::default(),
            route: None,
            holding: false,
            rejected: false,
            flags: Vec::new(),
            masker: Masker::default(),
            response: ResponseRead::None,
            flagged: Vec::new(),
            moderating: false,
            pending_answer: None,
            watch: OutputWatch::default(),
            refusal: None,
            stream_ended: false,
            low_confidence: None,
            store,
            rate: RateState::default(),
            reserved: Demand::default(),
            usage: Usage::default(),
            answer_chars: 0,
            hide_usage_chunk: false,
            settled: false,
            finished: false,
            forwarded_ms: None,
            wants_text: false,
            prompt_text: None,
            answer_text: None,
            mode,
            admin: false,
            admin_source_allowed: false,
            repeated_header: None,
            json_answer: false,
            request_coding: Ok(Coding::Identity),
            response_coding: Coding::Identity,
            authorization: None,
            upstream_cluster: None,
            approval: None,
            review_item: None,
            reroute: None,
        }
    }

    /// Whether the policy has rate limits or abuse counting, so the host should pass the
    /// client facts ([`Exchange::set_client`]).
    fn limits(&self) -> bool {
        self.policy.rate_limits.is_some() || self.policy.abuse.is_some()
    }

    /// The client facts limit keys read: the headers [`Policy::limit_headers`] names (found
    /// by `header`) and the peer address. Call it before [`Exchange::on_request_headers`].
    pub fn set_client<'a>(
        &mut self,
        header: &dyn Fn(&str) -> Option<&'a str>,
        source_address: Option<&str>,
    ) {
        for name in ["authorization", "x-api-key"] {
            // Envoy joins a repeated inline header (`authorization`) with commas, and
            // neither a bearer token nor an API key has one.
            if header(name).is_some_and(|v| v.contains(','))
                && self.policy.client_headers().contains(&name)
            {
                self.saw_repeated_header(name);
            }
        }
        if self.policy.routes.iter().any(|r| r.review.is_some()) {
            self.approval = header("x-psf-approval").map(str::to_string);
        }
        if let Some(admin) = &self.policy.incident.admin {
            self.admin_source_allowed =
                admin.allows_client(header("x-forwarded-for"), source_address);
            self.authorization = header("authorization").map(str::to_string);
        }
        let audit = &self.policy.audit;
        if let (Some(name), Some(key)) = (&audit.subject_header, &audit.subject_key) {
            self.record.subject =
                header(name).map(|v| hmac_hex(key.as_bytes(), v.trim().as_bytes()));
        }
        if self.limits() {
            let names = self.policy.client_headers();
            self.rate = RateState::new(ClientFacts::new(&names, header, source_address));
        }
    }

    /// The request carries `name`, one of [`Policy::client_headers`], more than once: the
    /// filter would key on one value while the upstream may read another, so the request
    /// is refused at its headers (400 `duplicate_header`).
    pub fn saw_repeated_header(&mut self, name: &str) {
        self.repeated_header.get_or_insert_with(|| name.to_string());
    }

    /// The request's `content-encoding`. Call it before [`Exchange::on_request_headers`].
    pub fn set_request_encoding(&mut self, header: Option<&str>) {
        self.request_coding = Coding::parse(header);
    }

    /// The upstream cluster the proxy routes this request to (Envoy's `cluster_name`), for
    /// the policy's `residency`. Call it before [`Exchange::on_request_headers`].
    pub fn set_upstream_cluster(&mut self, cluster: Option<&str>) {
        self.upstream_cluster = cluster.map(str::to_string);
    }

    /// Adds the filter's own processing time of one host callback, in µs: `response` for
    /// the response side.
    pub fn add_filter_time(&mut self, response: bool, micros: u64) {
        let latency = &mut self.record.latency;
        if response {
            latency.filter_response_us += micros;
        } else {
            latency.filter_request_us += micros;
        }
    }

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

    /// The scanner redaction uses: the route's, with its custom entities, else the default.
    fn scanner(&self) -> &Scanner {
        self.current_route()
            .and_then(|r| r.pii.as_ref())
            .map_or(Scanner::default_scanner(), |p| &p.scanner)
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// True once the filter answered the client itself; the response it then sees
    /// is its own local reply and needs no inspection.
    /// Whether the request is to the admin path, which the filter answers itself.
    pub fn is_admin(&self) -> bool {
        self.admin
    }

    pub fn rejected(&self) -> bool {
        self.rejected
    }

    pub fn on_request_headers(&mut self, head: RequestHead<'_>) -> Step {
        self.record.started_ms = self.store.now_ms();
        self.record.request_id = request_id(head.request_id, self.record.started_ms);
        self.record.sample = sampled(head.request_id, self.policy.audit.sample_per_million);
        self.wants_text = self.record.sample || self.policy.audit.include_text;
        self.record.method = head.method.to_string();
        let path = RequestPath::parse(head.path);
        self.record.path = path.redacted();
        let policy = Rc::clone(&self.policy);
        if let Some(name) = self.repeated_header.clone() {
            let rejection = Rejection {
                code: ErrorCode::DuplicateHeader,
                message: format!("the {name} header must be sent once"),
                rule: "psf-guard.headers".into(),
                param: Some(name),
            };
            self.record_block(&rejection, true);
            return self.reject(rejection);
        }
        if policy.accountability.endpoint
            && path.canonical == crate::policy::ACCOUNTABILITY_ENDPOINT
            && head.method == "GET"
        {
            // EA-4: accountability data on request, from the policy in force.
            self.record.route = Some("psf-accountability".into());
            self.record.status = Some(200);
            let body = policy.accountability_document().to_string().into_bytes();
            return Step::Answer { status: 200, body };
        }
        if let Some(admin) = &policy.incident.admin {
            if path.may_mean(&admin.path) {
                if path.is_canonical() && path.canonical == admin.path {
                    return self.admin_request(head);
                }
                // A variant of the admin path is never forwarded: it carries the admin token.
                self.record.route = Some("psf-admin".into());
                let rejection = non_canonical_path(&admin.path, "incident.admin.path");
                self.record_block(&rejection, true);
                return self.reject(rejection);
            }
        }
        if let Some(route) = policy.routes.iter().find(|r| r.may_match(&path)) {
            if !path.is_canonical() || !route.matches(&path.canonical) {
                // The upstream may read this path as the route's, so it is not forwarded
                // unread; whatever the mode, since monitor would forward it uninspected.
                self.record.route = Some(route.id.clone());
                let rejection =
                    non_canonical_path(route.path.as_str(), &format!("{}.path", route.id));
                self.record_block(&rejection, true);
                return self.reject(rejection);
            }
        }
        let matched = policy.route_for(head.method, &path.canonical);
        // Off the routes, incident modes do not apply; only monitor changes what rules do.
        self.mode = match policy.mode {
            Mode::Monitor => Mode::Monitor,
            _ => Mode::Enforce,
        };
        self.record.mode = self.mode;
        if let RouteMatch::Matched(route) = matched {
            // Incident controls apply to AI traffic: requests on the policy's routes.
            if let Some(step) = self.before_route(&policy, route) {
                return step;
            }
        }
        let inspects_body = match matched {
            RouteMatch::MethodNotAllowed(route) => {
                self.record.route = Some(route.id.clone());
                let allowed = route.methods.join(", ");
                let rejection = Rejection {
                    code: ErrorCode::MethodNotAllowed,
                    message: format!("method {} is not allowed here; use {allowed}", head.method),
                    rule: format!("{}.methods", route.id),
                    param: None,
                };
                let step = self.violation(rejection);
                if step != Step::Continue {
                    return step;
                }
                false
            }
            RouteMatch::Matched(route) => {
                self.route = policy.routes.iter().position(|r| std::ptr::eq(r, route));
                self.record.route = Some(route.id.clone());
                self.record.autonomy = route.autonomy.map(|a| a.as_str());
                let allowed = &route.limits.content_types;
                let media_type = head
                    .content_type
                    .and_then(|c| c.split(';').next())
                    .map(|m| m.trim().to_ascii_lowercase());
                if !allowed.is_empty() && !media_type.as_ref().is_some_and(|m| allowed.contains(m))
                {
                    let found = media_type.unwrap_or_else(|| "none".to_string());
                    let rejection = Rejection {
                        code: ErrorCode::UnsupportedContentType,
                        message: format!(
                            "content type {found} is not accepted here; send {}",
                            allowed.join(" or ")
                        ),
                        rule: format!("{}.content_types", route.id),
                        param: None,
                    };
                    let step = self.violation(rejection);
                    if step != Step::Continue {
                        return step;
                    }
                }
                if route.inspects_body() {
                    if let Some(rejection) = self.unreadable_request_coding(route) {
                        let step = self.violation(rejection);
                        if step != Step::Continue {
                            return step;
                        }
                    }
                }
                route.inspects_body()
            }
            RouteMatch::Unrouted => false,
        };
        if self.limits() {
            let route = self.current_route().map(|r| r.id.clone());
            self.rate.set_route(route.as_deref());
            let (policy, store) = (Rc::clone(&self.policy), Rc::clone(&self.store));
            if let Some(rejection) =
                self.rate
                    .check_suspension(&policy, store.as_ref(), head.request_id)
            {
                let step = self.violation(rejection);
                if step != Step::Continue {
                    return step;
                }
            }
            if !inspects_body {
                if let Err(rejection) =
                    self.rate
                        .admit(&policy, store.as_ref(), None, None, head.request_id)
                {
                    let step = self.violation(rejection);
                    if step != Step::Continue {
                        return step;
                    }
                }
            }
        }
        if head.end_of_stream {
            return if inspects_body {
                self.inspect_request_body(b"")
            } else {
                Step::Continue
            };
        }
        if let Some(length) = head.content_length {
            self.record.request_bytes = length;
            if let Some(rejection) = self.check_body_size(length, true) {
                return self.reject(rejection);
            }
        }
        if inspects_body || (head.content_length.is_none() && self.has_body_size_rules()) {
            self.holding = true;
            return Step::Pause;
        }
        // The codec enforces content-length framing, so the body cannot outgrow it.
        Step::Continue
    }

    /// The incident controls, fallback and residency for a request on `route`, before any
    /// check: a step when one of them answers the request.
    fn before_route(&mut self, policy: &Policy, route: &Route) -> Option<Step> {
        self.mode = if policy.incident.admin.is_some() {
            // The kill switch (IR-2): applied from this very request on, on every worker.
            let switches = Switches::read(self.store.as_ref());
            effective_mode(policy, &switches, Some(&route.id))
        } else {
            route.mode.unwrap_or(policy.mode)
        };
        self.record.mode = self.mode;
        if let Some(step) = self.incident_step() {
            self.record.route = Some(route.id.clone());
            return Some(step);
        }
        if let Some(fallback) = &route.fallback {
            if crate::breaker::is_open(self.store.as_ref(), &route.id) {
                self.record.route = Some(route.id.clone());
                self.record.fallback = Some(match fallback.action {
                    FallbackAction::Degrade => "degrade",
                    FallbackAction::Reroute => "reroute",
                });
                match fallback.action {
                    FallbackAction::Reroute => self.reroute = Some(fallback.header.clone()),
                    FallbackAction::Degrade => return Some(self.degraded(route)),
                }
            }
        }
        if let Some(residency) = &policy.residency {
            // DG-5: AI traffic never leaves the allowed regions.
            if let Some(why) = residency.refusal(self.upstream_cluster.as_deref()) {
                self.record.route = Some(route.id.clone());
                let step = self.violation(Rejection {
                    code: ErrorCode::DataResidencyViolation,
                    message: format!("this request would leave the allowed regions: {why}"),
                    rule: "residency".into(),
                    param: None,
                });
                if step != Step::Continue {
                    return Some(step);
                }
            }
        }
        None
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
        if !end_of_stream {
            return Step::Pause;
        }
        if self.admin
            || self
                .route
                .is_some_and(|i| self.policy.routes[i].inspects_body())
        {
            return Step::NeedBody;
        }
        self.holding = false;
        Step::Continue
    }

    /// Checks the complete request body against the route (after [`Step::NeedBody`]).
    pub fn inspect_request_body(&mut self, body: &[u8]) -> Step {
        self.holding = false;
        if self.admin {
            return self.admin_switch(body);
        }
        let policy = Rc::clone(&self.policy);
        let Some(route) = self.route.and_then(|i| policy.routes.get(i)) else {
            return Step::Continue;
        };
        self.record.prompt_sha256 = Some(sha256_hex(body));
        let decoded;
        let body = match self.request_coding {
            Ok(coding) if coding != Coding::Identity => {
                match decode(coding, body, self.max_decoded_bytes()) {
                    Ok(bytes) => {
                        decoded = bytes;
                        if let Some(rejection) = self.check_body_size(decoded.len() as u64, true) {
                            return self.reject(rejection);
                        }
                        decoded.as_slice()
                    }
                    Err(error) => {
                        let code = match error {
                            DecodeError::TooLarge(_) => ErrorCode::RequestTooLarge,
                            _ => ErrorCode::InvalidRequest,
                        };
                        return self.violation(Rejection {
                            code,
                            message: decode_message(&error, "request body"),
                            rule: format!("{}.encoded_bodies", route.id),
                            param: None,
                        });
                    }
                }
            }
            _ => body,
        };
        let (request, mut rewritten) = match check_body(route, body) {
            Checked::Pass(request) => (request, None),
            Checked::Rewrite(request, rewritten) => {
                let rule = format!("{}.max_tokens", route.id);
                let enforced = self.mode == Mode::Enforce;
                self.record.findings.push(Finding {
                    rule,
                    code: ErrorCode::MaxTokensExceeded,
                    action: FindingAction::Clamp,
                    enforced,
                });
                (request, Some(rewritten))
            }
            Checked::Reject(rejection) => return self.violation(rejection),
        };
        self.record.model = request.model.as_ref().map(|m| m.value.clone());
        if let Some(approved) = &route.approved_models {
            // MS-3: only approved, pinned versions reach the provider; aliases are pinned.
            let asked = request.model.as_ref().map(|m| m.value.as_str());
            let Some(pinned) = asked.and_then(|m| approved.resolve(m)) else {
                let message = match asked {
                    Some(model) => format!(
                        "model {model:?} is not approved on this route; use one of {}",
                        approved.pinned.join(", ")
                    ),
                    None => "the request names no model".into(),
                };
                return self.violation(Rejection {
                    code: ErrorCode::ModelNotApproved,
                    message,
                    rule: format!("{}.approved_models", route.id),
                    param: Some("/model".into()),
                });
            };
            if asked != Some(pinned) && self.mode == Mode::Enforce {
                let current = rewritten.as_deref().unwrap_or(body);
                if let Some(new) = replace_top_level_string(current, "model", pinned) {
                    rewritten = Some(new);
                    self.record.model = Some(pinned.to_string());
                }
            }
        }
        // What the prompt is charged when the provider reports no usage.
        self.reserved.prompt = estimate_prompt_tokens(&request);
        if self.wants_text {
            let texts: Vec<&str> = request.segments.iter().map(|s| s.text.as_str()).collect();
            self.prompt_text = Some(texts.join("\n"));
        }
        if self.limits() {
            let current = rewritten.as_deref().unwrap_or(body);
            match self.admit_body(route, &request, current) {
                Ok(Some(new)) => rewritten = Some(new),
                Ok(None) => {}
                Err(step) => return step,
            }
        }
        match rewritten {
            Some(new) => self.inspect_text(route, request, &new, true),
            None => self.inspect_text(route, request, body, false),
        }
    }

    /// Admits a read request against its limits: reserves its estimated prompt and its
    /// `max_tokens` (or the policy's default), lowering `max_tokens` in the forwarded body
    /// when a limit clamps it, and asks OpenAI streams for their usage. `Ok(Some(body))`
    /// when the body changed.
    fn admit_body(
        &mut self,
        route: &Route,
        request: &LlmRequest,
        body: &[u8],
    ) -> Result<Option<Vec<u8>>, Step> {
        let policy = Rc::clone(&self.policy);
        let store = Rc::clone(&self.store);
        let default_max = policy
            .rate_limits
            .as_ref()
            .map_or(0, |r| r.default_max_tokens);
        // What the model will be allowed: the client's value, after the route's own cap.
        let asked = request
            .max_tokens
            .as_ref()
            .map(|m| match route.limits.max_tokens {
                Some(cap) if cap.over == OverCap::Clamp => m.value.min(cap.max),
                _ => m.value,
            });
        let demand = Demand {
            prompt: self.reserved.prompt,
            completion: asked.unwrap_or(default_max),
        };
        self.reserved = demand;
        let model = request.model.as_ref().map(|m| m.value.as_str());
        let request_id = self.record.request_id.clone();
        let clamp = match self
            .rate
            .admit(&policy, store.as_ref(), model, Some(demand), &request_id)
        {
            Ok(clamp) => clamp,
            Err(rejection) => {
                let step = self.violation(rejection);
                return if step == Step::Continue {
                    Ok(None)
                } else {
                    Err(step)
                };
            }
        };
        let enforce = self.mode == Mode::Enforce;
        let mut out: Option<Vec<u8>> = None;
        if let Some(max) = clamp {
            self.reserved.completion = max;
            self.record.findings.push(Finding {
                rule: "rate_limits.max_tokens".into(),
                code: ErrorCode::RateLimitExceeded,
                action: FindingAction::Clamp,
                enforced: enforce,
            });
            if enforce {
                let rewritten = match &request.max_tokens {
                    Some(asked) => {
                        replace_top_level_number(body, asked.pointer.trim_start_matches('/'), max)
                    }
                    None => route.api_format().and_then(|api| {
                        insert_top_level(body, max_tokens_field(api), &max.to_string())
                    }),
                };
                if rewritten.is_some() {
                    self.record.decision = Decision::Modify;
                }
                out = rewritten;
            }
        }
        let wants_usage = request.stream
            && enforce
            && matches!(
                route.api_format(),
                Some(ApiFormat::OpenAiChat | ApiFormat::Completions)
            )
            && policy.rate_limits.as_ref().is_some_and(|r| {
                r.stream_usage
                    && r.limits
                        .iter()
                        .any(|l| l.counts_tokens() && l.applies_to(Some(&route.id)))
            });
        if wants_usage {
            let current = out.as_deref().unwrap_or(body);
            if let Some(with_usage) = ask_for_stream_usage(current) {
                self.hide_usage_chunk = true;
                out = Some(with_usage);
            }
        }
        Ok(out)
    }

    /// The request header, and its value, that sends this request to the fallback route.
    pub fn reroute(&self) -> Option<&str> {
        self.reroute.as_deref()
    }

    /// The approved degrade message for `route`'s fallback.
    fn degrade_rejection(&self, route: &Route) -> Rejection {
        let message = self.policy.incident.degrade.as_ref().map_or_else(
            || "The AI service is running in a reduced mode; please try again later.".to_string(),
            |t| t.message.clone(),
        );
        Rejection {
            code: ErrorCode::ServiceDegraded,
            message,
            rule: format!("{}.fallback", route.id),
            param: None,
        }
    }

    /// Answers a request on a route whose breaker is open with the degrade message.
    fn degraded(&mut self, route: &Route) -> Step {
        let rejection = self.degrade_rejection(route);
        self.record_block(&rejection, true);
        self.reject(rejection)
    }

    /// What `degrade`, `isolate` and `off` do with a routed request, before any check.
    fn incident_step(&mut self) -> Option<Step> {
        let (code, template, fallback) = match self.mode {
            Mode::Enforce | Mode::Monitor => return None,
            // Uninspected: no route, so neither body is read; the record says so.
            Mode::Off => return Some(Step::Continue),
            Mode::Degrade => (
                ErrorCode::ServiceDegraded,
                &self.policy.incident.degrade,
                "The AI service is running in a reduced mode during an incident; please try again later.",
            ),
            Mode::Isolate => (
                ErrorCode::ServiceIsolated,
                &self.policy.incident.isolate,
                "The AI service is temporarily unavailable.",
            ),
        };
        let message = template
            .as_ref()
            .map_or(fallback.to_string(), |t| t.message.clone());
        let rejection = Rejection {
            code,
            message,
            rule: format!("mode.{}", self.mode.as_str()),
            param: None,
        };
        self.record_block(&rejection, true);
        Some(self.reject(rejection))
    }

    /// A request to the admin path: refused without the token from an allowed source; `GET`
    /// answers the switches in force, `POST` reads a switch from the body.
    fn admin_request(&mut self, head: RequestHead<'_>) -> Step {
        let policy = Rc::clone(&self.policy);
        let Some(admin) = &policy.incident.admin else {
            return Step::Continue;
        };
        self.record.route = Some("psf-admin".into());
        let from_allowed = self.admin_source_allowed;
        let token = self
            .authorization
            .as_deref()
            .and_then(|v| v.trim().strip_prefix("Bearer "))
            .map(str::trim);
        if !from_allowed || !token.is_some_and(|t| admin.token_matches(t)) {
            let rejection = Rejection {
                code: ErrorCode::AdminForbidden,
                message: "switching modes needs the admin token, from an allowed source".into(),
                rule: "incident.admin".into(),
                param: None,
            };
            self.record_block(&rejection, true);
            return self.reject(rejection);
        }
        match head.method {
            "GET" => {
                let switches = Switches::read(self.store.as_ref());
                let body = serde_json::json!({
                    "policy_mode": policy.mode.as_str(),
                    "switches": switches,
                    "policy_loaded_at": crate::audit::time::rfc3339(policy.loaded_ms),
                });
                self.record.status = Some(200);
                Step::Answer {
                    status: 200,
                    body: body.to_string().into_bytes(),
                }
            }
            "POST" if !head.end_of_stream && head.content_length.is_none_or(|n| n <= 4096) => {
                self.admin = true;
                self.holding = true;
                Step::Pause
            }
            _ => self.refuse_admin(Rejection {
                code: ErrorCode::InvalidRequest,
                message: "POST {\"mode\": …, \"route\": …, \"reason\": …} (at most 4 KiB), or GET the switches in force".into(),
                rule: "incident.admin".into(),
                param: None,
            }),
        }
    }

    /// A bad admin request is refused whatever the mode: the admin path never reaches the
    /// upstream.
    fn refuse_admin(&mut self, rejection: Rejection) -> Step {
        self.record_block(&rejection, true);
        self.reject(rejection)
    }

    /// The body of an admin `POST`: `{"mode": "isolate"|…|"policy", "route"?, "reason"?}`.
    fn admin_switch(&mut self, body: &[u8]) -> Step {
        self.admin = false;
        let policy = Rc::clone(&self.policy);
        let invalid = |message: String, param: &str| Rejection {
            code: ErrorCode::InvalidRequest,
            message,
            rule: "incident.admin".into(),
            param: Some(param.to_string()),
        };
        let request: Value = match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => Value::Object(map),
            _ => return self.refuse_admin(invalid("the body must be a JSON object".into(), "")),
        };
        let name = request["mode"].as_str().unwrap_or_default();
        let mode = Mode::parse(name);
        if mode.is_none() && name != "policy" {
            let message = format!(
                "mode {name:?} is not one of enforce, monitor, degrade, isolate, off, policy"
            );
            return self.refuse_admin(invalid(message, "/mode"));
        }
        let route = request["route"].as_str();
        if let Some(route) = route {
            if !policy.routes.iter().any(|r| r.id == route) {
                return self.refuse_admin(invalid(format!("no route has id {route:?}"), "/route"));
            }
        }
        let reason: String = request["reason"]
            .as_str()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        let now = self.store.now_ms();
        let new = mode.map(|m| Switch {
            mode: m.as_str().to_string(),
            set_at_ms: now,
            reason: reason.clone(),
        });
        let previous = match kill_switch::switch(self.store.as_ref(), route, new.clone()) {
            Ok(previous) => previous,
            Err(_) => {
                return self.reject(Rejection {
                    code: ErrorCode::PolicyUnavailable,
                    message: "the mode switch could not be written; nothing changed".into(),
                    rule: "incident.admin".into(),
                    param: None,
                })
            }
        };
        let switch = ModeSwitch {
            mode: name.to_string(),
            route: route.map(str::to_string),
            previous: previous.map(|p| p.mode),
            reason,
        };
        let body = serde_json::json!({
            "mode": switch.mode,
            "route": switch.route,
            "previous": switch.previous,
            "set_at": crate::audit::time::rfc3339(now),
        });
        self.record.mode_switch = Some(switch);
        self.record.status = Some(200);
        Step::Answer {
            status: 200,
            body: body.to_string().into_bytes(),
        }
    }

    /// HO-2: an answer calling a tool the route holds goes out only with a valid approval;
    /// without one the client gets 202 and a ticket, and the call goes to the review queue.
    fn review(&mut self, route: &Route, review: &Review, answer: &Value) -> Option<ResponseStep> {
        let call = crate::review::held_call(answer, review)?;
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
                match crate::review::check_approval(&review.key, &ticket, presented, now) {
                    Ok(()) => {
                        self.record.findings.push(Finding {
                            rule,
                            code: ErrorCode::PendingHumanReview,
                            action: FindingAction::Log,
                            enforced: false,
                        });
                        return None;
                    }
                    Err(why) => Rejection {
                        code: ErrorCode::ApprovalInvalid,
                        message: format!("the tool call {:?} was not released: {why}", call.tool),
                        rule,
                        param: Some(ticket),
                    },
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
                Rejection {
                    code: ErrorCode::PendingHumanReview,
                    message: format!(
                        "the answer calls {:?}, which a person must approve; replay this request with x-psf-approval once ticket {ticket} is approved",
                        call.tool
                    ),
                    rule,
                    param: Some(ticket),
                }
            }
        };
        self.judge_answer(StateAction::Replace, rejection)
    }

    /// The held tool call to post to the review queue, once.
    pub fn take_review_item(&mut self) -> Option<String> {
        self.review_item.take()
    }

    /// Headers for the model's response on a route: `x-ai-generated: true` and the
    /// disclosure text (HO-3), and the route's autonomy level (HO-1).
    pub fn response_marks(&self) -> Vec<(&'static str, String)> {
        let Some(route) = self.current_route().filter(|_| !self.rejected) else {
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

    fn inspect_text(
        &mut self,
        route: &Route,
        request: LlmRequest,
        body: &[u8],
        changed: bool,
    ) -> Step {
        let enforce = self.mode == Mode::Enforce;
        let moderated: Option<Vec<String>> = route
            .content
            .as_ref()
            .and_then(|c| c.moderation.as_ref())
            .filter(|m| m.requests)
            .map(|_| request.segments.iter().map(|s| s.pointer.clone()).collect());
        if route.pii.as_ref().is_some_and(|p| p.restore) && body.contains(&b'[') {
            // Look-alikes anywhere in what the client sent, decoded or not.
            for segment in &request.segments {
                self.masker.reserve_typed(segment.text.as_bytes());
            }
            self.masker.reserve_typed(body);
        }
        let inspection = inspect_text(route, request, body, changed, enforce, &mut self.masker);
        self.record.entities = self.masker.tallies().to_vec();
        self.record.findings.extend(inspection.findings);
        self.record.ruleset = inspection.ruleset;
        self.record.injection_score = inspection.detection.map(|d| d.score);
        self.record.learned = inspection.learned;
        self.flags = inspection.flags;
        let forward = match inspection.verdict {
            Verdict::Reject(rejection) => return self.reject(rejection),
            Verdict::Forward(Some(rewritten)) => {
                self.record.decision = Decision::Modify;
                self.record.request_bytes = rewritten.len() as u64;
                Some(rewritten)
            }
            Verdict::Forward(None) => None,
        };
        let moderation = route.content.as_ref().and_then(|c| c.moderation.as_ref());
        match (moderation, moderated) {
            (Some(settings), Some(pointers)) => {
                // What the model will read, so masked PII never reaches the service.
                let mut texts = Vec::new();
                let sent = forward.as_deref().unwrap_or(body);
                let _ = rewrite_strings(sent, &|p| pointers.iter().any(|q| q == p), &mut |_, t| {
                    texts.push(t.to_string());
                    None
                });
                self.moderating = true;
                self.holding = true;
                Step::Consult {
                    call: settings.call(&texts),
                    body: forward,
                }
            }
            _ => forward.map_or(Step::Continue, Step::Replace),
        }
    }

    /// The moderation service answered (`status` is `None` when the call failed or timed
    /// out): `Continue` to send the held request on, or `Reject`.
    pub fn on_moderation(&mut self, status: Option<u16>, body: &[u8]) -> Step {
        if !std::mem::take(&mut self.moderating) {
            return Step::Continue;
        }
        self.holding = false;
        let policy = Rc::clone(&self.policy);
        let Some(route) = self.route.and_then(|i| policy.routes.get(i)) else {
            return Step::Continue;
        };
        let Some(settings) = route.content.as_ref().and_then(|c| c.moderation.as_ref()) else {
            return Step::Continue;
        };
        match settings.judge(status, body, &route.id, Subject::Prompt) {
            Judgement::Clear => Step::Continue,
            Judgement::Refuse(rejection) => self.violation(rejection),
            Judgement::Flag(rejection) => {
                self.record.findings.push(Finding {
                    rule: rejection.rule,
                    code: rejection.code,
                    action: FindingAction::Flag,
                    enforced: false,
                });
                if !self.flags.contains(&rejection.code.as_str()) {
                    self.flags.push(rejection.code.as_str());
                }
                Step::Continue
            }
        }
    }

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
                self.output_state(StateAction::Flag, rejection);
                return pending;
            }
        };
        self.judge_answer(StateAction::Replace, rejection)
            .unwrap_or(pending)
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
            .filter(|r| !self.rejected && r.reads_responses())
        else {
            return ResponsePlan::PassThrough;
        };
        let format = route.api_format();
        if let Some(fallback) = route.fallback.as_ref().filter(|f| f.counts(status)) {
            // MS-4: a failing provider counts against its breaker; `degrade` answers now.
            self.record.breaker_opened =
                crate::breaker::failure(self.store.as_ref(), &route.id, fallback);
            if fallback.action == FallbackAction::Degrade && self.mode == Mode::Enforce {
                self.record.fallback = Some("degrade");
                let rejection = self.degrade_rejection(route);
                return self.output_state(StateAction::Replace, rejection);
            }
        }
        if status == 504 || status == 408 {
            // Envoy's route timeout answers 504 itself; a provider's gateway timeout says
            // the same thing: no answer came in time.
            let rejection = Rejection {
                code: ErrorCode::UpstreamTimeout,
                message: format!("the model provider did not answer in time ({status})"),
                rule: format!("{}.output_errors.upstream_timeout", route.id),
                param: None,
            };
            return self.output_state(route.output_errors.upstream_timeout, rejection);
        }
        if status >= 500 {
            let rejection = Rejection {
                code: ErrorCode::UpstreamError,
                message: format!("the model provider answered {status}, so there is no answer"),
                rule: format!("{}.output_errors.upstream_error", route.id),
                param: None,
            };
            return self.output_state(route.output_errors.upstream_error, rejection);
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
            let rejection = Rejection {
                code: ErrorCode::OutputUnreadable,
                message: "the model's response is compressed, so it could not be checked".into(),
                rule: format!("{}.response", route.id),
                param: None,
            };
            return self.output_state(StateAction::Replace, rejection);
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

    /// A failure state of the output (OV-5) handled as the route says: recorded, and with
    /// `replace` in enforce mode, answered with `rejection` (see [`Exchange::take_refusal`]).
    fn output_state(&mut self, action: StateAction, rejection: Rejection) -> ResponsePlan {
        let enforced = self.mode == Mode::Enforce && action == StateAction::Replace;
        self.record.findings.push(Finding {
            rule: rejection.rule.clone(),
            code: rejection.code,
            action: match action {
                StateAction::Replace => FindingAction::Block,
                StateAction::Flag => FindingAction::Flag,
                StateAction::Pass => FindingAction::Log,
            },
            enforced,
        });
        if !enforced {
            return ResponsePlan::PassThrough;
        }
        self.record.decision = Decision::Block;
        self.record.status = Some(rejection.status());
        self.refusal = Some(rejection);
        ResponsePlan::Refuse
    }

    /// OV-4: records the answer's log-probabilities and applies the route's threshold. A
    /// rejection comes back only for `block`, in enforce mode, while the answer can still be
    /// replaced (`replaceable`; a stream has gone out by its end, so it is only flagged).
    fn judge_confidence(
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
        let rejection = Rejection {
            code: ErrorCode::LowConfidence,
            message: format!(
                "the model's answer has a mean token log-probability of {:.3}, under this route's {}",
                summary.mean, rule.min_mean_logprob
            ),
            rule: format!("{}.confidence", route.id),
            param: None,
        };
        let action = match rule.action {
            LowConfidence::Block if replaceable => StateAction::Replace,
            LowConfidence::Block | LowConfidence::Flag => StateAction::Flag,
        };
        self.judge_answer(action, rejection)
    }

    /// A state of a complete answer: the rejection that replaces it, when the route says
    /// `replace` in enforce mode (see [`Exchange::output_state`]).
    fn judge_answer(&mut self, action: StateAction, rejection: Rejection) -> Option<ResponseStep> {
        match self.output_state(action, rejection) {
            ResponsePlan::Refuse => self.take_refusal().map(ResponseStep::Reject),
            _ => None,
        }
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
                    let rejection = Rejection {
                        code: ErrorCode::OutputUnreadable,
                        message: decode_message(&error, "model's response"),
                        rule: format!("{}.encoded_bodies", route.id),
                        param: None,
                    };
                    self.record_block(&rejection, enforce);
                    if enforce {
                        self.record.status = Some(rejection.status());
                        return ResponseStep::Reject(rejection);
                    }
                    return ResponseStep::Continue;
                }
            }
        };
        if !self.json_answer {
            return self.inspect_other_body(route, body);
        }
        let parsed = serde_json::from_slice::<Value>(body);
        if parsed.is_err() {
            let rejection = Rejection {
                code: ErrorCode::MalformedOutput,
                message: "the model provider's answer is not valid JSON".into(),
                rule: format!("{}.output_errors.malformed_output", route.id),
                param: None,
            };
            return self
                .judge_answer(route.output_errors.malformed_output, rejection)
                .unwrap_or(ResponseStep::Continue);
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
                if let Some(step) = self.judge_answer(action, state.rejection(&route.id)) {
                    return step;
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
                if let Some(step) = self.judge_answer(action, rejection) {
                    return step;
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
    fn inspect_other_body(&mut self, route: &Route, body: &[u8]) -> ResponseStep {
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
                Err(_) => Err(Rejection {
                    code: ErrorCode::OutputUnreadable,
                    message: "the model provider's answer is neither JSON nor text, so it \
                              could not be checked"
                        .into(),
                    rule: format!("{}.response", route.id),
                    param: None,
                }),
            }
        };
        self.finish_response(route, result.as_ref().err());
        match result {
            Ok(Some(body)) if enforce => ResponseStep::Replace(body),
            Err(rejection) if enforce => ResponseStep::Reject(rejection),
            Ok(_) | Err(_) => ResponseStep::Continue,
        }
    }

    /// One chunk of a streamed response (after [`ResponsePlan::Stream`]): the bytes to send
    /// in its place.
    pub fn on_response_chunk(&mut self, chunk: &[u8], end_of_stream: bool) -> Vec<u8> {
        let policy = Rc::clone(&self.policy);
        let (Some(route), ResponseRead::Stream(rewriter)) = (
            self.route.and_then(|i| policy.routes.get(i)),
            &mut self.response,
        ) else {
            return chunk.to_vec();
        };
        let enforce = self.mode == Mode::Enforce;
        let mut guard = OutputGuard::new(
            route,
            &mut self.masker,
            (&mut self.flagged, &mut self.watch),
            enforce,
        );
        let mut out = rewriter.push(chunk, end_of_stream, &mut guard);
        let mut ended = rewriter.ended().cloned();
        let truncated = end_of_stream && ended.is_none() && !rewriter.terminated();
        let replace_truncated = route.output_errors.truncated_stream == StateAction::Replace;
        if truncated && replace_truncated {
            let rejection = truncated_stream(route);
            out.extend(rewriter.end_with_error(rejection.clone()));
            ended = Some(rejection);
        }
        let logprobs = if end_of_stream {
            rewriter.logprobs().to_vec()
        } else {
            Vec::new()
        };
        if truncated && !replace_truncated {
            self.output_state(
                route.output_errors.truncated_stream,
                truncated_stream(route),
            );
        }
        // The answer has gone out by now: a low-confidence stream is recorded, not cut.
        self.judge_confidence(route, &logprobs, false);
        self.stream_ended |= end_of_stream;
        if end_of_stream || ended.is_some() {
            self.finish_response(route, ended.as_ref());
        }
        if enforce {
            out
        } else {
            chunk.to_vec()
        }
    }

    /// The stream is over, ended or reset: a response stream that never reached its end
    /// (the upstream went away) is recorded as truncated. Call it before the record is read.
    pub fn on_stream_done(&mut self) {
        self.note_truncation();
        self.settle_limits();
    }

    fn note_truncation(&mut self) {
        let streaming = matches!(self.response, ResponseRead::Stream(_));
        if !streaming || self.stream_ended {
            return;
        }
        self.stream_ended = true;
        let policy = Rc::clone(&self.policy);
        if let Some(route) = self.route.and_then(|i| policy.routes.get(i)) {
            let rejection = truncated_stream(route);
            self.record.findings.push(Finding {
                rule: rejection.rule,
                code: rejection.code,
                action: FindingAction::Log,
                enforced: false,
            });
        }
    }

    /// Settles the request's limits with the tokens it used and counts its strike, once.
    /// Used tokens are the provider's usage, or the estimates where it reported none.
    fn settle_limits(&mut self) {
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
        let used = (!self.rejected && read).then(|| {
            let prompt = usage.prompt.unwrap_or(self.reserved.prompt);
            let completion = usage
                .completion
                .unwrap_or((answer_chars as u64).div_ceil(4));
            self.record.tokens = Some(crate::record::Tokens {
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
    fn finish_response(&mut self, route: &Route, refused: Option<&Rejection>) {
        self.record.entities = self.masker.tallies().to_vec();
        let enforced = self.mode == Mode::Enforce;
        for (note, action) in std::mem::take(&mut self.watch.notes) {
            self.record.findings.push(Finding {
                rule: note.rule,
                code: note.code,
                action,
                enforced: false,
            });
        }
        if self.watch.off_scope.take().is_some() {
            self.record.findings.push(Finding {
                rule: format!("{}.content_filter.scope", route.id),
                code: ErrorCode::OutOfScope,
                action: FindingAction::Flag,
                enforced: false,
            });
        }
        if let Some(action) = self.watch.links.take() {
            self.record.findings.push(Finding {
                rule: format!("{}.links", route.id),
                code: ErrorCode::ContentFiltered,
                action,
                enforced: action == FindingAction::Strip,
            });
        }
        for category in std::mem::take(&mut self.flagged) {
            let rule = format!("{}.content_filter.{category}", route.id);
            if !self.record.findings.iter().any(|f| f.rule == rule) {
                self.record.findings.push(Finding {
                    rule,
                    code: ErrorCode::ContentFiltered,
                    action: FindingAction::Flag,
                    enforced: false,
                });
            }
        }
        for tally in self.masker.tallies() {
            if tally.direction != crate::pii::settings::Direction::Response
                || tally.action == crate::pii::action::PiiAction::Allow
            {
                continue;
            }
            let rule = format!("{}.pii.{}", route.id, tally.type_name);
            if self
                .record
                .findings
                .iter()
                .any(|f| f.rule == rule && f.code == ErrorCode::PiiInOutput)
            {
                continue;
            }
            self.record.findings.push(Finding {
                rule,
                code: ErrorCode::PiiInOutput,
                action: if tally.action == crate::pii::action::PiiAction::Block {
                    FindingAction::Block
                } else {
                    FindingAction::Mask
                },
                enforced,
            });
        }
        if let Some(rejection) = refused {
            self.record_block(rejection, enforced);
            if enforced {
                self.record.status = Some(rejection.status());
            }
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

    fn current_route(&self) -> Option<&Route> {
        self.route.and_then(|i| self.policy.routes.get(i))
    }

    /// The API the matched route speaks, which decides the shape of the filter's errors
    /// and the header its request id goes in.
    pub fn api_format(&self) -> Option<ApiFormat> {
        self.current_route().and_then(Route::api_format)
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

    /// The record of what was decided, for the log at stream end.
    pub fn record(&self) -> &DecisionRecord {
        &self.record
    }

    /// Why the request's `content-encoding` keeps `route` from reading it, if it does.
    fn unreadable_request_coding(&self, route: &Route) -> Option<Rejection> {
        let found = match &self.request_coding {
            Ok(Coding::Identity) => return None,
            Ok(_) if route.encoded_bodies == EncodedBodies::Decode => return None,
            Ok(coding) => coding.as_str().to_string(),
            Err(DecodeError::Unsupported(name)) => name.clone(),
            Err(_) => return None,
        };
        Some(Rejection {
            code: ErrorCode::UnsupportedContentType,
            message: format!(
                "content-encoding {found} is not read here; send the body uncompressed{}",
                if route.encoded_bodies == EncodedBodies::Decode {
                    ", or as gzip, deflate or br"
                } else {
                    ""
                }
            ),
            rule: format!("{}.encoded_bodies", route.id),
            param: None,
        })
    }

    /// The most a decoded body may hold: the policy's body-size limit, else 8 MiB (what
    /// the shipped Envoy configs buffer).
    fn max_decoded_bytes(&self) -> usize {
        self.policy
            .rules
            .iter()
            .map(|rule| {
                let Check::RequestBodySize { max_bytes } = rule.check;
                max_bytes
            })
            .min()
            .map_or(DEFAULT_MAX_DECODED, |m| {
                usize::try_from(m).unwrap_or(usize::MAX)
            })
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
        let enforcing = self.mode == Mode::Enforce;
        for rule in &self.policy.rules {
            let Check::RequestBodySize { max_bytes } = rule.check;
            if bytes <= max_bytes || self.record.findings.iter().any(|f| f.rule == rule.id) {
                continue;
            }
            let enforced = enforcing && rule.action == Action::Block;
            self.record.findings.push(Finding {
                rule: rule.id.clone(),
                code: ErrorCode::RequestTooLarge,
                action: rule.action.into(),
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

    /// A route check failed: reject in enforce mode, record and continue in monitor mode.
    fn violation(&mut self, rejection: Rejection) -> Step {
        let enforced = self.mode == Mode::Enforce;
        self.record_block(&rejection, enforced);
        if enforced {
            self.reject(rejection)
        } else {
            Step::Continue
        }
    }

    /// Records a blocking finding; an enforced one makes the decision a block.
    fn record_block(&mut self, rejection: &Rejection, enforced: bool) {
        self.record.findings.push(Finding {
            rule: rejection.rule.clone(),
            code: rejection.code,
            action: FindingAction::Block,
            enforced,
        });
        if enforced {
            self.record.decision = Decision::Block;
        }
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

/// Whether the request with `request_id` is in the audit sample: decided from the id, so a
/// request is in or out the same way wherever its record is looked at.
fn sampled(request_id: &str, per_million: u32) -> bool {
    let hash = request_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    hash % 1_000_000 < u64::from(per_million)
}

/// The field that caps the completion in each format.
fn max_tokens_field(api: ApiFormat) -> &'static str {
    match api {
        ApiFormat::OpenAiResponses => "max_output_tokens",
        ApiFormat::OpenAiChat | ApiFormat::AnthropicMessages | ApiFormat::Completions => {
            "max_tokens"
        }
    }
}

/// The body with `stream_options.include_usage` set, or `None` when the client already
/// asked for usage (or the body cannot be changed).
fn ask_for_stream_usage(body: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object_mut()?;
    match object.get_mut("stream_options") {
        None => insert_top_level(body, "stream_options", r#"{"include_usage":true}"#),
        Some(Value::Object(options)) => {
            if options.get("include_usage") == Some(&Value::Bool(true)) {
                return None;
            }
            options.insert("include_usage".into(), Value::Bool(true));
            serde_json::to_vec(&value).ok()
        }
        Some(_) => None,
    }
}

/// The abuse strike an enforced finding counts as, if any.
fn strike_of(finding: &Finding) -> Option<Strike> {
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

/// The error of a stream that ended without its protocol's final event.
/// Decoded bodies are bounded by this when the policy sets no body-size limit.
const DEFAULT_MAX_DECODED: usize = 8 << 20;

fn decode_message(error: &DecodeError, what: &str) -> String {
    match error {
        DecodeError::Unsupported(name) => {
            format!("the {what} is encoded as {name}, which is not read")
        }
        DecodeError::Corrupt(coding) => format!("the {what} is not valid {}", coding.as_str()),
        DecodeError::TooLarge(max) => format!("the {what} decodes to more than {max} bytes"),
    }
}

/// A path that a lenient upstream may read as `target` (a route's or the admin path), sent
/// in another form.
fn non_canonical_path(target: &str, rule: &str) -> Rejection {
    Rejection {
        code: ErrorCode::NonCanonicalPath,
        message: format!(
            "the request path is not in canonical form (percent escapes, repeated or trailing \
             slashes, dot segments, `;` parameters or other letter case); send {target}"
        ),
        rule: rule.to_string(),
        param: None,
    }
}

fn truncated_stream(route: &Route) -> Rejection {
    Rejection {
        code: ErrorCode::TruncatedStream,
        message: "the model provider's stream ended before its final event".into(),
        rule: format!("{}.output_errors.truncated_stream", route.id),
        param: None,
    }
}
