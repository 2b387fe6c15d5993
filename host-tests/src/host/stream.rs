//! Envoy filter-manager emulation: plays one HTTP exchange through the filter
//! with Envoy's callback order, buffering and local-reply rules.
//!
//! Quirks encoded here (envoy source/common/http/filter_manager.cc,
//! source/extensions/common/wasm/context.cc, source/common/http/http1/codec_impl.cc):
//! - Bodies arrive as chunks with end_of_stream=false, then an empty chunk with
//!   end_of_stream=true (the HTTP/1 codec's onMessageComplete) unless trailers end
//!   the stream.
//! - Pause on a body is StopIterationAndBuffer: the chunk is kept, the next call
//!   gets the cumulative size and `get_buffer_bytes` sees the whole buffer; Continue
//!   releases everything buffered.
//! - Pause on headers is StopIteration only with `allow_on_headers_stop_iteration`
//!   (Envoy >= 1.35): body callbacks still run, and Continue from a body (or trailers)
//!   callback also resumes the headers (commonHandleAfterDataCallback). Without it,
//!   Envoy makes the pause StopAllIteration and delivers no body until the filter resumes
//!   the stream itself (from a tick or a call answer): the clock runs and ticks fire
//!   until it does, up to a stream timeout, then it is a stall.
//! - Headers go upstream/downstream as they are when released; later edits are lost.
//! - Nothing fixes content-length when the filter changes a body: the upstream sees
//!   the header as the filter left it.
//! - `proxy_send_local_response` runs after the callback returns; before the
//!   response has started it goes through the filter's own response callbacks
//!   (sendLocalReplyViaFilterChain), with headers from prepareLocalReply; once
//!   upstream response headers exist but are not yet sent it replaces them directly
//!   (sendDirectLocalReply, no filter callbacks); after that the stream is reset.
//! - The upstream sees a request only once it is complete (this host's upstream is
//!   synchronous); a local reply at any request stage means it sees none.

use anyhow::{bail, Result};

use super::state::LocalReply;
use super::types::{Action, Headers};
use super::vm::{Vm, VmInner};
use crate::message::{find_header, HttpRequest, HttpResponse};

/// One client request to play through [`Vm::http_stream`].
#[derive(Debug, Clone)]
pub struct StreamRequest {
    /// A `host` header becomes `:authority` (default `localhost`).
    pub request: HttpRequest,
    /// Chunk sizes to split the body into (the rest is one more chunk); empty = one chunk.
    pub chunks: Vec<usize>,
    pub trailers: Vec<(String, String)>,
    pub source_address: String,
    /// `x-request-id` and the `request.id` property; generated when empty.
    pub request_id: String,
}

impl Default for StreamRequest {
    fn default() -> Self {
        Self {
            request: HttpRequest::default(),
            chunks: Vec::new(),
            trailers: Vec::new(),
            source_address: "127.0.0.1:40000".into(),
            request_id: String::new(),
        }
    }
}

impl StreamRequest {
    pub fn new(request: HttpRequest) -> Self {
        Self {
            request,
            ..Self::default()
        }
    }
}

/// What the upstream answers, chunk by chunk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub chunks: Vec<Vec<u8>>,
    pub trailers: Vec<(String, String)>,
}

impl UpstreamResponse {
    /// A single-chunk response with `content-length`.
    pub fn new(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        let body = body.into();
        let mut h: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        if find_header(&h, "content-length").is_none() {
            h.push(("content-length".into(), body.len().to_string()));
        }
        Self {
            status,
            headers: h,
            chunks: if body.is_empty() {
                Vec::new()
            } else {
                vec![body]
            },
            trailers: Vec::new(),
        }
    }
}

/// The upstream cluster behind the filter.
pub trait Upstream {
    fn respond(&mut self, req: &HttpRequest) -> UpstreamResponse;
}

impl<F: FnMut(&HttpRequest) -> UpstreamResponse> Upstream for F {
    fn respond(&mut self, req: &HttpRequest) -> UpstreamResponse {
        self(req)
    }
}

/// What happened to one exchange.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamOutcome {
    /// What the upstream received (headers without pseudo-headers; `:authority`
    /// becomes `host`), or None if the request never reached it.
    pub upstream_request: Option<HttpRequest>,
    pub upstream_trailers: Vec<(String, String)>,
    /// What the client received.
    pub response: HttpResponse,
    pub response_trailers: Vec<(String, String)>,
    /// The filter answered with `proxy_send_local_response`.
    pub local_reply: bool,
    /// Its details string (spaces replaced by `_`, as Envoy does).
    pub local_reply_details: Option<String>,
    /// The body as released to the client, chunk by chunk.
    pub response_chunks: Vec<Vec<u8>>,
    /// The filter closed the stream or replied locally after the response had
    /// started: Envoy resets the stream.
    pub reset: bool,
    /// The filter's HTTP context id.
    pub context_id: u32,
}

