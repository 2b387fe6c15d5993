//! The scripted LLM upstream: OpenAI Chat Completions and Responses, Anthropic Messages,
//! JSON or SSE, steered per request by the `x-mock-scenario` header.
//!
//! [`respond`] is pure (no socket, no clock) so the wasmtime host can play the same
//! scenarios as a real Envoy and the replies compare byte for byte. [`spawn`] serves it on
//! loopback and logs every request it receives to JSONL, which is how tests prove what the
//! model actually saw.

use crate::http1::{Server, ServerBody, ServerResponse};
use crate::message::{HttpRequest, HttpResponse};
use anyhow::Context;
use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The request header that selects a scenario (default `echo`).
pub const SCENARIO_HEADER: &str = "x-mock-scenario";

/// Pause between the halves of events in the `split-stream` scenario, so a real proxy
/// sees them as separate chunks.
pub const SPLIT_STREAM_DELAY: Duration = Duration::from_millis(3);

/// Pause between SSE events in the `slow-stream` scenario.
pub const SLOW_STREAM_DELAY: Duration = Duration::from_millis(50);

/// A fixed `created` timestamp keeps replies identical across runs and hosts.
const CREATED: u64 = 1_700_000_000;

/// What [`respond`] needs besides the request.
#[derive(Debug, Clone)]
pub struct MockContext {
    /// Base directory for `reply:<file>`; files outside it are refused.
    pub replies_dir: PathBuf,
}

impl Default for MockContext {
    /// `examples/replies/` under the current directory.
    fn default() -> Self {
        Self {
            replies_dir: PathBuf::from("examples/replies"),
        }
    }
}

/// A mock reply: the body as timed pieces so streams can be replayed over a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Body pieces, each sent after its delay (one piece for JSON replies).
    pub chunks: Vec<(Duration, Vec<u8>)>,
    /// The stream stops midway: over a socket the final chunk is never sent.
    pub truncated: bool,
}

impl MockResponse {
    /// The whole body.
    pub fn body(&self) -> Vec<u8> {
        self.chunks.iter().flat_map(|(_, c)| c.clone()).collect()
    }

    /// Whether this is an SSE stream (sent chunked over a socket).
    pub fn is_stream(&self) -> bool {
        self.truncated
            || crate::message::find_header(&self.headers, "content-type")
                .is_some_and(|c| c.starts_with("text/event-stream"))
    }

    /// The response as a client would see it once complete (truncation is not visible).
    pub fn to_http_response(&self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body(),
        }
    }

    /// How [`Server`] should send it: streams chunked, truncated streams cut short.
    pub fn to_server_response(&self) -> ServerResponse {
        let body = if self.truncated {
            ServerBody::Truncated(self.chunks.clone())
        } else if self.is_stream() {
            ServerBody::Chunked(self.chunks.clone())
        } else {
            ServerBody::Full(self.body())
        };
        ServerResponse {
            status: self.status,
            headers: self.headers.clone(),
            body,
        }
    }
}

/// The API a path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    ChatCompletions,
    Responses,
    AnthropicMessages,
}

/// The parsed `x-mock-scenario` header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Scenario {
    Echo,
    Reply(String),
    SlowStream,
    /// A stream of three-character deltas, each event sent as two chunks cut mid-event
    /// (even mid-character): what a filter must reassemble.
    SplitStream,
    Status(u16),
    MalformedJson,
    TruncatedStream,
    /// A chat answer that calls tool `name` with `arguments` (JSON text), not streamed.
    Tool(String, String),
}

/// A scenario, and how a stream is paced: `reply:<file>+slow-stream` streams a reply file
/// slowly; a pacing scenario alone (`slow-stream`) paces the echo.
fn parse_scenarios(value: Option<&str>) -> Result<(Scenario, Scenario), String> {
    let v = value.unwrap_or("echo");
    let (first, pace) = match v.split_once('+') {
        Some((first, pace)) => (parse_scenario(first)?, Some(parse_scenario(pace)?)),
        None => (parse_scenario(v)?, None),
    };
    match pace {
        None => Ok((first.clone(), first)),
        Some(
            pace @ (Scenario::SlowStream | Scenario::SplitStream | Scenario::TruncatedStream),
        ) => Ok((first, pace)),
        Some(other) => Err(format!("{other:?} cannot pace a stream; use slow-stream, split-stream or truncated-stream after +")),
    }
}

