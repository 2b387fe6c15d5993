//! The loopback HTTP/1.1 client/server and the mock LLM: framing, keep-alive, streaming
//! timing, truncation, every endpoint's JSON and SSE shape, every scenario, the JSONL log.

// Test helpers outside `#[test]` fns are not covered by clippy.toml's test allowances.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use psf_host::http1::{self, Client, SendOptions, Server, ServerBody, ServerResponse};
use psf_host::mock_llm::{self, respond, MockContext, MockOptions, SLOW_STREAM_DELAY};
use psf_host::{HttpRequest, HttpResponse};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A fresh empty directory for one test.
fn tmp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "psf-host-{}-{}-{name}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A server that echoes method, path and body back, with a counter of requests seen.
fn echo_server() -> (Server, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let server = Server::start(move |req| {
        seen.fetch_add(1, Ordering::SeqCst);
        let te = req.header("transfer-encoding").unwrap_or("-").to_string();
        ServerResponse::full(
            200,
            vec![
                ("x-method".into(), req.method.clone()),
                ("x-path".into(), req.path.clone()),
                ("x-request-te".into(), te),
            ],
            req.body.clone(),
        )
    })
    .unwrap();
    (server, count)
}

fn post(path: &str, body: &str) -> HttpRequest {
    HttpRequest::json("POST", path, body.as_bytes().to_vec())
}

#[test]
fn http1_content_length_round_trip() {
    let (server, _) = echo_server();
    let resp = http1::send(
        server.addr(),
        &post("/a?b=1", "hello"),
        &SendOptions::default(),
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello");
    assert_eq!(resp.header("x-method"), Some("POST"));
    assert_eq!(resp.header("x-path"), Some("/a?b=1"));
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(resp.header("x-request-te"), Some("-"));
}

#[test]
fn http1_chunked_request_body() {
    let (server, _) = echo_server();
    let opts = SendOptions {
        chunked: true,
        ..SendOptions::default()
    };
    let body = "x".repeat(100_000);
    let resp = http1::send(server.addr(), &post("/c", &body), &opts).unwrap();
    assert_eq!(resp.header("x-request-te"), Some("chunked"));
    assert_eq!(resp.body, body.as_bytes());
}

#[test]
fn http1_keep_alive_reuses_one_connection() {
    let (server, count) = echo_server();
    let mut client = Client::connect(server.addr(), SendOptions::default()).unwrap();
    for i in 0..3 {
        let get = HttpRequest {
            method: "GET".into(),
            path: format!("/{i}"),
            ..HttpRequest::default()
        };
        let resp = client.send(&get).unwrap();
        assert_eq!(resp.header("x-path"), Some(format!("/{i}").as_str()));
        let resp = client.send(&post("/p", &format!("body {i}"))).unwrap();
        assert_eq!(resp.body, format!("body {i}").as_bytes());
    }
    assert_eq!(count.load(Ordering::SeqCst), 6);
}

#[test]
fn http1_streams_chunks_with_their_timing() {
    let gap = Duration::from_millis(150);
    let server = Server::start(move |_| ServerResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: ServerBody::Chunked(vec![
            (Duration::ZERO, b"first ".to_vec()),
            (gap, b"second ".to_vec()),
            (gap, b"third".to_vec()),
        ]),
    })
    .unwrap();
    let s = http1::send_streaming(server.addr(), &post("/", ""), &SendOptions::default()).unwrap();
    assert!(s.complete);
    assert_eq!(s.response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(s.response.body, b"first second third");
    assert_eq!(s.chunks.len(), 3);
    assert!(s.first_byte().unwrap() < gap, "ttfb {:?}", s.first_byte());
    assert!(
        s.chunks[2].0 >= gap * 2,
        "last chunk at {:?}",
        s.chunks[2].0
    );
}

#[test]
fn http1_truncated_stream_is_reported() {
    let server = Server::start(|_| ServerResponse {
        status: 200,
        headers: vec![],
        body: ServerBody::Truncated(vec![(Duration::ZERO, b"partial".to_vec())]),
    })
    .unwrap();
    let opts = SendOptions::default();
    let s = http1::send_streaming(server.addr(), &post("/", ""), &opts).unwrap();
    assert!(!s.complete);
    assert_eq!(s.response.body, b"partial");
    let err = http1::send(server.addr(), &post("/", ""), &opts).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err:#}");
}

#[test]
fn http1_client_reads_body_until_close() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let t = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        while r.read_line(&mut line).unwrap() > 2 {
            line.clear();
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nX-Upper: Yes\r\n\r\nno framing")
            .unwrap();
    });
    let get = HttpRequest {
        method: "GET".into(),
        path: "/".into(),
        ..HttpRequest::default()
    };
    let resp = http1::send(addr, &get, &SendOptions::default()).unwrap();
    t.join().unwrap();
    assert_eq!(resp.body, b"no framing");
    assert_eq!(resp.header("x-upper"), Some("Yes"));
    assert!(resp.headers.iter().all(|(k, _)| k == &k.to_lowercase()));
}