/// What the filter manager does after a callback.
enum Flow {
    Continue,
    Paused,
    Local(LocalReply),
    Reset,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Request,
    Response,
}

fn split(body: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = body;
    for &n in sizes {
        if rest.is_empty() {
            break;
        }
        let (a, b) = rest.split_at(n.min(rest.len()));
        out.push(a.to_vec());
        rest = b;
    }
    if !rest.is_empty() {
        out.push(rest.to_vec());
    }
    out
}

fn strip_pseudo(h: &Headers) -> Headers {
    h.iter()
        .filter(|(k, _)| !k.starts_with(':'))
        .cloned()
        .collect()
}

impl Vm {
    /// Plays one HTTP exchange through the filter the way Envoy's filter manager
    /// does (see the module docs for the rules), then logs, completes and deletes
    /// the context. Traps, unexpected host calls and stalls are errors.
    pub fn http_stream(
        &mut self,
        req: &StreamRequest,
        upstream: &mut dyn Upstream,
    ) -> Result<StreamOutcome> {
        self.with(|v| {
            let id = if req.request_id.is_empty() {
                req.request
                    .header("x-request-id")
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        format!("00000000-0000-4000-8000-{:012x}", v.store.data().next_ctx)
                    })
            } else {
                req.request_id.clone()
            };
            let ctx = v.new_http_context(&req.source_address, &id)?;
            let mut out = StreamOutcome {
                context_id: ctx,
                ..StreamOutcome::default()
            };
            match drive(v, ctx, req, &id, upstream, &mut out) {
                Ok(()) => {
                    v.finish_stream(ctx)?;
                    Ok(out)
                }
                Err(e) => {
                    v.store.data_mut().streams.remove(&ctx);
                    Err(e)
                }
            }
        })
    }
}

/// Envoy's HCM adds these before the filter chain runs.
fn request_headers(req: &StreamRequest, id: &str) -> Headers {
    let r = &req.request;
    let mut h: Headers = vec![
        (
            ":authority".into(),
            r.header("host").unwrap_or("localhost").to_string(),
        ),
        (":path".into(), r.path.clone()),
        (":method".into(), r.method.clone()),
        (":scheme".into(), "http".into()),
    ];
    for (k, v) in &r.headers {
        let k = k.to_ascii_lowercase();
        if k != "host" && k != "x-request-id" {
            h.push((k, v.clone()));
        }
    }
    let has = |h: &Headers, n: &str| find_header(h, n).is_some();
    if !r.body.is_empty() && !has(&h, "content-length") && !has(&h, "transfer-encoding") {
        h.push(("content-length".into(), r.body.len().to_string()));
    }
    if !has(&h, "x-forwarded-proto") {
        h.push(("x-forwarded-proto".into(), "http".into()));
    }
    h.push(("x-request-id".into(), id.to_string()));
    h
}

/// After a callback: answer http_calls, run the deferred local reply, honour
/// close/continue. When `finished` (no more input for this direction) a pause
/// must be resumed by `proxy_continue_stream`, else the stream stalls.
fn settle(v: &mut VmInner, ctx: u32, dir: Dir, action: Action, finished: bool) -> Result<Flow> {
    loop {
        v.dispatch_http_calls()?;
        let s = v.stream(ctx)?;
        if let Some(lr) = s.local_reply.take() {
            return Ok(Flow::Local(lr));
        }
        if s.closed {
            return Ok(Flow::Reset);
        }
        let resumed = match dir {
            Dir::Request => std::mem::take(&mut s.continue_request),
            Dir::Response => std::mem::take(&mut s.continue_response),
        };
        if action == Action::Continue || resumed {
            return Ok(Flow::Continue);
        }
        if !finished {
            return Ok(Flow::Paused);
        }
        if v.store.data().pending_calls.is_empty() {
            let which = if dir == Dir::Request {
                "request"
            } else {
                "response"
            };
            bail!("stream stalled: the filter paused the {which} and nothing will resume it (Envoy would wait for the stream timeout)");
        }
    }
}

