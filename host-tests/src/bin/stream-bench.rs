//! `stream-bench`: the client of `envoy/bench-stream.sh`, which measures streamed chat
//! completions through Envoy with psf-guard against a pass-through Envoy, and a fast
//! stand-in for the mock LLM it can stream from.
//!
//! ```text
//! stream-bench answer --replies DIR [--stream-bytes 65536]
//!     Writes DIR/answer.txt: paragraphs of clean prose (no PII, nothing the content filter
//!     matches), just long enough that the mock's streamed chat completion of it is at least
//!     that many bytes. The bench asks for it with `x-mock-scenario: reply:answer.txt`.
//! stream-bench serve --replies DIR [--port 0]
//!     The mock LLM (`psf_host::mock_llm::respond`), each distinct request rendered once and
//!     then replayed: the same bytes, the same one-chunk-per-event framing and the same
//!     pacing as `mock-llm`, without rendering every event again per request (debug build).
//! stream-bench run --addr 127.0.0.1:PORT [--probes 20] [--connections 8]
//!         [--warmup 2] [--duration 8]
//!     1. Latency, on a paced stream (`reply:answer.txt+slow-stream`: one word every 50 ms,
//!        as a model generates): `--probes` requests one after another, each on a new
//!        connection, timed from writing the request to the first body byte and to the
//!        first answer text (the first non-empty `content` delta); the connection is then
//!        closed.
//!     2. Throughput, on the same answer unpaced (`reply:answer.txt`): `--connections`
//!        keep-alive connections in a closed loop for `--duration` seconds after `--warmup`
//!        seconds: whole streams and body bytes per second.
//!     Prints one `BENCH key=value ...` line. Every response must be a 200; every whole
//!     stream must end with `data: [DONE]` and be as long as the first. Any other is an error.
//! ```
//!
//! The client reads with a 64 KiB buffer and skips chunk data by length instead of copying
//! each piece (as `psf_host::http1::Client` does, to record them): the bench binary is a
//! debug build and shares a core with the upstream, so it must cost little per byte.

use anyhow::{bail, Context};
use psf_host::http1::Server;
use psf_host::mock_llm::{respond, MockContext};
use psf_host::HttpRequest;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: stream-bench answer --replies DIR [--stream-bytes N]
       stream-bench serve --replies DIR [--port N]
       stream-bench run --addr HOST:PORT [--probes N] [--connections N] [--warmup S] [--duration S]";

const PATH: &str = "/v1/chat/completions";
const SCENARIO: &str = "reply:answer.txt";
/// The same answer paced as a model streams it (the mock's `slow-stream`: 50 ms per event).
const PACED: &str = "reply:answer.txt+slow-stream";
const REQUEST_BODY: &str = r#"{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Summarise the budget meeting in a few paragraphs."}]}"#;
const END: &[u8] = b"data: [DONE]\n\n";
const PARAGRAPHS: [&str; 3] = [
    "The committee met on Tuesday to review the budget. Members asked for clearer figures on \
     travel, training and software licences before the vote, and the chair agreed to circulate \
     a revised draft with last year's numbers for comparison.",
    "Most of the discussion was about the timetable. The finance team will publish the draft \
     at the end of the month, departments then have two weeks to comment, and the final \
     version goes to the board at its spring meeting.",
    "Two smaller points were settled as well: the reserve stays at its current level, and \
     the savings from the new procurement process will be reported separately so that they \
     can be checked against the original estimate.",
];

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let command = args.next().unwrap_or_default();
    let mut options: HashMap<String, String> = HashMap::new();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            return Ok(());
        }
        let Some(name) = arg.strip_prefix("--") else {
            bail!("unexpected argument {arg:?}\n{USAGE}");
        };
        let value = args
            .next()
            .with_context(|| format!("{arg} needs a value\n{USAGE}"))?;
        options.insert(name.to_string(), value);
    }
    let get = |name: &str, default: &str| -> String {
        options
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    };
    let number = |name: &str, default: &str| -> anyhow::Result<u64> {
        get(name, default)
            .parse()
            .with_context(|| format!("--{name} must be a whole number"))
    };
    match command.as_str() {
        "answer" => write_answer(
            PathBuf::from(get("replies", "")),
            number("stream-bytes", "65536")? as usize,
        ),
        "serve" => serve(
            PathBuf::from(get("replies", "")),
            number("port", "0")? as u16,
        ),
        "run" => {
            let addr: SocketAddr = get("addr", "")
                .parse()
                .with_context(|| format!("--addr must be HOST:PORT\n{USAGE}"))?;
            run(
                addr,
                number("probes", "20")? as usize,
                number("connections", "8")? as usize,
                Duration::from_secs(number("warmup", "2")?),
                Duration::from_secs(number("duration", "8")?),
            )
        }
        "-h" | "--help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command {other:?}\n{USAGE}"),
    }
}

