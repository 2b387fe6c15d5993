//! A minimal HTTP/1.1 client and threaded server over `std::net`, enough to drive Envoy
//! and to play the mock LLM on loopback without pulling an async runtime into the tests.
//!
//! Both sides speak content-length and chunked bodies; the server can stream chunks with
//! delays (to measure time to first byte) or cut a stream short (to test truncation).

use crate::message::{find_header, HttpRequest, HttpResponse};
use anyhow::{bail, Context};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest request/status line or header line we accept; guards against garbage input.
const MAX_LINE: usize = 64 * 1024;

/// How the client sends a request.
#[derive(Debug, Clone)]
pub struct SendOptions {
    /// Send the body with `transfer-encoding: chunked` instead of `content-length`.
    pub chunked: bool,
    /// Connect, read and write timeout.
    pub timeout: Duration,
    /// `Host` header to send; defaults to the request's own `host` header, else the address.
    pub host: Option<String>,
}

impl Default for SendOptions {
    fn default() -> Self {
        Self {
            chunked: false,
            timeout: Duration::from_secs(30),
            host: None,
        }
    }
}

/// A response read by [`send_streaming`]: the body pieces as they arrived.
#[derive(Debug, Clone, Default)]
pub struct StreamedResponse {
    /// Status, headers and the whole body received (all chunks concatenated).
    pub response: HttpResponse,
    /// Each body piece with its arrival time, measured from when the request was written.
    pub chunks: Vec<(Duration, Vec<u8>)>,
    /// False when the connection closed before the body was complete (e.g. no final 0-chunk).
    pub complete: bool,
}

impl StreamedResponse {
    /// Time from writing the request to the first body byte, if any arrived.
    pub fn first_byte(&self) -> Option<Duration> {
        self.chunks.first().map(|(t, _)| *t)
    }
}

/// Sends one request on a fresh connection and reads the whole response.
/// Fails if the body ends early (e.g. a chunked stream cut before its final chunk).
pub fn send(
    addr: SocketAddr,
    req: &HttpRequest,
    opts: &SendOptions,
) -> anyhow::Result<HttpResponse> {
    let streamed = send_streaming(addr, req, opts)?;
    if !streamed.complete {
        bail!(
            "response from {addr} truncated: connection closed after {} body bytes",
            streamed.response.body.len()
        );
    }
    Ok(streamed.response)
}

/// Sends one request on a fresh connection and records each body piece with its arrival
/// time. A truncated body is reported through [`StreamedResponse::complete`], not an error.
pub fn send_streaming(
    addr: SocketAddr,
    req: &HttpRequest,
    opts: &SendOptions,
) -> anyhow::Result<StreamedResponse> {
    let mut client = Client::connect(addr, opts.clone())?;
    client.send_streaming(req)
}

/// A client connection that can carry several requests (keep-alive).
pub struct Client {
    addr: SocketAddr,
    opts: SendOptions,
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Opens a connection to `addr`.
    pub fn connect(addr: SocketAddr, opts: SendOptions) -> anyhow::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, opts.timeout)
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_read_timeout(Some(opts.timeout))?;
        stream.set_write_timeout(Some(opts.timeout))?;
        stream.set_nodelay(true)?;
        let reader = BufReader::new(stream.try_clone()?);
        Ok(Self {
            addr,
            opts,
            writer: stream,
            reader,
        })
    }

    /// Sends `req` on this connection and reads the complete response.
    pub fn send(&mut self, req: &HttpRequest) -> anyhow::Result<HttpResponse> {
        let streamed = self.send_streaming(req)?;
        if !streamed.complete {
            bail!("response from {} truncated", self.addr);
        }
        Ok(streamed.response)
    }

    /// Sends `req` on this connection and reads the response piece by piece.
    pub fn send_streaming(&mut self, req: &HttpRequest) -> anyhow::Result<StreamedResponse> {
        let host = self
            .opts
            .host
            .clone()
            .or_else(|| req.header("host").map(str::to_string))
            .unwrap_or_else(|| self.addr.to_string());
        let head = request_head(req, &host, self.opts.chunked);
        let mut wire = head.into_bytes();
        write_body(&mut wire, &req.body, self.opts.chunked, &req.method);
        self.writer
            .write_all(&wire)
            .with_context(|| format!("writing request to {}", self.addr))?;
        self.writer.flush()?;
        let start = Instant::now();

        // Skip interim 1xx responses (e.g. 100 Continue).
        let (status, headers) = loop {
            let (status, headers) = read_response_head(&mut self.reader)
                .with_context(|| format!("reading response head from {}", self.addr))?;
            if !(100..200).contains(&status) || status == 101 {
                break (status, headers);
            }
        };
        let mut out = StreamedResponse {
            response: HttpResponse {
                status,
                headers,
                body: Vec::new(),
            },
            chunks: Vec::new(),
            complete: true,
        };
        let no_body = req.method.eq_ignore_ascii_case("HEAD") || status == 204 || status == 304;
        if no_body {
            return Ok(out);
        }
        let headers = out.response.headers.clone();
        let mut on_piece = |piece: &[u8]| {
            out.chunks.push((start.elapsed(), piece.to_vec()));
            out.response.body.extend_from_slice(piece);
        };
        let complete = read_body(&mut self.reader, &headers, true, &mut on_piece)
            .with_context(|| format!("reading response body from {}", self.addr))?;
        out.complete = complete;
        Ok(out)
    }
}