// ---- mock LLM, as a pure function ----

fn ctx() -> MockContext {
    MockContext::default()
}

fn json_body(resp: &HttpResponse) -> Value {
    serde_json::from_slice(&resp.body).unwrap()
}

/// The `data:` payloads of an SSE body, parsed (`[DONE]` kept as a string).
fn sse_data(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|ev| ev.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str(d).unwrap_or_else(|_| Value::String(d.to_string())))
        .collect()
}

/// The `event:` names of an SSE body.
fn sse_events(body: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("event: ").map(str::to_string))
        .collect()
}

fn chat(stream: bool, extra: Value) -> HttpRequest {
    let mut body = json!({
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "an answer"},
            {"role": "user", "content": [{"type": "text", "text": "Hello there"}, {"type": "image_url", "image_url": {"url": "x"}}, {"type": "text", "text": ", world"}]}
        ],
        "stream": stream
    });
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    post("/v1/chat/completions", &body.to_string())
}

fn with_scenario(mut req: HttpRequest, scenario: &str) -> HttpRequest {
    req.headers
        .push(("x-mock-scenario".into(), scenario.into()));
    req
}

#[test]
fn mock_chat_completions_json() {
    let resp = respond(&chat(false, json!({})), &ctx()).to_http_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let v = json_body(&resp);
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "gpt-test");
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert!(v["created"].is_u64());
    assert_eq!(v["choices"][0]["message"]["role"], "assistant");
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there, world");
    assert_eq!(v["choices"][0]["finish_reason"], "stop");
    // "Hello there, world" is 18 chars → 5 tokens.
    assert_eq!(v["usage"]["completion_tokens"], 5);
    let (p, c, t) = (
        &v["usage"]["prompt_tokens"],
        &v["usage"]["completion_tokens"],
        &v["usage"]["total_tokens"],
    );
    assert_eq!(
        p.as_u64().unwrap() + c.as_u64().unwrap(),
        t.as_u64().unwrap()
    );
    // Deterministic: the same request gets the same bytes.
    assert_eq!(respond(&chat(false, json!({})), &ctx()).body(), resp.body);
}

#[test]
fn mock_chat_completions_sse() {
    let req = chat(true, json!({"stream_options": {"include_usage": true}}));
    let m = respond(&req, &ctx());
    assert!(m.is_stream() && !m.truncated);
    let resp = m.to_http_response();
    assert_eq!(resp.header("content-type"), Some("text/event-stream"));
    let data = sse_data(&resp.body);
    assert_eq!(data.last().unwrap(), "[DONE]");
    assert_eq!(data[0]["object"], "chat.completion.chunk");
    assert_eq!(data[0]["choices"][0]["delta"]["role"], "assistant");
    let content: String = data
        .iter()
        .filter_map(|d| d["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(content, "Hello there, world");
    let n = data.len();
    assert_eq!(data[n - 3]["choices"][0]["finish_reason"], "stop");
    assert_eq!(data[n - 2]["choices"], json!([]));
    assert_eq!(data[n - 2]["usage"]["completion_tokens"], 5);
    assert!(String::from_utf8_lossy(&resp.body).ends_with("data: [DONE]\n\n"));
    // One SSE event per piece, so streams are replayed event by event.
    assert_eq!(m.chunks.len(), n);
    // Without include_usage there is no usage chunk.
    let plain = sse_data(&respond(&chat(true, json!({})), &ctx()).body());
    assert!(plain.iter().all(|d| d.get("usage").is_none()));
}

#[test]
fn mock_responses_json_and_sse() {
    let req = post(
        "/v1/responses",
        &json!({"model": "gpt-r", "input": [
            {"role": "user", "content": "old"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "newest words"}]}
        ]})
        .to_string(),
    );
    let v = json_body(&respond(&req, &ctx()).to_http_response());
    assert_eq!(v["object"], "response");
    assert_eq!(v["model"], "gpt-r");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    assert_eq!(v["output"][0]["content"][0]["text"], "newest words");
    assert_eq!(v["usage"]["output_tokens"], 3);
    assert!(v["usage"]["input_tokens"].as_u64().unwrap() > 0);

    let req = post(
        "/v1/responses",
        &json!({"model": "m", "input": "plain string", "stream": true}).to_string(),
    );
    let body = respond(&req, &ctx()).body();
    let events = sse_events(&body);
    assert_eq!(events.first().unwrap(), "response.created");
    assert_eq!(events.last().unwrap(), "response.completed");
    assert!(events[1..events.len() - 1]
        .iter()
        .all(|e| e == "response.output_text.delta"));
    let data = sse_data(&body);
    let text: String = data.iter().filter_map(|d| d["delta"].as_str()).collect();
    assert_eq!(text, "plain string");
    assert_eq!(
        data.last().unwrap()["response"]["output"][0]["content"][0]["text"],
        "plain string"
    );
}

