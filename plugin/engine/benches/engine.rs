//! Criterion benches for the per-request engine work the filter does inside Envoy.
//!
//! `cargo bench -p psf-engine` (or `make bench`, which then runs `envoy/bench.sh`).
//! Every input goes through `black_box` and every result is checked inside the timed
//! loop, so the optimiser cannot fold the work away. See BENCHMARKS.md for the numbers.

// A bench fixture that fails to load must stop the run loudly; clippy.toml only allows
// `expect` inside tests, and benches are not tests.
#![allow(clippy::expect_used, clippy::panic)]

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BatchSize, BenchmarkGroup, Criterion, Throughput,
};
use psf_engine::response::sse::EventSplitter;
use psf_engine::{Decision, Exchange, Policy, RequestHead, ResponsePlan, Step};
use std::rc::Rc;
use std::time::{Duration, Instant};

/// The policy a new user gets, and the one the Envoy benchmark runs.
const DEFAULT_POLICY: &[u8] = include_bytes!("../../../policies/default.json");

/// The body size of the Envoy benchmark's chat-completions request.
const BODY_4KB: u64 = 4096;

/// One configuration for every bench: short enough that the whole run stays near 30 s.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .noise_threshold(0.05)
}

fn default_policy() -> Rc<Policy> {
    Rc::new(Policy::from_json(DEFAULT_POLICY).expect("policies/default.json parses"))
}

fn head(content_length: Option<u64>) -> RequestHead<'static> {
    // A path no route inspects: these benches measure the streaming decisions; the routed
    // chat path, which reads the body, is measured by `input/*`.
    RequestHead {
        method: "POST",
        path: "/v1/embeddings",
        request_id: "5c1e9f0a-0b7d-4c59-9d0e-6a7f3e2b1c44",
        content_length,
        content_type: Some("application/json"),
        end_of_stream: false,
    }
}

fn policy_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy/parse");
    group.throughput(Throughput::Bytes(DEFAULT_POLICY.len() as u64));
    group.bench_function("default", |b| {
        b.iter(|| {
            let policy = Policy::from_json(black_box(DEFAULT_POLICY));
            assert!(matches!(&policy, Ok(p) if p.rules.len() == 1));
            policy
        })
    });
    group.finish();
}

fn exchange(c: &mut Criterion) {
    let policy = default_policy();
    let mut group = c.benchmark_group("exchange/4kb");

    // Trusted content-length under the limit: decided on headers, the body streams through.
    group.bench_function("content-length", |b| {
        b.iter(|| {
            let mut exchange = Exchange::new(Rc::clone(black_box(&policy)));
            let step = exchange.on_request_headers(black_box(head(Some(BODY_4KB))));
            assert_eq!(step, Step::Continue);
            let step = exchange.on_request_body(black_box(BODY_4KB), black_box(true));
            assert_eq!(step, Step::Continue);
            exchange
        })
    });

    // No content-length: headers are held and the body measured as it arrives (two pieces).
    group.bench_function("chunked", |b| {
        b.iter(|| {
            let mut exchange = Exchange::new(Rc::clone(black_box(&policy)));
            let step = exchange.on_request_headers(black_box(head(None)));
            assert_eq!(step, Step::Pause);
            let step = exchange.on_request_body(black_box(BODY_4KB / 2), black_box(false));
            assert_eq!(step, Step::Pause);
            let step = exchange.on_request_body(black_box(BODY_4KB), black_box(true));
            assert_eq!(step, Step::Continue);
            exchange
        })
    });
    group.finish();

    // Over the 1 MiB limit: the rejection (finding, message, error body inputs) is built.
    c.bench_function("exchange/2mib/reject", |b| {
        b.iter(|| {
            let mut exchange = Exchange::new(Rc::clone(black_box(&policy)));
            let step = exchange.on_request_headers(black_box(head(Some(2 << 20))));
            assert!(matches!(&step, Step::Reject(r) if r.status() == 413));
            (exchange, step)
        })
    });
}