fn drive(
    v: &mut VmInner,
    ctx: u32,
    req: &StreamRequest,
    id: &str,
    upstream: &mut dyn Upstream,
    out: &mut StreamOutcome,
) -> Result<()> {
    let chunks = split(&req.request.body, &req.chunks);
    let has_trailers = !req.trailers.is_empty();
    let headers_eos = chunks.is_empty() && !has_trailers;

    let mut sent = Sent::default();
    let a = v.on_request_headers(ctx, request_headers(req, id), headers_eos)?;
    let mut flow = settle(v, ctx, Dir::Request, a, headers_eos)?;
    if matches!(flow, Flow::Paused) && !v.allow_on_headers_stop_iteration {
        flow = wait_for_resume(v, ctx, Dir::Request)?;
    }
    for chunk in &chunks {
        if !apply_request_flow(v, ctx, flow, &mut sent, out)? {
            return Ok(());
        }
        let a = v.on_request_body(ctx, chunk, false)?;
        flow = settle(v, ctx, Dir::Request, a, false)?;
    }
    if has_trailers || !chunks.is_empty() {
        if !apply_request_flow(v, ctx, flow, &mut sent, out)? {
            return Ok(());
        }
        let a = if has_trailers {
            v.on_request_trailers(ctx, req.trailers.clone())?
        } else {
            v.on_request_body(ctx, &[], true)?
        };
        flow = settle(v, ctx, Dir::Request, a, true)?;
    }
    if !apply_request_flow(v, ctx, flow, &mut sent, out)? {
        return Ok(());
    }

    let headers = sent.headers.unwrap_or_default();
    let mut up_headers = Vec::new();
    if let Some(a) = find_header(&headers, ":authority") {
        up_headers.push(("host".to_string(), a.to_string()));
    }
    up_headers.extend(strip_pseudo(&headers));
    let up_req = HttpRequest {
        method: find_header(&headers, ":method")
            .unwrap_or_default()
            .to_string(),
        path: find_header(&headers, ":path")
            .unwrap_or_default()
            .to_string(),
        headers: up_headers,
        body: sent.body,
    };
    if has_trailers {
        out.upstream_trailers = v.stream(ctx)?.request_trailers.clone().unwrap_or_default();
    }
    let resp = upstream.respond(&up_req);
    out.upstream_request = Some(up_req);
    respond(v, ctx, resp, false, out)
}

/// How long a stream StopAllIteration holds may wait for the filter (Envoy's default
/// stream idle timeout is 5 minutes; a minute is plenty here).
const STOP_ALL_TIMEOUT_NANOS: u64 = 60_000_000_000;

/// Envoy without `allow_on_headers_stop_iteration`: paused headers are StopAllIteration,
/// the body waits in the host, and only the filter resuming the stream moves it on. Runs
/// the clock tick by tick until it does.
fn wait_for_resume(v: &mut VmInner, ctx: u32, dir: Dir) -> Result<Flow> {
    let host = v.store.data().host.clone();
    let clock = &host.clock;
    let give_up = clock.monotonic_nanos() + STOP_ALL_TIMEOUT_NANOS;
    loop {
        let Some(next) = v.store.data().next_tick_nanos.filter(|t| *t <= give_up) else {
            let which = if dir == Dir::Request {
                "request"
            } else {
                "response"
            };
            bail!("stream stalled: the filter paused the {which} headers, which Envoy turns into StopAllIteration unless allow_on_headers_stop_iteration is set, and nothing resumed them: the body is never delivered");
        };
        clock.advance(std::time::Duration::from_nanos(
            next.saturating_sub(clock.monotonic_nanos()),
        ));
        v.tick()?;
        let flow = settle(v, ctx, dir, Action::Pause, false)?;
        if !matches!(flow, Flow::Paused) {
            return Ok(flow);
        }
    }
}

/// What has gone upstream so far.
#[derive(Default)]
struct Sent {
    headers: Option<Headers>,
    body: Vec<u8>,
}

/// Applies a request-side flow: Continue releases the headers (if still held)
/// and everything buffered; Paused keeps buffering. Returns false when the
/// stream is over (local reply played, or reset).
fn apply_request_flow(
    v: &mut VmInner,
    ctx: u32,
    flow: Flow,
    sent: &mut Sent,
    out: &mut StreamOutcome,
) -> Result<bool> {
    match flow {
        Flow::Continue => {
            let s = v.stream(ctx)?;
            if sent.headers.is_none() {
                sent.headers = s.request_headers.clone();
            }
            sent.body.append(&mut s.request_body);
            Ok(true)
        }
        Flow::Paused => Ok(true),
        Flow::Reset => {
            out.reset = true;
            Ok(false)
        }
        Flow::Local(lr) => {
            local_reply_via_filter(v, ctx, lr, out)?;
            Ok(false)
        }
    }
}