#[test]
fn mock_anthropic_messages_json_and_sse() {
    let body = json!({"model": "claude-x", "system": "sys", "max_tokens": 10, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "block one"}, {"type": "text", "text": " and two"}]}
    ]});
    let v =
        json_body(&respond(&post("/v1/messages", &body.to_string()), &ctx()).to_http_response());
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-x");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "block one and two"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["output_tokens"], 5);

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let raw = respond(&post("/v1/messages", &streamed.to_string()), &ctx()).body();
    let events = sse_events(&raw);
    let mut dedup = events.clone();
    dedup.dedup();
    assert_eq!(
        dedup,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let data = sse_data(&raw);
    let text: String = data
        .iter()
        .filter(|d| d["type"] == "content_block_delta")
        .map(|d| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(text, "block one and two");
    let delta = data.iter().find(|d| d["type"] == "message_delta").unwrap();
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 5);
}

#[test]
fn mock_errors_unknown_path_bad_json_bad_scenario() {
    let r = respond(&post("/v2/nope", "{}"), &ctx()).to_http_response();
    assert_eq!(r.status, 404);
    assert!(json_body(&r)["error"]["message"].is_string());
    let r = respond(&post("/v1/chat/completions", "{not json"), &ctx()).to_http_response();
    assert_eq!(r.status, 400);
    assert!(json_body(&r)["error"]["message"]
        .as_str()
        .unwrap()
        .contains("JSON"));
    let r = respond(&with_scenario(chat(false, json!({})), "bogus"), &ctx()).to_http_response();
    assert_eq!(r.status, 400);
}

#[test]
fn mock_scenario_reply_file_and_traversal() {
    let root = tmp_dir("replies");
    let replies = root.join("replies");
    std::fs::create_dir_all(replies.join("sub")).unwrap();
    std::fs::write(replies.join("canned.txt"), "Canned answer.\n").unwrap();
    std::fs::write(replies.join("sub/deep.txt"), "deep").unwrap();
    std::fs::write(root.join("secret.txt"), "top secret").unwrap();
    let ctx = MockContext {
        replies_dir: replies,
    };

    let v = json_body(
        &respond(
            &with_scenario(chat(false, json!({})), "reply:canned.txt"),
            &ctx,
        )
        .to_http_response(),
    );
    assert_eq!(v["choices"][0]["message"]["content"], "Canned answer.\n");
    let v = json_body(
        &respond(
            &with_scenario(chat(false, json!({})), "reply:sub/deep.txt"),
            &ctx,
        )
        .to_http_response(),
    );
    assert_eq!(v["choices"][0]["message"]["content"], "deep");

    let secret = root.join("secret.txt");
    for bad in [
        "reply:../secret.txt",
        "reply:sub/../../secret.txt",
        &format!("reply:{}", secret.display()),
        "reply:missing.txt",
        "reply:",
    ] {
        let r = respond(&with_scenario(chat(false, json!({})), bad), &ctx).to_http_response();
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            !String::from_utf8_lossy(&r.body).contains("top secret"),
            "{bad}"
        );
    }
}

#[test]
fn mock_scenario_status_and_malformed_json() {
    let r =
        respond(&with_scenario(chat(false, json!({})), "status:429"), &ctx()).to_http_response();
    assert_eq!(r.status, 429);
    assert!(json_body(&r)["error"]["message"].is_string());
    let r =
        respond(&with_scenario(chat(false, json!({})), "status:503"), &ctx()).to_http_response();
    assert_eq!(r.status, 503);

    let r = respond(
        &with_scenario(chat(false, json!({})), "malformed-json"),
        &ctx(),
    )
    .to_http_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
}