fn parse_scenario(value: &str) -> Result<Scenario, String> {
    let v = value.trim();
    if let Some(file) = v.strip_prefix("reply:") {
        return Ok(Scenario::Reply(file.trim().to_string()));
    }
    if let Some(call) = v.strip_prefix("tool:") {
        let (name, arguments) = call.split_once(':').unwrap_or((call, "{}"));
        return Ok(Scenario::Tool(
            name.trim().to_string(),
            arguments.to_string(),
        ));
    }
    if let Some(code) = v.strip_prefix("status:") {
        return match code.trim().parse::<u16>() {
            Ok(c) if (100..=599).contains(&c) => Ok(Scenario::Status(c)),
            _ => Err(format!("bad status scenario {v:?}")),
        };
    }
    match v {
        "" | "echo" => Ok(Scenario::Echo),
        "slow-stream" => Ok(Scenario::SlowStream),
        "split-stream" => Ok(Scenario::SplitStream),
        "malformed-json" => Ok(Scenario::MalformedJson),
        "truncated-stream" => Ok(Scenario::TruncatedStream),
        _ => Err(format!("unknown scenario {v:?}")),
    }
}

/// Answers `req` as the mock LLM would; deterministic for a given request and reply dir.
pub fn respond(req: &HttpRequest, ctx: &MockContext) -> MockResponse {
    if req.header("content-encoding") == Some("gzip") {
        // A gzip body, as clients may send and providers read: answered decoded.
        let mut body = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(req.body.as_slice());
        if std::io::Read::read_to_end(&mut decoder, &mut body).is_err() {
            return error(
                400,
                "invalid_request_error",
                "the gzip body does not decode",
            );
        }
        let mut plain = req.clone();
        plain.body = body;
        plain.headers.retain(|(name, _)| name != "content-encoding");
        return respond(&plain, ctx);
    }
    let path = req.path.split('?').next().unwrap_or_default();
    if let Some(rest) = path.strip_prefix("/v1/moderations") {
        return moderation(req, rest);
    }
    if path == "/v1/alerts" || path == "/v1/audit" || path == "/v1/review" {
        // An alert webhook or an audit collector: accepted, and kept in the request log.
        return single(202, "application/json", b"{}".to_vec());
    }
    let api = match path {
        "/v1/chat/completions" => Api::ChatCompletions,
        "/v1/responses" => Api::Responses,
        "/v1/messages" => Api::AnthropicMessages,
        _ => return error(404, "not_found", &format!("unknown path {path}")),
    };
    if !req.method.eq_ignore_ascii_case("POST") {
        return error(405, "invalid_request_error", "only POST is supported");
    }
    let (scenario, pace) = match parse_scenarios(req.header(SCENARIO_HEADER)) {
        Ok(s) => s,
        Err(msg) => return error(400, "invalid_request_error", &msg),
    };
    match scenario {
        Scenario::Status(code) => {
            return error(code, "mock_error", &format!("mock status {code}"));
        }
        Scenario::Tool(name, arguments) => {
            let body = json!({
                "id": "chatcmpl-mock-tool", "object": "chat.completion", "created": CREATED,
                "model": "mock-model",
                "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                    "role": "assistant", "content": null,
                    "tool_calls": [{"id": "call_1", "type": "function",
                                    "function": {"name": name, "arguments": arguments}}]}}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
            });
            return single(200, "application/json", body.to_string().into_bytes());
        }
        Scenario::MalformedJson => {
            return single(
                200,
                "application/json",
                b"{\"id\": \"mock\", \"choices\": [{\"message\": ".to_vec(),
            );
        }
        _ => {}
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                400,
                "invalid_request_error",
                &format!("invalid JSON body: {e}"),
            )
        }
    };
    let text = match &scenario {
        Scenario::Reply(file) => match read_reply(&ctx.replies_dir, file) {
            Ok(t) => t,
            Err(msg) => return error(400, "invalid_request_error", &msg),
        },
        _ => last_user_text(api, &body),
    };
    let reply = Reply {
        id_seed: fnv1a(&req.body),
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("mock-model")
            .to_string(),
        prompt_tokens: estimate_tokens(&prompt_text(api, &body)),
        completion_tokens: estimate_tokens(&text),
        text,
        piece_chars: (pace == Scenario::SplitStream).then_some(3),
    };
    let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false)
        || matches!(
            pace,
            Scenario::SlowStream | Scenario::TruncatedStream | Scenario::SplitStream
        );
    if !stream {
        let json = match api {
            Api::ChatCompletions => chat_json(&reply),
            Api::Responses => responses_json(&reply),
            Api::AnthropicMessages => anthropic_json(&reply),
        };
        return single(200, "application/json", json.to_string().into_bytes());
    }
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let events = match api {
        Api::ChatCompletions => chat_sse(&reply, include_usage),
        Api::Responses => responses_sse(&reply),
        Api::AnthropicMessages => anthropic_sse(&reply),
    };
    sse(events, &pace)
}