fn record_to_json(c: &mut Criterion) {
    let policy = default_policy();
    let mut exchange = Exchange::new(Rc::clone(&policy));
    let step = exchange.on_request_headers(head(Some(BODY_4KB)));
    assert_eq!(step, Step::Continue);
    exchange.on_response_headers(200, Some("application/json"), None);
    assert_eq!(exchange.record().decision, Decision::Allow);

    c.bench_function("record/to_json", |b| {
        b.iter(|| {
            let record = black_box(exchange.record());
            // What the filter logs: the record serialised to one line.
            let line = record.to_json(black_box(&policy));
            assert!(line.contains("\"decision\":\"allow\""));
            line
        })
    });

    // The whole audit cost of a routed 4 KB request and its answer, as the filter pays it:
    // hashing prompt and answer (inside the exchange), the record, and sealing it into the
    // VM's chain. Compare with `exchange/4kb`, the inspection it accompanies.
    let body = chat_body(BODY_4KB as usize);
    let answer = br#"{"id":"c","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"The capital of France is Paris."},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":8,"total_tokens":1008}}"#;
    let mut chain = psf_engine::audit::chain::Chain::new("bench");
    c.bench_function("record/finish_and_seal", |b| {
        b.iter_batched(
            || {
                let (_, mut exchange) = play_request(&policy, &body);
                exchange.on_response_headers(200, Some("application/json"), None);
                let _ = exchange.on_response_body(answer);
                exchange
            },
            |mut exchange| {
                let record = exchange.finish().expect("a record");
                chain.seal(&record)
            },
            BatchSize::SmallInput,
        )
    });
    c.bench_function("record/exchange_4kb_without_record", |b| {
        b.iter(|| {
            let (_, mut exchange) = play_request(&policy, &body);
            exchange.on_response_headers(200, Some("application/json"), None);
            exchange.on_response_body(black_box(answer))
        })
    });
    c.bench_function("record/sha256_4kb", |b| {
        b.iter(|| psf_engine::audit::chain::sha256_hex(black_box(&body)))
    });
}

/// A chat-completions body of about `size` bytes: a system prompt and user turns of prose.
fn chat_body(size: usize) -> Vec<u8> {
    let sentence =
        "The quarterly report shows revenue grew in every region, with costs held flat. ";
    let mut messages =
        vec![serde_json::json!({"role": "system", "content": "You are a helpful assistant."})];
    let mut body =
        serde_json::json!({"model": "gpt-4o-mini", "messages": messages.clone()}).to_string();
    while body.len() < size {
        let take = (size - body.len()).clamp(40, 900);
        let text: String = sentence
            .repeat(take / sentence.len() + 1)
            .chars()
            .take(take)
            .collect();
        messages.push(serde_json::json!({"role": "user", "content": text}));
        body =
            serde_json::json!({"model": "gpt-4o-mini", "messages": messages.clone()}).to_string();
    }
    body.into_bytes()
}

/// The baseline of the input benches: a plain `serde_json` parse of the same body.
fn bench_parse(group: &mut BenchmarkGroup<'_, WallTime>, body: &[u8]) {
    group.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let value: serde_json::Value = serde_json::from_slice(black_box(body)).expect("json");
            assert!(value.is_object());
            value
        })
    });
}