/// The request every bench stream is, as the upstream receives it.
fn bench_request() -> HttpRequest {
    let mut request = HttpRequest::json("POST", PATH, REQUEST_BODY);
    request
        .headers
        .push(("x-mock-scenario".into(), SCENARIO.into()));
    request
}

fn write_answer(replies: PathBuf, stream_bytes: usize) -> anyhow::Result<()> {
    if replies.as_os_str().is_empty() {
        bail!("answer needs --replies DIR\n{USAGE}");
    }
    std::fs::create_dir_all(&replies)?;
    let file = replies.join("answer.txt");
    let ctx = MockContext {
        replies_dir: replies.clone(),
    };
    let mut text = String::new();
    for index in 0.. {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(PARAGRAPHS[index % PARAGRAPHS.len()]);
        std::fs::write(&file, &text)?;
        let response = respond(&bench_request(), &ctx);
        if response.status != 200 {
            bail!(
                "the mock answered {}: {:?}",
                response.status,
                response.body()
            );
        }
        if response.body().len() >= stream_bytes {
            println!(
                "{}: {} characters, streamed as {} bytes in {} events",
                file.display(),
                text.len(),
                response.body().len(),
                response.chunks.len()
            );
            return Ok(());
        }
    }
    bail!("no answer reached {stream_bytes} bytes")
}

fn serve(replies: PathBuf, port: u16) -> anyhow::Result<()> {
    let ctx = MockContext {
        replies_dir: replies,
    };
    type Key = (String, Option<String>, Vec<u8>);
    let rendered: Mutex<HashMap<Key, psf_host::http1::ServerResponse>> = Mutex::default();
    let server = Server::bind(port, move |req| {
        let key = (
            req.path.clone(),
            req.header("x-mock-scenario").map(str::to_string),
            req.body.clone(),
        );
        let mut rendered = rendered.lock().unwrap_or_else(|e| e.into_inner());
        rendered
            .entry(key)
            .or_insert_with(|| respond(req, &ctx).to_server_response())
            .clone()
    })?;
    let mut out = std::io::stdout();
    writeln!(out, "stream-bench serve listening on {}", server.addr())?;
    out.flush()?;
    loop {
        std::thread::park();
    }
}

/// What one streamed response took, from the moment its request was written.
#[derive(Debug, Clone, Copy)]
struct Timing {
    first_byte: Duration,
    first_text: Duration,
    total: Duration,
    /// Body bytes read (up to the first text only, for a probe).
    body_bytes: usize,
}

/// The bench request with `scenario`, as it goes on the wire.
fn wire_request(scenario: &str) -> Vec<u8> {
    format!(
        "POST {PATH} HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n\
         authorization: Bearer sk-bench-not-a-real-key\r\nx-mock-scenario: {scenario}\r\n\
         content-length: {}\r\n\r\n{REQUEST_BODY}",
        REQUEST_BODY.len()
    )
    .into_bytes()
}

/// A keep-alive client connection with its read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Unread bytes are `buf[pos..]`.
    pos: usize,
}

impl Conn {
    fn open(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(1 << 16),
            pos: 0,
        })
    }

    /// Reads more bytes into the buffer; fails at end of stream.
    fn fill(&mut self) -> anyhow::Result<()> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let mut scratch = [0u8; 1 << 16];
        let n = self.stream.read(&mut scratch)?;
        if n == 0 {
            bail!("connection closed mid-response");
        }
        self.buf.extend_from_slice(&scratch[..n]);
        Ok(())
    }

    /// The index just past the next CRLF in the unread bytes, reading as needed.
    fn line_end(&mut self) -> anyhow::Result<usize> {
        loop {
            if let Some(i) = self.buf[self.pos..].windows(2).position(|w| w == b"\r\n") {
                return Ok(self.pos + i + 2);
            }
            if self.buf.len() - self.pos > 64 * 1024 {
                bail!("line too long");
            }
            self.fill()?;
        }
    }

    fn line(&mut self) -> anyhow::Result<String> {
        let end = self.line_end()?;
        let line = String::from_utf8_lossy(&self.buf[self.pos..end - 2]).into_owned();
        self.pos = end;
        Ok(line)
    }

    /// One streamed chat completion: `request` written, the response read to its last
    /// chunk, or only to its first answer text when `until_text`.
    fn exchange(&mut self, request: &[u8], until_text: bool) -> anyhow::Result<Timing> {
        let start = Instant::now();
        self.stream.write_all(request)?;
        let status = self.line()?;
        if !status.starts_with("HTTP/1.1 200") {
            bail!("status line {status:?}");
        }
        let mut chunked = false;
        loop {
            let header = self.line()?.to_ascii_lowercase();
            if header.is_empty() {
                break;
            }
            if header.starts_with("transfer-encoding:") && header.contains("chunked") {
                chunked = true;
            }
        }
        if !chunked {
            bail!("the streamed response is not chunked");
        }
        let mut first_byte = None;
        let mut first_text = None;
        // The start of the body, until the first answer text shows in it.
        let mut head = Vec::new();
        let mut tail = Vec::new();
        let mut body_bytes = 0;
        loop {
            let size_line = self.line()?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .with_context(|| format!("bad chunk size {size_line:?}"))?;
            if size == 0 {
                // No trailers from Envoy: the blank line ends the response.
                if !self.line()?.is_empty() {
                    bail!("trailers after the last chunk");
                }
                break;
            }
            let mut left = size;
            while left > 0 {
                if self.pos == self.buf.len() {
                    self.fill()?;
                }
                let take = left.min(self.buf.len() - self.pos);
                let data = &self.buf[self.pos..self.pos + take];
                let now = start.elapsed();
                first_byte.get_or_insert(now);
                if first_text.is_none() {
                    head.extend_from_slice(data);
                    if has_text(&head) {
                        first_text = Some(now);
                        head = Vec::new();
                    }
                }
                tail.extend_from_slice(data);
                if tail.len() > 4096 {
                    tail.drain(..tail.len() - END.len());
                }
                body_bytes += take;
                self.pos += take;
                left -= take;
            }
            if let (true, Some(first_byte), Some(first_text)) = (until_text, first_byte, first_text)
            {
                return Ok(Timing {
                    first_byte,
                    first_text,
                    total: start.elapsed(),
                    body_bytes,
                });
            }
            if !self.line()?.is_empty() {
                bail!("chunk data not followed by CRLF");
            }
        }
        let total = start.elapsed();
        if !tail.ends_with(END) {
            bail!("the stream does not end with data: [DONE]");
        }
        match (first_byte, first_text) {
            (Some(first_byte), Some(first_text)) => Ok(Timing {
                first_byte,
                first_text,
                total,
                body_bytes,
            }),
            _ => bail!("the stream carried no answer text"),
        }
    }
}