/// Everything a rendered reply needs.
struct Reply {
    id_seed: u64,
    model: String,
    text: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    /// Deltas of this many characters instead of words.
    piece_chars: Option<usize>,
}

impl Reply {
    fn pieces(&self) -> Vec<String> {
        match self.piece_chars {
            Some(n) => {
                let chars: Vec<char> = self.text.chars().collect();
                chars.chunks(n.max(1)).map(|c| c.iter().collect()).collect()
            }
            None => pieces(&self.text),
        }
    }

    fn id(&self, prefix: &str) -> String {
        format!("{prefix}mock{:016x}", self.id_seed)
    }
}

fn single(status: u16, content_type: &str, body: Vec<u8>) -> MockResponse {
    MockResponse {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        chunks: vec![(Duration::ZERO, body)],
        truncated: false,
    }
}

/// Words the mock moderation service flags, with their OpenAI category.
const MODERATION_WORDS: [(&str, &str); 3] = [
    ("murder", "violence"),
    ("massacre", "violence"),
    ("extermination", "hate"),
];

/// `POST /v1/moderations`, the OpenAI moderation API: an input flags a category when it
/// holds one of [`MODERATION_WORDS`]. `/v1/moderations/status/<code>` answers with that
/// status, so tests can make the service fail.
fn moderation(req: &HttpRequest, rest: &str) -> MockResponse {
    if let Some(code) = rest.strip_prefix("/status/") {
        let code = code.parse().unwrap_or(500);
        return error(code, "mock_error", &format!("mock status {code}"));
    }
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return error(400, "invalid_request_error", "invalid JSON body");
    };
    let inputs: Vec<String> = match &body["input"] {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .collect(),
        _ => {
            return error(
                400,
                "invalid_request_error",
                "input must be a string or an array",
            )
        }
    };
    let results: Vec<Value> = inputs
        .iter()
        .map(|input| {
            let lower = input.to_lowercase();
            let mut categories = serde_json::Map::new();
            let mut scores = serde_json::Map::new();
            for category in ["violence", "hate", "self-harm"] {
                let hit = MODERATION_WORDS
                    .iter()
                    .any(|(word, c)| *c == category && lower.contains(word));
                categories.insert(category.into(), json!(hit));
                scores.insert(category.into(), json!(if hit { 0.97 } else { 0.01 }));
            }
            let flagged = categories.values().any(|v| v == &json!(true));
            json!({"flagged": flagged, "categories": categories, "category_scores": scores})
        })
        .collect();
    let answer = json!({"id": "modr-mock", "model": body["model"].as_str().unwrap_or("omni-moderation-latest"), "results": results});
    single(200, "application/json", answer.to_string().into_bytes())
}

/// An OpenAI-style error body.
fn error(status: u16, kind: &str, message: &str) -> MockResponse {
    let body = json!({"error": {"message": message, "type": kind, "param": null, "code": null}});
    single(status, "application/json", body.to_string().into_bytes())
}

/// Turns SSE events into timed pieces; slow streams pause between pieces, truncated
/// streams keep only the first half and never reach the terminator.
fn sse(events: Vec<String>, scenario: &Scenario) -> MockResponse {
    let delay = if *scenario == Scenario::SlowStream {
        SLOW_STREAM_DELAY
    } else {
        Duration::ZERO
    };
    let truncated = *scenario == Scenario::TruncatedStream;
    let keep = if truncated {
        (events.len() / 2).max(1)
    } else {
        events.len()
    };
    let mut chunks: Vec<(Duration, Vec<u8>)> = events
        .into_iter()
        .take(keep)
        .enumerate()
        .map(|(i, e)| (if i == 0 { Duration::ZERO } else { delay }, e.into_bytes()))
        .collect();
    if *scenario == Scenario::SplitStream {
        chunks = chunks
            .into_iter()
            .flat_map(|(_, event)| {
                let (head, tail) = event.split_at(event.len() / 2);
                [
                    (SPLIT_STREAM_DELAY, head.to_vec()),
                    (SPLIT_STREAM_DELAY, tail.to_vec()),
                ]
            })
            .collect();
    }
    MockResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/event-stream".into()),
            ("cache-control".into(), "no-cache".into()),
        ],
        chunks,
        truncated,
    }
}