/// The input pipeline on a routed chat request (read the body as its API, apply the
/// limits) against plain `serde_json` parsing of the same body, in the same run.
fn input_pipeline(c: &mut Criterion) {
    let policy = default_policy();
    let route = policy
        .routes
        .iter()
        .find(|r| r.id == "openai-chat")
        .expect("openai-chat route");
    for (name, size) in [("1kb", 1024), ("4kb", 4096), ("32kb", 32 * 1024)] {
        let body = chat_body(size);
        let mut group = c.benchmark_group(format!("input/{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        bench_parse(&mut group, &body);
        group.bench_function("check_body", |b| {
            b.iter(
                || match psf_engine::check_body(black_box(route), black_box(&body)) {
                    psf_engine::Checked::Pass(request) => request,
                    other => panic!("{other:?}"),
                },
            )
        });
        // Everything the filter does with a chat body under the default policy: parse,
        // limits, hidden characters, normalisation and injection detection.
        group.bench_function("pipeline", |b| {
            b.iter(|| {
                let (step, exchange) = play_request(&policy, black_box(&body));
                assert_eq!(step, Step::Continue);
                exchange
            })
        });
        group.finish();
    }
}

/// A routed chat request played through to its body inspection: the step and the exchange.
fn play_request(policy: &Rc<Policy>, body: &[u8]) -> (Step, Exchange) {
    play_request_to(policy, "/v1/chat/completions", body)
}

/// A request to the routed `path` played through to its body inspection.
fn play_request_to(policy: &Rc<Policy>, path: &'static str, body: &[u8]) -> (Step, Exchange) {
    let mut exchange = Exchange::new(Rc::clone(policy));
    let length = body.len() as u64;
    let head = RequestHead {
        path,
        ..head(Some(length))
    };
    assert_eq!(exchange.on_request_headers(head), Step::Pause);
    assert_eq!(exchange.on_request_body(length, true), Step::NeedBody);
    let step = exchange.inspect_request_body(body);
    (step, exchange)
}

/// A paragraph of ordinary prose: no PII, nothing a rule or content category matches.
const PARAGRAPH: &str = "The committee met on Tuesday to review the budget. Members asked for \
    clearer figures on travel, training and software licences before the vote, and the \
    chair agreed to circulate a revised draft with last year's numbers for comparison. ";

/// 64 KB of ordinary prose in detection form (lower case), as the rules see it.
fn prose_64kb() -> String {
    let paragraph = PARAGRAPH.to_lowercase();
    paragraph.repeat(64 * 1024 / paragraph.len() + 1)[..64 * 1024].to_string()
}

/// Why the rule set uses `regex` (one `RegexSet` automaton) rather than `regex-lite`: the
/// same patterns over the same text, as one set, as separate `regex` matchers, and as
/// separate `regex-lite` matchers.
fn rule_matching(c: &mut Criterion) {
    let text = prose_64kb();
    let patterns: Vec<String> = psf_engine::detect::injection::RULES
        .iter()
        .filter_map(|rule| rule.pattern)
        .map(|pattern| pattern.replace(' ', "[^a-z0-9]+"))
        .collect();
    let rules = psf_engine::detect::injection::RuleSet::get().expect("rule set");
    let separate: Vec<regex::bytes::Regex> = patterns
        .iter()
        .map(|p| {
            regex::bytes::RegexBuilder::new(p)
                .unicode(false)
                .build()
                .expect("regex")
        })
        .collect();
    let lite: Vec<regex_lite::Regex> = patterns
        .iter()
        .map(|p| regex_lite::Regex::new(p).expect("regex-lite"))
        .collect();
    let mut group = c.benchmark_group("rules/64kb_prose");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("regex_set", |b| {
        b.iter(|| assert_eq!(rules.matches(black_box(&text)), 0))
    });
    group.bench_function("regex_each", |b| {
        b.iter(|| {
            assert!(!separate
                .iter()
                .any(|r| r.is_match(black_box(text.as_bytes()))))
        })
    });
    group.sample_size(10);
    group.bench_function("regex_lite_each", |b| {
        b.iter(|| assert!(!lite.iter().any(|r| r.is_match(black_box(&text)))))
    });
    group.finish();
}

/// The learned tier on 4 KB of prose: featurising into windows, then one scorer, and the
/// rule set on the same text for scale.
fn learned(c: &mut Criterion) {
    use psf_engine::detect::learned::{featurise, judge, Scorer};
    let text = PARAGRAPH.repeat(4096 / PARAGRAPH.len() + 1)[..4096].to_string();
    let mut group = c.benchmark_group("learned/4kb_prose");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("featurise", |b| b.iter(|| featurise(black_box(&text))));
    let featurised = featurise(&text);
    group.bench_function("score_injection", |b| {
        b.iter(|| judge(Scorer::Injection, black_box(&featurised), 1))
    });
    let rules = psf_engine::detect::injection::RuleSet::get().expect("rule set");
    let lower = text.to_lowercase();
    group.bench_function("rules_for_scale", |b| {
        b.iter(|| rules.matches(black_box(&lower)))
    });
    group.finish();
}

/// A chat body of about `size` bytes whose user text carries `entities` PII values.
fn chat_with_pii(size: usize, entities: &[&str]) -> Vec<u8> {
    let base = String::from_utf8(chat_body(size)).expect("utf-8");
    let mut value: serde_json::Value = serde_json::from_str(&base).expect("json");
    let text = value["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let words: Vec<&str> = text.split(' ').collect();
    let step = words.len() / (entities.len() + 1);
    let mut out = Vec::new();
    for (i, word) in words.iter().enumerate() {
        out.push(*word);
        if step > 0 && i % step == step - 1 && i / step < entities.len() {
            out.push(entities[i / step]);
        }
    }
    value["messages"][1]["content"] = serde_json::json!(out.join(" "));
    value.to_string().into_bytes()
}

/// The PII detector suite (DG-1) against a plain `serde_json` parse of the same body: on
/// prose with no PII (the common case, target at most 2x the parse), masking a request with
/// five entities, and restoring placeholders in a 64 KB stream.
fn pii(c: &mut Criterion) {
    let scanner = psf_engine::detect::pii::detect::Scanner::default_scanner();
    for (name, size) in [("4kb", 4096), ("64kb", 64 * 1024)] {
        let body = chat_body(size);
        let value: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let texts: Vec<String> = value["messages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["content"].as_str().map(str::to_string))
            .collect();
        let mut group = c.benchmark_group(format!("pii/prose_{name}"));
        group.throughput(Throughput::Bytes(body.len() as u64));
        bench_parse(&mut group, &body);
        group.bench_function("scan", |b| {
            b.iter(|| {
                for text in &texts {
                    assert!(scanner.find(black_box(text)).is_empty());
                }
            })
        });
        group.finish();
    }

    let policy = default_policy();
    let body = chat_with_pii(
        4096,
        &[
            "ada.lovelace@example.org",
            "4111 1111 1111 1111",
            "DE89 3704 0044 0532 0130 00",
            "AKIAIOSFODNN7EXAMPLE",
            "078-05-1120",
        ],
    );
    let mut group = c.benchmark_group("pii/mask_4kb_5_entities");
    group.throughput(Throughput::Bytes(body.len() as u64));
    bench_parse(&mut group, &body);
    group.bench_function("pipeline", |b| {
        b.iter(|| {
            let (step, exchange) = play_request(&policy, black_box(&body));
            assert!(matches!(step, Step::Replace(_)), "{step:?}");
            exchange
        })
    });
    group.finish();

    // A 64 KB stream of 4-character deltas that echo the five placeholders.
    let masked = match play_request(&policy, &body).0 {
        Step::Replace(masked) => masked,
        other => panic!("{other:?}"),
    };
    let masked: serde_json::Value = serde_json::from_slice(&masked).expect("json");
    let reply = masked["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .repeat(16);
    let stream = sse_stream(Sse::OpenAi, &reply, 64 * 1024);
    let mut group = c.benchmark_group("pii/restore_64kb_sse");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    bench_parse_events(&mut group, "serde_json_value_per_event", &stream);
    group.bench_function("restore", |b| {
        b.iter(|| {
            let (_, mut exchange) = play_request(&policy, &body);
            exchange.on_response_headers(200, Some("text/event-stream"), None);
            let mut sent = 0;
            for chunk in stream.as_bytes().chunks(512) {
                sent += exchange.on_response_chunk(black_box(chunk), false).len();
            }
            sent += exchange.on_response_chunk(b"", true).len();
            assert!(sent > stream.len() / 2);
            sent
        })
    });
    group.finish();
}

/// The wire format of a streamed answer.
#[derive(Debug, Clone, Copy)]
enum Sse {
    /// OpenAI Chat Completions: `data:` chunks, then `data: [DONE]`.
    OpenAi,
    /// Anthropic Messages: named events from `message_start` to `message_stop`.
    Anthropic,
}

/// One SSE event that carries `piece` as a text delta.
fn sse_delta(format: Sse, piece: &str) -> String {
    match format {
        Sse::OpenAi => {
            let event = serde_json::json!({"id": "c", "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
            format!("data: {event}\n\n")
        }
        Sse::Anthropic => {
            let event = serde_json::json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "text_delta", "text": piece}});
            format!("event: content_block_delta\ndata: {event}\n\n")
        }
    }
}

/// `text` streamed in 4-character deltas until the stream passes `size` bytes, between
/// the format's opening and closing events.
fn sse_stream(format: Sse, text: &str, size: usize) -> String {
    let named = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
    let mut stream = match format {
        Sse::OpenAi => String::new(),
        Sse::Anthropic => {
            named(
                "message_start",
                serde_json::json!({"type": "message_start", "message": {"id": "m",
                    "type": "message", "role": "assistant", "content": [], "model": "claude",
                    "stop_reason": null, "usage": {"input_tokens": 10, "output_tokens": 0}}}),
            ) + &named(
                "content_block_start",
                serde_json::json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            )
        }
    };
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(4) {
        stream += &sse_delta(format, &piece.iter().collect::<String>());
        if stream.len() > size {
            break;
        }
    }
    match format {
        Sse::OpenAi => stream += "data: [DONE]\n\n",
        Sse::Anthropic => {
            stream += &named(
                "content_block_stop",
                serde_json::json!({"type": "content_block_stop", "index": 0}),
            );
            stream += &named(
                "message_delta",
                serde_json::json!({"type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": null},
                    "usage": {"output_tokens": 600}}),
            );
            stream += &named("message_stop", serde_json::json!({"type": "message_stop"}));
        }
    }
    stream
}

/// The baseline of the stream benches: a plain `serde_json` parse of each event's data.
fn bench_parse_events(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, stream: &str) {
    let events: Vec<&str> = stream
        .split("\n\n")
        .filter_map(|e| e.lines().find_map(|line| line.strip_prefix("data: ")))
        .collect();
    group.bench_function(name, |b| {
        b.iter(|| {
            let parsed = events
                .iter()
                .filter(|e| serde_json::from_str::<serde_json::Value>(black_box(e)).is_ok())
                .count();
            assert!(parsed > 0);
            parsed
        })
    });
}

/// A request played to `path` whose streamed (`text/event-stream`) answer has just begun.
fn streaming_exchange(policy: &Rc<Policy>, path: &'static str, body: &[u8]) -> Exchange {
    let (step, mut exchange) = play_request_to(policy, path, body);
    assert_eq!(step, Step::Continue);
    let plan = exchange.on_response_headers(200, Some("text/event-stream"), None);
    assert_eq!(plan, ResponsePlan::Stream);
    exchange
}

/// Streaming answers under the default policy (PII and the content filter on the response,
/// held deltas, paragraph scoring), each against a `serde_json` parse of every event's data:
/// one 16-character delta event at a time, and a whole 64 KB stream of 4-character deltas
/// arriving in 512-byte chunks, in the OpenAI and the Anthropic format.
fn streams(c: &mut Criterion) {
    let policy = default_policy();
    let chat = chat_body(1024);
    let anthropic = serde_json::json!({"model": "claude-sonnet-4-5", "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Summarise the budget meeting."}]})
    .to_string()
    .into_bytes();
    // Clean prose in paragraphs, as an answer reads.
    let answer = PARAGRAPH.trim_end().to_string() + "\n\n";
    let answer = answer.repeat(64);

    let chars: Vec<char> = answer.chars().collect();
    let events: Vec<String> = chars
        .chunks(16)
        .take(256)
        .map(|piece| sse_delta(Sse::OpenAi, &piece.iter().collect::<String>()))
        .collect();
    let mut group = c.benchmark_group("stream/event");
    group.throughput(Throughput::Elements(1));
    group.bench_function("serde_json_value", |b| {
        let mut next = events.iter().cycle();
        b.iter(|| {
            let event = next.next().expect("events");
            let data = &event["data: ".len()..event.len() - 2];
            let value: serde_json::Value = serde_json::from_str(black_box(data)).expect("json");
            assert!(value.is_object());
            value
        })
    });
    // The SSE parser alone: the event split from the byte stream and its data assembled.
    group.bench_function("sse_split", |b| {
        let mut splitter = EventSplitter::default();
        let mut next = events.iter().cycle();
        b.iter(|| {
            let event = next.next().expect("events");
            let raw = splitter.push(black_box(event.as_bytes()));
            assert_eq!(raw.len(), 1);
            raw[0].data()
        })
    });
    // Parser and inspection, mid-stream: each run of 256 events starts a new stream (its
    // request and response headers are played outside the timing).
    group.bench_function("on_response_chunk", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(events.len() as u64);
                let mut exchange = streaming_exchange(&policy, "/v1/chat/completions", &chat);
                let start = Instant::now();
                let mut sent = 0;
                for event in &events[..n as usize] {
                    sent += exchange
                        .on_response_chunk(black_box(event.as_bytes()), false)
                        .len();
                }
                timed += start.elapsed();
                // Deltas are held only while an entity could run across them.
                assert!(n < 16 || sent > 0, "{n} events, nothing sent");
                left -= n;
            }
            timed
        })
    });
    group.finish();

    let mut group = c.benchmark_group("stream/64kb_answer");
    for (name, format, path, request) in [
        ("openai", Sse::OpenAi, "/v1/chat/completions", &chat),
        ("anthropic", Sse::Anthropic, "/v1/messages", &anthropic),
    ] {
        let stream = sse_stream(format, &answer, 64 * 1024);
        // Clean prose goes out unchanged and the exchange is allowed.
        let mut exchange = streaming_exchange(&policy, path, request);
        let mut sent = exchange.on_response_chunk(stream.as_bytes(), false);
        sent.extend(exchange.on_response_chunk(b"", true));
        assert_eq!(sent, stream.as_bytes(), "{name}");
        assert_eq!(exchange.record().decision, Decision::Allow, "{name}");

        group.throughput(Throughput::Bytes(stream.len() as u64));
        bench_parse_events(
            &mut group,
            &format!("{name}_serde_json_value_per_event"),
            &stream,
        );
        group.bench_function(format!("{name}_on_response_chunk"), |b| {
            b.iter_batched(
                || streaming_exchange(&policy, path, request),
                |mut exchange| {
                    let mut sent = 0;
                    for chunk in stream.as_bytes().chunks(512) {
                        sent += exchange.on_response_chunk(black_box(chunk), false).len();
                    }
                    sent += exchange.on_response_chunk(b"", true).len();
                    assert_eq!(sent, stream.len());
                    exchange
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// The rate limiter's decision (read, decide, compare-and-swap write) for one request, with
/// 1, 1,000 and 100,000 keys in the table: the slot a key lands in holds about 16 entries
/// whatever the key count, so the cost should not grow with it. Then the whole admitted
/// request through the demo policy, against the default policy without limits.
fn limiter(c: &mut Criterion) {
    use psf_engine::controls::ratelimit::key::hash_key;
    use psf_engine::controls::ratelimit::limiter::{admit, Decided, Demand};
    use psf_engine::controls::ratelimit::MemoryStore;
    let document = serde_json::json!({"version": 1, "name": "bench", "owner": "Ada Lovelace",
        "rate_limits": {"limits": [{"id": "k", "key": [{"header": "x-api-key"}],
            "window": "1m", "requests": 1_000_000_000u64, "total_tokens": 1_000_000_000_000u64}]}});
    let policy = Policy::from_json(document.to_string().as_bytes()).expect("bench policy");
    let rates = policy.rate_limits.as_ref().expect("limits");
    let (limit, table) = (&rates.limits[0], &rates.table);
    let demand = Demand {
        prompt: 1000,
        completion: 256,
    };
    let mut group = c.benchmark_group("limiter/decision");
    for keys in [1usize, 1_000, 100_000] {
        let store = MemoryStore::new(1_800_000_000_000);
        let hashes: Vec<_> = (0..keys)
            .map(|i| hash_key(&rates.hash_secret, &limit.id, &format!("sk-{i}")))
            .collect();
        for key in &hashes {
            admit(&store, table, limit, *key, demand);
        }
        let mut next = 0usize;
        group.bench_function(format!("{keys}_keys"), |b| {
            b.iter(|| {
                next = (next + 7919) % hashes.len();
                let decided = admit(&store, table, limit, black_box(hashes[next]), demand);
                assert!(matches!(decided, Decided::Admit { .. }));
                decided
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("limiter/exchange_4kb");
    let body = chat_body(BODY_4KB as usize);
    let demo_text = include_bytes!("../../../policies/ratelimit-demo.json");
    let mut demo: serde_json::Value = serde_json::from_slice(demo_text).expect("demo policy");
    demo["rate_limits"]["limits"][0]["requests"] = serde_json::json!(1_000_000_000u64);
    demo["rate_limits"]["limits"][0]["total_tokens"] = serde_json::json!(1_000_000_000_000u64);
    let demo = Rc::new(Policy::from_json(demo.to_string().as_bytes()).expect("demo"));
    for (name, policy) in [("default", default_policy()), ("ratelimit_demo", demo)] {
        let store: Rc<dyn psf_engine::controls::ratelimit::SharedStore> =
            Rc::new(MemoryStore::new(1_800_000_000_000));
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut exchange = Exchange::with_store(Rc::clone(&policy), Rc::clone(&store));
                exchange.set_client(&|h| (h == "x-api-key").then_some("sk-bench"), None);
                let step = exchange.on_request_headers(RequestHead {
                    method: "POST",
                    path: "/v1/chat/completions",
                    request_id: "bench",
                    content_length: Some(body.len() as u64),
                    content_type: Some("application/json"),
                    end_of_stream: false,
                });
                assert_eq!(step, Step::Pause);
                assert_eq!(
                    exchange.on_request_body(body.len() as u64, true),
                    Step::NeedBody
                );
                let step = exchange.inspect_request_body(black_box(&body));
                assert!(!matches!(step, Step::Reject(_)), "{step:?}");
                exchange.on_stream_done();
                step
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = policy_parse, exchange, record_to_json, input_pipeline, rule_matching, learned, pii, streams, limiter
}
criterion_main!(benches);