/// The request line and headers; framing headers from `req` are replaced by our own.
fn request_head(req: &HttpRequest, host: &str, chunked: bool) -> String {
    let path = if req.path.is_empty() { "/" } else { &req.path };
    let mut head = format!("{} {} HTTP/1.1\r\nhost: {}\r\n", req.method, path, host);
    for (k, v) in &req.headers {
        if is_framing_header(k) || k.eq_ignore_ascii_case("host") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if chunked {
        head.push_str("transfer-encoding: chunked\r\n");
    } else if !req.body.is_empty() || !is_bodiless_method(&req.method) {
        head.push_str(&format!("content-length: {}\r\n", req.body.len()));
    }
    head.push_str("\r\n");
    head
}

fn is_bodiless_method(method: &str) -> bool {
    ["GET", "HEAD", "DELETE", "OPTIONS"]
        .iter()
        .any(|m| m.eq_ignore_ascii_case(method))
}

fn is_framing_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("transfer-encoding")
}

/// Appends `body` framed as one chunk (plus terminator) or raw for content-length.
fn write_body(wire: &mut Vec<u8>, body: &[u8], chunked: bool, method: &str) {
    if chunked {
        if !body.is_empty() {
            wire.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
            wire.extend_from_slice(body);
            wire.extend_from_slice(b"\r\n");
        }
        wire.extend_from_slice(b"0\r\n\r\n");
    } else if !body.is_empty() || !is_bodiless_method(method) {
        wire.extend_from_slice(body);
    }
}

/// Reads one CRLF- (or LF-) terminated line without the terminator; `None` on clean EOF.
fn read_line<R: BufRead>(r: &mut R) -> anyhow::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        bail!("line too long or connection closed mid-line");
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
}

