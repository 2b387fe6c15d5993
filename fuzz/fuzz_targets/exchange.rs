//! A whole exchange, structure-aware: a request (path variant, headers, body in chunks)
//! and an answer (status, content type, encoding, body or stream in chunks) through the
//! default policy with the admin path on. Every path ends in exactly one audit record that
//! is JSON, and nothing panics.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use psf_engine::{Exchange, Policy, RequestHead, ResponsePlan, ResponseStep, Step};
use std::rc::Rc;
use std::sync::OnceLock;

#[derive(Debug, Arbitrary)]
struct Scenario {
    path: u8,
    suffix: String,
    method: bool,
    headers: Vec<(u8, String)>,
    source: u8,
    body: Vec<u8>,
    chunks: Vec<u8>,
    status: u16,
    content_type: u8,
    encoded: bool,
    answer: Vec<u8>,
    answer_chunks: Vec<u8>,
}

const PATHS: [&str; 8] = [
    "/v1/chat/completions",
    "/v1/responses",
    "/v1/messages",
    "/v1/completions",
    "/.psf/v1/mode",
    "/v1/models",
    "/.well-known/psf-accountability",
    "",
];
const HEADERS: [&str; 5] = [
    "authorization",
    "x-api-key",
    "x-forwarded-for",
    "x-psf-approval",
    "x-request-id",
];
const TYPES: [&str; 5] = [
    "application/json",
    "text/event-stream",
    "text/plain",
    "",
    "application/x+json",
];

fn policy() -> Rc<Policy> {
    thread_local! {
        static POLICY: Rc<Policy> = {
            let mut doc: serde_json::Value =
                serde_json::from_slice(include_bytes!("../../policies/default.json")).unwrap();
            doc["incident"] = serde_json::json!({"admin": {
                "token": "fuzz-admin-token-0123456789abcdef", "sources": ["127.0.0.1/32"]}});
            Rc::new(Policy::from_json(doc.to_string().as_bytes()).unwrap())
        };
    }
    POLICY.with(Rc::clone)
}

fn sizes(total: usize, chunks: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    for c in chunks {
        at = (at + usize::from(*c) + 1).min(total);
        out.push(at);
        if at == total {
            break;
        }
    }
    if out.last() != Some(&total) {
        out.push(total);
    }
    out
}

fn play(s: &Scenario) {
    static _ONCE: OnceLock<()> = OnceLock::new();
    let policy = policy();
    let mut exchange = Exchange::new(Rc::clone(&policy));
    let path = format!("{}{}", PATHS[usize::from(s.path) % PATHS.len()], s.suffix);
    let headers: Vec<(&str, &str)> = s
        .headers
        .iter()
        .map(|(n, v)| (HEADERS[usize::from(*n) % HEADERS.len()], v.as_str()))
        .collect();
    let source = match s.source % 3 {
        0 => "127.0.0.1:4000",
        1 => "127.0.0.1:0",
        _ => "10.0.0.1:1",
    };
    exchange.set_client(
        &|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
        Some(source),
    );
    let request_id = headers
        .iter()
        .find(|(n, _)| *n == "x-request-id")
        .map_or("r", |(_, v)| v);
    let mut step = exchange.on_request_headers(RequestHead {
        method: if s.method { "POST" } else { "GET" },
        path: &path,
        request_id,
        content_length: Some(s.body.len() as u64),
        content_type: Some("application/json"),
        end_of_stream: s.body.is_empty(),
    });
    if step == Step::Pause {
        for (i, &size) in sizes(s.body.len(), &s.chunks).iter().enumerate() {
            let last = size == s.body.len();
            step = exchange.on_request_body(size as u64, last);
            if step == Step::NeedBody {
                step = exchange.inspect_request_body(&s.body);
            }
            if step != Step::Pause || last || i > 64 {
                break;
            }
        }
    }
    if let Step::Consult { .. } = step {
        step = exchange.on_moderation(None, b"");
    }
    let forwarded = matches!(step, Step::Continue | Step::Replace(_));
    if forwarded {
        let content_type = TYPES[usize::from(s.content_type) % TYPES.len()];
        let plan = exchange.on_response_headers(
            s.status % 600,
            (!content_type.is_empty()).then_some(content_type),
            s.encoded.then_some("gzip"),
        );
        match plan {
            ResponsePlan::Buffer => {
                if let ResponseStep::Consult(_) = exchange.on_response_body(&s.answer) {
                    let _ = exchange.on_response_moderation(None, b"");
                }
            }
            ResponsePlan::Stream => {
                let mut at = 0;
                for size in sizes(s.answer.len(), &s.answer_chunks) {
                    exchange.on_response_chunk(&s.answer[at..size], size == s.answer.len());
                    at = size;
                }
            }
            ResponsePlan::Refuse => {
                let _ = exchange.take_refusal();
            }
            ResponsePlan::PassThrough => {}
        }
    }
    let record = exchange.finish().expect("one record");
    assert!(
        serde_json::from_str::<serde_json::Value>(&record).is_ok(),
        "{record}"
    );
    assert!(exchange.finish().is_none(), "only one record");
}

fuzz_target!(|scenario: Scenario| play(&scenario));