fn data_event(v: &Value) -> String {
    format!("data: {v}\n\n")
}

fn named_event(name: &str, v: &Value) -> String {
    format!("event: {name}\ndata: {v}\n\n")
}

/// Splits text into word-sized pieces (each word with its leading whitespace), the way
/// streamed tokens look; concatenated they give back the text exactly.
pub fn pieces(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    for c in text.chars() {
        if c.is_whitespace() && in_word {
            out.push(std::mem::take(&mut cur));
            in_word = false;
        } else if !c.is_whitespace() {
            in_word = true;
        }
        cur.push(c);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Token estimate used for usage: ceil(chars / 4).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn chat_json(r: &Reply) -> Value {
    json!({
        "id": r.id("chatcmpl-"),
        "object": "chat.completion",
        "created": CREATED,
        "model": r.model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": r.text},
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens
        }
    })
}

fn chat_sse(r: &Reply, include_usage: bool) -> Vec<String> {
    let chunk = |choices: Value| {
        json!({
            "id": r.id("chatcmpl-"),
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": r.model,
            "choices": choices
        })
    };
    let mut events = vec![data_event(&chunk(json!([{
        "index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null
    }])))];
    for p in r.pieces() {
        events.push(data_event(&chunk(json!([{
            "index": 0, "delta": {"content": p}, "finish_reason": null
        }]))));
    }
    events.push(data_event(&chunk(json!([{
        "index": 0, "delta": {}, "finish_reason": "stop"
    }]))));
    if include_usage {
        let mut usage = chunk(json!([]));
        usage["usage"] = json!({
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens
        });
        events.push(data_event(&usage));
    }
    events.push("data: [DONE]\n\n".to_string());
    events
}

fn responses_object(r: &Reply, completed: bool) -> Value {
    let output = if completed {
        json!([{
            "type": "message",
            "id": r.id("msg_"),
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": r.text, "annotations": []}]
        }])
    } else {
        json!([])
    };
    let mut v = json!({
        "id": r.id("resp_"),
        "object": "response",
        "created_at": CREATED,
        "status": if completed { "completed" } else { "in_progress" },
        "model": r.model,
        "output": output,
        "usage": null
    });
    if completed {
        v["usage"] = json!({
            "input_tokens": r.prompt_tokens,
            "output_tokens": r.completion_tokens,
            "total_tokens": r.prompt_tokens + r.completion_tokens
        });
    }
    v
}

fn responses_json(r: &Reply) -> Value {
    responses_object(r, true)
}

fn responses_sse(r: &Reply) -> Vec<String> {
    let mut events = vec![named_event(
        "response.created",
        &json!({"type": "response.created", "response": responses_object(r, false)}),
    )];
    for p in r.pieces() {
        events.push(named_event(
            "response.output_text.delta",
            &json!({
                "type": "response.output_text.delta",
                "item_id": r.id("msg_"),
                "output_index": 0,
                "content_index": 0,
                "delta": p
            }),
        ));
    }
    events.push(named_event(
        "response.completed",
        &json!({"type": "response.completed", "response": responses_object(r, true)}),
    ));
    events
}

fn anthropic_json(r: &Reply) -> Value {
    json!({
        "id": r.id("msg_"),
        "type": "message",
        "role": "assistant",
        "model": r.model,
        "content": [{"type": "text", "text": r.text}],
        "stop_reason": "end_turn",
        "stop_sequence": null,
        "usage": {"input_tokens": r.prompt_tokens, "output_tokens": r.completion_tokens}
    })
}

fn anthropic_sse(r: &Reply) -> Vec<String> {
    let mut events = vec![
        named_event(
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": r.id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": r.model,
                "content": [],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": r.prompt_tokens, "output_tokens": 0}
            }}),
        ),
        named_event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
        ),
    ];
    for p in r.pieces() {
        events.push(named_event(
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": p}}),
        ));
    }
    events.push(named_event(
        "content_block_stop",
        &json!({"type": "content_block_stop", "index": 0}),
    ));
    events.push(named_event(
        "message_delta",
        &json!({"type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                "usage": {"input_tokens": r.prompt_tokens, "output_tokens": r.completion_tokens}}),
    ));
    events.push(named_event(
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    events
}

/// Text of a message `content`: a string, or the text of its text-like parts joined.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| {
                matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("text" | "input_text" | "output_text")
                )
            })
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// The conversation items of a request body, whatever the API calls them.
fn items(api: Api, body: &Value) -> Vec<Value> {
    let key = match api {
        Api::Responses => "input",
        _ => "messages",
    };
    match body.get(key) {
        Some(Value::Array(a)) => a.clone(),
        // Responses `input` may be a bare string: one user message.
        Some(Value::String(s)) => vec![json!({"role": "user", "content": s})],
        _ => Vec::new(),
    }
}

