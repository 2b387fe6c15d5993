//! One HTTP exchange seen by the filter: the engine's per-stream state machine.
//!
//! The proxy adapter reports each host event and does what the returned [`Step`] says.
//! The engine never holds body bytes it does not need: on a route that does not inspect
//! bodies, a request with a trusted `content-length` under every limit streams through.

use crate::audit::chain::{hmac_hex, sha256_hex};
use crate::audit::metrics::{exchange_metrics, Metric};
use crate::audit::record::{
    Decision, DecisionRecord, Finding, FindingAction, ModeSwitch, Redacted,
};
use crate::audit::redact::redact_all;
use crate::audit::request_id::request_id;
use crate::audit::settings::Collector;
use crate::controls::kill_switch::{self, effective_mode, Switch, Switches};
use crate::controls::ratelimit::alert::Alert;
use crate::controls::ratelimit::key::ClientFacts;
use crate::controls::ratelimit::limiter::Demand;
use crate::controls::ratelimit::settings::Strike;
use crate::controls::ratelimit::store::{thread_store, SharedStore};
use crate::controls::ratelimit::RateState;
use crate::detect::content::{Judgement, ModerationCall, Subject};
use crate::detect::pii::detect::Scanner;
use crate::detect::pii::masker::Masker;
use crate::json::document::{Document, Json, Shape};
use crate::json::edit::BodyEdits;
use crate::llm::usage::Usage;
use crate::llm::{ApiFormat, LlmRequest};
use crate::policy::{Check, LowConfidence, Mode, OverCap, Policy, RouteMatch, StateAction};
use crate::policy::{EncodedBodies, FallbackAction, Review, ReviewQueue, Route, FLAGS_HEADER};
use crate::rejection::{request_id_header, Rejection, Reply, UPSTREAM_REQUEST_ID};
use crate::request::encoding::{decode, Coding, DecodeError};
use crate::request::inspect::{inspect_text, Verdict};
use crate::request::path::RequestPath;
use crate::request::schema::{check_body, Checked, Read};
use crate::request::tokens::estimate_prompt_tokens;
use crate::response::answer_state::answer_states;
use crate::response::confidence::{summarise, token_logprobs};
use crate::response::output::{filter_body, OutputFilter, StreamRewriter};
use crate::response::output_guard::{OutputGuard, OutputWatch};
use crate::response::output_schema::answer_parts;
use crate::response::output_schema::SchemaAction;
use crate::ErrorCode;
use serde_json::Value;
use std::rc::Rc;

mod admin;
mod answer;
mod body;
mod deliver;
pub use deliver::{AnswerEffects, Delivery};
mod finish;
pub(crate) mod header_hold;
pub use finish::Concluded;
mod outcome;
mod request_body;
mod request_headers;
pub use request_body::RequestBodyEffects;
pub use request_headers::{RequestFacts, RequestHeadEffects};
mod response_headers;
pub use response_headers::ResponseHeadEffects;
mod stream;

use body::*;
use finish::*;

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

/// Where a request is on its way to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Its headers are read and nothing is held: a body, if any, streams on.
    Headers,
    /// Held until its body has been measured or read.
    Body,
    /// Held until the moderation service answers about it.
    Moderation,
    /// Sent on (or about to be), its body read or not needed.
    Sent,
    /// Refused: the filter answers it itself.
    Rejected,
}

/// Per-stream state. Create one per HTTP request.
#[derive(Debug)]
pub struct Exchange {
    policy: Rc<Policy>,
    record: DecisionRecord,
    /// Index of the route that applies, if any.
    route: Option<usize>,
    /// Where the request is: held for its body or a moderation answer, sent, or refused.
    phase: Phase,
    /// Codes of findings that flag the request (`x-psf-flags`).
    flags: Vec<&'static str>,
    /// Masks and their originals: per stream, never logged, dropped with the exchange.
    masker: Masker,
    /// How the response body is read, once its headers are known.
    response: ResponseRead,
    /// Content categories the output side flagged (recorded, not blocked).
    flagged: Vec<String>,
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
    /// An exchange whose limits count in this thread's [`crate::controls::ratelimit::MemoryStore`].
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
            phase: Phase::Headers,
            flags: Vec::new(),
            masker: Masker::default(),
            response: ResponseRead::None,
            flagged: Vec::new(),
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

    /// A host callback ended: adds its `micros` of the filter's own time (`response` for
    /// the response side); a request-side callback that let the request `continue` marks
    /// the moment it left for the upstream, unless the request was refused.
    pub fn callback_done(&mut self, response: bool, micros: u64, continued: bool) {
        self.add_filter_time(response, micros);
        if !response && continued && self.phase != Phase::Rejected {
            self.mark_forwarded();
        }
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
        self.phase == Phase::Rejected
    }

    fn current_route(&self) -> Option<&Route> {
        self.route.and_then(|i| self.policy.routes.get(i))
    }

    /// The API the matched route speaks, which decides the shape of the filter's errors
    /// and the header its request id goes in.
    pub fn api_format(&self) -> Option<ApiFormat> {
        self.current_route().and_then(Route::api_format)
    }

    /// The record of what was decided, for the log at stream end.
    pub fn record(&self) -> &DecisionRecord {
        &self.record
    }
}

/// The error of a stream that ended without its protocol's final event.
/// Decoded bodies are bounded by this when the policy sets no body-size limit.
const DEFAULT_MAX_DECODED: usize = 8 << 20;