#[test]
fn mock_scenario_slow_and_truncated_streams() {
    // slow-stream streams even though the request did not ask for it.
    let m = respond(
        &with_scenario(chat(false, json!({})), "slow-stream"),
        &ctx(),
    );
    assert!(m.is_stream() && !m.truncated);
    assert_eq!(m.chunks[0].0, Duration::ZERO);
    assert!(m.chunks[1..].iter().all(|(d, _)| *d == SLOW_STREAM_DELAY));
    assert_eq!(sse_data(&m.body()).last().unwrap(), "[DONE]");

    let m = respond(
        &with_scenario(chat(true, json!({})), "truncated-stream"),
        &ctx(),
    );
    assert!(m.truncated && m.is_stream());
    let data = sse_data(&m.body());
    assert!(!data.is_empty());
    assert!(data
        .iter()
        .all(|d| d != "[DONE]" && d["choices"][0]["finish_reason"] != "stop"));

    let anth = post(
        "/v1/messages",
        &json!({"messages": [{"role": "user", "content": "a b c d e f"}]}).to_string(),
    );
    let m = respond(&with_scenario(anth, "truncated-stream"), &ctx());
    assert!(!sse_events(&m.body()).contains(&"message_stop".to_string()));
}

// ---- mock LLM over a socket ----

#[test]
fn mock_over_socket_logs_every_request() {
    let dir = tmp_dir("log");
    let log = dir.join("mock.jsonl");
    let mock = mock_llm::spawn(MockOptions {
        log: Some(log.clone()),
        ..MockOptions::default()
    })
    .unwrap();
    let mut req = chat(false, json!({}));
    req.headers
        .push(("authorization".into(), "Bearer sk-test".into()));
    let resp = http1::send(mock.addr(), &req, &SendOptions::default()).unwrap();
    assert_eq!(resp.body, respond(&req, &MockContext::default()).body());
    let resp = http1::send(
        mock.addr(),
        &post("/nope", "\u{e9}t\u{e9}"),
        &SendOptions::default(),
    )
    .unwrap();
    assert_eq!(resp.status, 404);

    let lines: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["path"], "/v1/chat/completions");
    assert_eq!(lines[0]["headers"]["authorization"], "Bearer sk-test");
    assert_eq!(
        lines[0]["body"].as_str().unwrap().as_bytes(),
        req.body.as_slice()
    );
    assert!(lines[0]["ts_ms"].as_u64().unwrap() > 1_600_000_000_000);
    assert_eq!(lines[1]["body"], "\u{e9}t\u{e9}");

    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, req.body);
    let from_log = mock_llm::read_log(&log).unwrap();
    assert_eq!(from_log[0].body, req.body);
    assert_eq!(from_log[1].path, "/nope");
}

#[test]
fn mock_over_socket_streams_slowly_and_truncates() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let opts = SendOptions::default();
    let s = http1::send_streaming(
        mock.addr(),
        &with_scenario(chat(false, json!({})), "slow-stream"),
        &opts,
    )
    .unwrap();
    assert!(s.complete);
    assert_eq!(s.response.header("transfer-encoding"), Some("chunked"));
    let last = s.chunks.last().unwrap().0;
    assert!(
        s.first_byte().unwrap() + SLOW_STREAM_DELAY * 2 < last,
        "{:?}",
        s.chunks.iter().map(|c| c.0).collect::<Vec<_>>()
    );

    let req = with_scenario(chat(true, json!({})), "truncated-stream");
    let s = http1::send_streaming(mock.addr(), &req, &opts).unwrap();
    assert!(!s.complete);
    assert_eq!(
        s.response.body,
        respond(&req, &MockContext::default()).body()
    );
    assert!(http1::send(mock.addr(), &req, &opts).is_err());
}

#[test]
fn mock_llm_binary_prints_its_address_and_serves() {
    let dir = tmp_dir("bin");
    let log = dir.join("bin.jsonl");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mock-llm"))
        .args(["--port", "0", "--log"])
        .arg(&log)
        .arg("--replies")
        .arg(&dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("mock-llm listening on ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .parse()
        .unwrap();
    std::fs::write(dir.join("r.txt"), "from the binary").unwrap();
    let resp = http1::send(
        addr,
        &with_scenario(chat(false, json!({})), "reply:r.txt"),
        &SendOptions::default(),
    );
    let _ = child.kill();
    let _ = child.wait();
    let resp = resp.unwrap();
    assert_eq!(
        json_body(&resp)["choices"][0]["message"]["content"],
        "from the binary"
    );
    let mut logged = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut logged)
        .unwrap();
    assert_eq!(logged.lines().count(), 1);
}