/// The echo scenario's reply: the text of the last user message.
fn last_user_text(api: Api, body: &Value) -> String {
    items(api, body)
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("user"))
        .and_then(|m| m.get("content"))
        .map(content_text)
        .unwrap_or_default()
}

/// All prompt text (system/instructions and every message) for the usage estimate.
fn prompt_text(api: Api, body: &Value) -> String {
    let mut parts = Vec::new();
    for key in ["system", "instructions"] {
        if let Some(v) = body.get(key) {
            parts.push(content_text(v));
        }
    }
    for m in items(api, body) {
        if let Some(c) = m.get("content") {
            parts.push(content_text(c));
        }
    }
    parts.join("\n")
}

/// Reads `file` under `dir`, refusing anything that could leave it.
fn read_reply(dir: &Path, file: &str) -> Result<String, String> {
    let rel = Path::new(file);
    let plain = !file.is_empty()
        && rel
            .components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if !plain {
        return Err(format!(
            "reply file {file:?} is outside the replies directory"
        ));
    }
    let full = dir.join(rel);
    // Symlinks could still point out of the directory.
    let (Ok(base), Ok(real)) = (dir.canonicalize(), full.canonicalize()) else {
        return Err(format!(
            "reply file {file:?} not found in {}",
            dir.display()
        ));
    };
    if !real.starts_with(&base) {
        return Err(format!(
            "reply file {file:?} is outside the replies directory"
        ));
    }
    std::fs::read_to_string(&real).map_err(|e| format!("reading reply file {file:?}: {e}"))
}

/// FNV-1a: a stable, dependency-free hash for deterministic ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// How to run the mock on a socket.
#[derive(Debug, Clone, Default)]
pub struct MockOptions {
    /// Port on 127.0.0.1; `0` picks a free one.
    pub port: u16,
    /// JSONL request log; none when `None` (requests are still kept in memory).
    pub log: Option<PathBuf>,
    pub ctx: MockContext,
}

/// A running mock LLM; stops on drop.
pub struct MockLlm {
    server: Server,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
}

impl MockLlm {
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Serves the mock on 127.0.0.1, logging each request before answering it.
pub fn spawn(opts: MockOptions) -> anyhow::Result<MockLlm> {
    let log = match &opts.log {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening request log {}", path.display()))?,
        )),
        None => None,
    };
    let requests: Arc<Mutex<Vec<HttpRequest>>> = Arc::default();
    let seen = requests.clone();
    let ctx = opts.ctx.clone();
    let server = Server::bind(opts.port, move |req| {
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(req.clone());
        if let Some(file) = &log {
            let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
            // A failed log write must not take the upstream down; the test will notice.
            let _ = append_log(&mut file, req);
        }
        respond(req, &ctx).to_server_response()
    })?;
    Ok(MockLlm { server, requests })
}

/// One JSONL line per request, flushed so readers see it immediately.
fn append_log(file: &mut File, req: &HttpRequest) -> anyhow::Result<()> {
    let ts_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut headers = serde_json::Map::new();
    for (k, v) in &req.headers {
        let merged = match headers.get(k).and_then(Value::as_str) {
            Some(prev) => format!("{prev}, {v}"),
            None => v.clone(),
        };
        headers.insert(k.clone(), Value::String(merged));
    }
    let line = json!({
        "ts_ms": ts_ms,
        "method": req.method,
        "path": req.path,
        "headers": headers,
        "body": String::from_utf8_lossy(&req.body),
    });
    writeln!(file, "{line}")?;
    file.flush()?;
    Ok(())
}

/// Reads a JSONL request log back into requests (bodies as logged, i.e. lossy UTF-8).
pub fn read_log(path: &Path) -> anyhow::Result<Vec<HttpRequest>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading request log {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).context("bad request log line")?;
            let s = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let headers = v
                .get("headers")
                .and_then(Value::as_object)
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            Ok(HttpRequest {
                method: s("method"),
                path: s("path"),
                headers,
                body: s("body").into_bytes(),
            })
        })
        .collect()
}