/// envoy source/common/http/utility.cc prepareLocalReply: `:status`, the filter's
/// headers, then content-length and (if unset) `content-type: text/plain` when
/// there is a body.
fn local_reply_headers(lr: &LocalReply) -> Headers {
    let mut h = vec![(":status".to_string(), lr.status.to_string())];
    h.extend(lr.headers.iter().cloned());
    if !lr.body.is_empty() {
        h.retain(|(k, _)| k != "content-length");
        h.push(("content-length".into(), lr.body.len().to_string()));
        if find_header(&h, "content-type").is_none() {
            h.push(("content-type".into(), "text/plain".into()));
        }
    }
    h
}

fn local_reply_via_filter(
    v: &mut VmInner,
    ctx: u32,
    lr: LocalReply,
    out: &mut StreamOutcome,
) -> Result<()> {
    out.local_reply = true;
    out.local_reply_details = Some(lr.details.clone());
    let resp = UpstreamResponse {
        status: lr.status,
        headers: local_reply_headers(&lr)
            .into_iter()
            .filter(|(k, _)| k != ":status")
            .collect(),
        chunks: if lr.body.is_empty() {
            Vec::new()
        } else {
            vec![lr.body]
        },
        trailers: Vec::new(),
    };
    respond(v, ctx, resp, true, out)
}

/// Plays a response through the filter's encoder callbacks. `local` responses
/// carry end_of_stream on their single body chunk (encodeData(body, true)); a
/// local reply requested while playing one is ignored, as Envoy does.
fn respond(
    v: &mut VmInner,
    ctx: u32,
    resp: UpstreamResponse,
    local: bool,
    out: &mut StreamOutcome,
) -> Result<()> {
    let mut headers = vec![(":status".to_string(), resp.status.to_string())];
    headers.extend(
        resp.headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone())),
    );
    let has_trailers = !resp.trailers.is_empty();
    let headers_eos = resp.chunks.is_empty() && !has_trailers;

    let mut client_headers: Option<Headers> = None;
    let mut client_body: Vec<Vec<u8>> = Vec::new();

    // Steps: (kind, payload, eos). kind 0 headers, 1 data, 2 trailers.
    let mut steps: Vec<(u8, Vec<u8>, bool)> = vec![(0, Vec::new(), headers_eos)];
    let n = resp.chunks.len();
    for (i, c) in resp.chunks.iter().enumerate() {
        let eos = local && i + 1 == n && !has_trailers;
        steps.push((1, c.clone(), eos));
    }
    if has_trailers {
        steps.push((2, Vec::new(), true));
    } else if !local && n > 0 {
        steps.push((1, Vec::new(), true));
    }

    let mut headers_opt = Some(headers);
    for (kind, payload, eos) in steps {
        let a = match kind {
            0 => v.on_response_headers(ctx, headers_opt.take().unwrap_or_default(), eos)?,
            1 => v.on_response_body(ctx, &payload, eos)?,
            _ => v.on_response_trailers(ctx, resp.trailers.clone())?,
        };
        let mut flow = settle(v, ctx, Dir::Response, a, eos)?;
        if kind == 0 && matches!(flow, Flow::Paused) && !v.allow_on_headers_stop_iteration {
            flow = wait_for_resume(v, ctx, Dir::Response)?;
        }
        let flow = match flow {
            Flow::Local(_) if local => Flow::Continue,
            Flow::Local(lr) if client_headers.is_none() => {
                // sendDirectLocalReply: replaces the response, no filter callbacks.
                out.local_reply = true;
                out.local_reply_details = Some(lr.details.clone());
                let h = local_reply_headers(&lr);
                out.response = HttpResponse {
                    status: lr.status,
                    headers: strip_pseudo(&h),
                    body: lr.body.clone(),
                };
                out.response_chunks = if lr.body.is_empty() {
                    Vec::new()
                } else {
                    vec![lr.body]
                };
                return Ok(());
            }
            Flow::Local(_) | Flow::Reset => {
                out.reset = true;
                finish_response(client_headers, client_body, out);
                return Ok(());
            }
            f => f,
        };
        if let Flow::Continue = flow {
            let s = v.stream(ctx)?;
            if client_headers.is_none() {
                client_headers = s.response_headers.clone();
            }
            let released = std::mem::take(&mut s.response_body);
            if !released.is_empty() {
                client_body.push(released);
            }
        }
    }
    if has_trailers {
        out.response_trailers = v.stream(ctx)?.response_trailers.clone().unwrap_or_default();
    }
    finish_response(client_headers, client_body, out);
    Ok(())
}

fn finish_response(headers: Option<Headers>, chunks: Vec<Vec<u8>>, out: &mut StreamOutcome) {
    let headers = headers.unwrap_or_default();
    out.response = HttpResponse {
        status: find_header(&headers, ":status")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        headers: strip_pseudo(&headers),
        body: chunks.concat(),
    };
    out.response_chunks = chunks;
}