/// Reads header lines up to the blank line; names are lower-cased.
fn read_headers<R: BufRead>(r: &mut R) -> anyhow::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let line = read_line(r)?.context("connection closed inside headers")?;
        if line.is_empty() {
            return Ok(headers);
        }
        let (name, value) = line
            .split_once(':')
            .with_context(|| format!("malformed header line {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
}

fn read_response_head<R: BufRead>(r: &mut R) -> anyhow::Result<(u16, Vec<(String, String)>)> {
    let line = read_line(r)?.context("connection closed before the status line")?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        bail!("not an HTTP/1.x status line: {line:?}");
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    Ok((status, read_headers(r)?))
}

/// Reads a body framed by `headers`, handing each piece to `on_piece`.
/// Returns whether the body was complete. Without framing, a response body runs until
/// close (`until_close`), a request body is empty.
fn read_body<R: BufRead>(
    r: &mut R,
    headers: &[(String, String)],
    until_close: bool,
    on_piece: &mut dyn FnMut(&[u8]),
) -> anyhow::Result<bool> {
    let chunked = find_header(headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    if chunked {
        return read_chunked(r, on_piece);
    }
    if let Some(len) = find_header(headers, "content-length") {
        let len: usize = len
            .trim()
            .parse()
            .with_context(|| format!("bad content-length {len:?}"))?;
        let mut left = len;
        let mut buf = vec![0u8; 16 * 1024];
        while left > 0 {
            let want = left.min(buf.len());
            let n = r.read(&mut buf[..want])?;
            if n == 0 {
                return Ok(false);
            }
            on_piece(&buf[..n]);
            left -= n;
        }
        return Ok(true);
    }
    if until_close {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            on_piece(&buf[..n]);
        }
    }
    Ok(true)
}

/// Decodes a chunked body; each chunk's data is one piece. Returns false when the
/// connection closes before the terminating zero-size chunk.
fn read_chunked<R: BufRead>(r: &mut R, on_piece: &mut dyn FnMut(&[u8])) -> anyhow::Result<bool> {
    loop {
        let Some(line) = read_line_or_eof(r)? else {
            return Ok(false);
        };
        let size_hex = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_hex, 16)
            .with_context(|| format!("bad chunk size line {line:?}"))?;
        if size == 0 {
            // Trailers, then the blank line.
            loop {
                match read_line_or_eof(r)? {
                    None => return Ok(false),
                    Some(l) if l.is_empty() => return Ok(true),
                    Some(_) => {}
                }
            }
        }
        let mut data = vec![0u8; size];
        let mut got = 0;
        while got < size {
            let n = r.read(&mut data[got..])?;
            if n == 0 {
                if got > 0 {
                    on_piece(&data[..got]);
                }
                return Ok(false);
            }
            got += n;
        }
        on_piece(&data);
        match read_line_or_eof(r)? {
            Some(l) if l.is_empty() => {}
            Some(l) => bail!("chunk data not followed by CRLF: {l:?}"),
            None => return Ok(false),
        }
    }
}

/// Like [`read_line`] but treats a connection reset or a half line as EOF, which is what
/// a cut stream looks like from the reader's side.
fn read_line_or_eof<R: BufRead>(r: &mut R) -> anyhow::Result<Option<String>> {
    match read_line(r) {
        Ok(line) => Ok(line),
        Err(e) => match e.downcast_ref::<std::io::Error>() {
            Some(io)
                if matches!(
                    io.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                Ok(None)
            }
            Some(_) => Err(e),
            None if e.to_string().contains("closed mid-line") => Ok(None),
            None => Err(e),
        },
    }
}

/// The body of a [`ServerResponse`].
#[derive(Debug, Clone)]
pub enum ServerBody {
    /// Sent at once with `content-length`.
    Full(Vec<u8>),
    /// Sent with chunked transfer-encoding, each piece after its delay, flushed per piece.
    Chunked(Vec<(Duration, Vec<u8>)>),
    /// Like `Chunked`, then the connection is closed without the terminating 0-chunk.
    Truncated(Vec<(Duration, Vec<u8>)>),
}

/// What a [`Server`] handler answers.
#[derive(Debug, Clone)]
pub struct ServerResponse {
    pub status: u16,
    /// Framing headers (`content-length`, `transfer-encoding`) are set by the server.
    pub headers: Vec<(String, String)>,
    pub body: ServerBody,
}

impl ServerResponse {
    /// A complete response with a `content-length` body.
    pub fn full(status: u16, headers: Vec<(String, String)>, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers,
            body: ServerBody::Full(body.into()),
        }
    }
}

impl From<HttpResponse> for ServerResponse {
    fn from(r: HttpResponse) -> Self {
        Self::full(r.status, r.headers, r.body)
    }
}

type Handler = dyn Fn(&HttpRequest) -> ServerResponse + Send + Sync;

/// A threaded HTTP/1.1 server on loopback: one thread per connection, keep-alive,
/// stopped (listener and open connections) on drop.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Conns,
    accept: Option<JoinHandle<()>>,
}

/// Open connections by id, so drop can shut them and each thread can forget its own.
type Conns = Arc<Mutex<HashMap<u64, TcpStream>>>;