/// Whether `body` holds a non-empty chat `content` delta.
fn has_text(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"content\":\"";
    body.windows(KEY.len() + 1)
        .any(|w| w.starts_with(KEY) && w[KEY.len()] != b'"')
}

/// The nearest-rank percentile `p` of sorted `values`, in microseconds.
fn percentile(sorted: &[Duration], p: usize) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len());
    sorted[rank - 1].as_micros()
}

fn run(
    addr: SocketAddr,
    probes: usize,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<()> {
    // A whole unpaced stream first: it checks the path and gives the length every later
    // stream must have.
    let streamed = wire_request(SCENARIO);
    let body_bytes = Conn::open(addr)?.exchange(&streamed, false)?.body_bytes;

    // 1. Latency on a paced stream, one probe at a time.
    let paced = wire_request(PACED);
    let mut first_byte = Vec::with_capacity(probes);
    let mut first_text = Vec::with_capacity(probes);
    for _ in 0..probes.max(1) {
        let timing = Conn::open(addr)?.exchange(&paced, true)?;
        first_byte.push(timing.first_byte);
        first_text.push(timing.first_text);
    }
    first_byte.sort();
    first_text.sort();

    // 2. Throughput: a closed loop on every connection.
    let stop = Arc::new(AtomicBool::new(false));
    let measuring = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..connections.max(1) {
        let (stop, measuring, request) = (stop.clone(), measuring.clone(), streamed.clone());
        workers.push(std::thread::spawn(move || {
            let mut done = Vec::new();
            let mut errors = 0u64;
            let mut conn = None;
            while !stop.load(Ordering::Relaxed) {
                let result = match &mut conn {
                    Some(c) => Conn::exchange(c, &request, false),
                    None => match Conn::open(addr) {
                        Ok(c) => Conn::exchange(conn.insert(c), &request, false),
                        Err(e) => Err(e),
                    },
                };
                let counted = measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed);
                match result {
                    Ok(t) if t.body_bytes == body_bytes => {
                        if counted {
                            done.push(t.total);
                        }
                    }
                    Ok(_) | Err(_) => {
                        errors += u64::from(counted);
                        conn = None;
                    }
                }
            }
            (done, errors)
        }));
    }
    std::thread::sleep(warmup);
    measuring.store(true, Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (done, failed) = worker
            .join()
            .map_err(|_| anyhow::anyhow!("a client thread panicked"))?;
        latencies.extend(done);
        errors += failed;
    }
    latencies.sort();
    let streams = latencies.len();
    let rps = streams as f64 / seconds;
    println!(
        "BENCH probes={} ttfb_p50_us={} ttfb_p90_us={} text_p50_us={} text_p90_us={} \
         body_bytes={body_bytes} connections={} streams={streams} rps={rps:.2} mib_s={:.2} \
         load_p50_us={} load_p99_us={} errors={errors}",
        first_byte.len(),
        percentile(&first_byte, 50),
        percentile(&first_byte, 90),
        percentile(&first_text, 50),
        percentile(&first_text, 90),
        connections.max(1),
        rps * body_bytes as f64 / (1024.0 * 1024.0),
        percentile(&latencies, 50),
        percentile(&latencies, 99),
    );
    Ok(())
}
