//! Criterion benches for the per-request engine work the filter does inside Envoy.
//!
//! `cargo bench -p psf-engine` (or `make bench`, which then runs `envoy/bench.sh`).
//! Every input goes through `black_box` and every result is checked inside the timed
//! loop, so the optimiser cannot fold the work away. See BENCHMARKS.md for the numbers.

// A bench fixture that fails to load must stop the run loudly; clippy.toml only allows
// `expect` inside tests, and benches are not tests.
#![allow(clippy::expect_used)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use psf_engine::{Decision, Exchange, Policy, RequestHead, Step};
use std::rc::Rc;
use std::time::Duration;

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
    RequestHead {
        method: "POST",
        path: "/v1/chat/completions",
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
    exchange.on_response_headers(200);
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
}

criterion_group! {
    name = benches;
    config = config();
    targets = policy_parse, exchange, record_to_json
}
criterion_main!(benches);