impl Server {
    /// Serves on `127.0.0.1:port` (`0` picks a free port).
    pub fn bind(
        port: u16,
        handler: impl Fn(&HttpRequest) -> ServerResponse + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .with_context(|| format!("binding 127.0.0.1:{port}"))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Conns = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let stop = stop.clone();
            let conns = conns.clone();
            std::thread::Builder::new()
                .name(format!("http1-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, stop, conns, handler))?
        };
        Ok(Self {
            addr,
            stop,
            conns,
            accept: Some(accept),
        })
    }

    /// Serves on a free port of 127.0.0.1.
    pub fn start(
        handler: impl Fn(&HttpRequest) -> ServerResponse + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        Self::bind(0, handler)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        let conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for c in conns.values() {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(listener: TcpListener, stop: Arc<AtomicBool>, conns: Conns, handler: Arc<Handler>) {
    let mut next_id = 0u64;
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = next_id;
        next_id += 1;
        if let Ok(clone) = stream.try_clone() {
            let mut guard = conns.lock().unwrap_or_else(|e| e.into_inner());
            guard.insert(id, clone);
        }
        let handler = handler.clone();
        let conns = conns.clone();
        let _ = std::thread::Builder::new()
            .name("http1-conn".into())
            .spawn(move || {
                let _ = serve_connection(&stream, &*handler);
                // Always close our side, whatever ended the connection.
                let _ = stream.shutdown(Shutdown::Both);
                let mut guard = conns.lock().unwrap_or_else(|e| e.into_inner());
                guard.remove(&id);
            });
    }
}

/// Serves requests on one connection until the peer closes it or asks to.
fn serve_connection(stream: &TcpStream, handler: &Handler) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    // An idle keep-alive connection eventually frees its thread.
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream.try_clone()?;
    loop {
        let Some(req) = read_request(&mut reader, &mut writer)? else {
            return Ok(());
        };
        let close_requested = req
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let resp = handler(&req);
        let keep = write_response(&mut writer, &req, resp, close_requested)?;
        if !keep {
            return Ok(());
        }
    }
}

/// Reads one request; `None` when the peer closed the connection between requests.
fn read_request<R: BufRead>(r: &mut R, w: &mut TcpStream) -> anyhow::Result<Option<HttpRequest>> {
    let line = loop {
        match read_line(r)? {
            None => return Ok(None),
            // Tolerate stray CRLFs between requests (RFC 9112 §2.2).
            Some(l) if l.is_empty() => continue,
            Some(l) => break l,
        }
    };
    let mut parts = line.split(' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        bail!("bad request line {line:?}");
    };
    if !version.starts_with("HTTP/1.") {
        bail!("not HTTP/1.x: {line:?}");
    }
    let headers = read_headers(r)?;
    if find_header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    let mut body = Vec::new();
    let complete = read_body(r, &headers, false, &mut |p: &[u8]| {
        body.extend_from_slice(p)
    })?;
    if !complete {
        bail!("connection closed inside the request body");
    }
    Ok(Some(HttpRequest {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body,
    }))
}

/// Writes `resp`; returns whether the connection may carry another request.
fn write_response(
    w: &mut TcpStream,
    req: &HttpRequest,
    resp: ServerResponse,
    close_requested: bool,
) -> anyhow::Result<bool> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        if is_framing_header(k) || k.eq_ignore_ascii_case("connection") {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let truncating = matches!(resp.body, ServerBody::Truncated(_));
    let keep = !close_requested && !truncating;
    if !keep {
        head.push_str("connection: close\r\n");
    }
    let head_only = req.method.eq_ignore_ascii_case("HEAD");
    match resp.body {
        ServerBody::Full(body) => {
            head.push_str(&format!("content-length: {}\r\n\r\n", body.len()));
            let mut wire = head.into_bytes();
            if !head_only {
                wire.extend_from_slice(&body);
            }
            w.write_all(&wire)?;
            w.flush()?;
        }
        ServerBody::Chunked(pieces) | ServerBody::Truncated(pieces) => {
            head.push_str("transfer-encoding: chunked\r\n\r\n");
            w.write_all(head.as_bytes())?;
            w.flush()?;
            for (delay, piece) in pieces {
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                if piece.is_empty() {
                    continue; // an empty chunk would end the body
                }
                let mut wire = format!("{:x}\r\n", piece.len()).into_bytes();
                wire.extend_from_slice(&piece);
                wire.extend_from_slice(b"\r\n");
                w.write_all(&wire)?;
                w.flush()?;
            }
            if !truncating {
                w.write_all(b"0\r\n\r\n")?;
                w.flush()?;
            }
        }
    }
    Ok(keep)
}

/// Reason phrases for the statuses the tests use; others get a generic one.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}
