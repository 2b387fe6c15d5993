//! Every metric the filter exports, defined here and nowhere else (PSF OM-1, OM-4).
//!
//! Labels are encoded in the name as `.label.value` pairs; `stats_tags` in envoy/envoy.yaml
//! turn them into Prometheus labels (`psf_requests_total{route="…",decision="…"}`). Envoy
//! puts these metrics under `wasmcustom.` in its stats and strips that in Prometheus output.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use psf_engine::ErrorCode;
use psf_engine::{DecisionRecord, FindingAction, Policy};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static IDS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// The counters and histograms of one finished exchange.
pub fn record(record: &DecisionRecord, policy: &Policy) {
    let route = record.route.as_deref().unwrap_or("unrouted");
    count(
        &format!(
            "psf_requests_total.route.{}.decision.{}",
            label(route),
            record.decision.as_str()
        ),
        1,
    );
    let mut blocked: Vec<&str> = record
        .findings
        .iter()
        .filter(|f| f.enforced && f.action == FindingAction::Block)
        .map(|f| f.code.as_str())
        .collect();
    blocked.dedup();
    for code in blocked {
        count(&format!("psf_blocks_total.code.{code}"), 1);
    }
    for tally in &record.entities {
        count(
            &format!(
                "psf_pii_entities_total.type.{}.direction.{}",
                label(&tally.type_name),
                tally.direction.as_str()
            ),
            i64::from(tally.count),
        );
    }
    if let Some(tokens) = record.tokens {
        let model = label(
            record
                .model
                .as_deref()
                .map_or("unknown", |m| policy.model_label(m)),
        );
        count(
            &format!("psf_prompt_tokens_total.model.{model}"),
            tokens.prompt as i64,
        );
        count(
            &format!("psf_completion_tokens_total.model.{model}"),
            tokens.completion as i64,
        );
    }
    for finding in &record.findings {
        let class = match finding.code {
            ErrorCode::UpstreamError => "5xx",
            ErrorCode::UpstreamTimeout => "timeout",
            ErrorCode::MalformedOutput => "malformed",
            ErrorCode::TruncatedStream => "truncated",
            _ => continue,
        };
        count(&format!("psf_upstream_errors_total.class.{class}"), 1);
    }
    if let Some(action) = record.fallback {
        count(
            &format!("psf_fallbacks_total.route.{}.action.{action}", label(route)),
            1,
        );
    }
    if record.breaker_opened {
        count(
            &format!("psf_breaker_opened_total.route.{}", label(route)),
            1,
        );
    }
    if let Some(switch) = &record.mode_switch {
        count(
            &format!("psf_mode_switches_total.mode.{}", label(&switch.mode)),
            1,
        );
    }
    let latency = &record.latency;
    observe(
        "psf_filter_duration_us.phase.request",
        latency.filter_request_us,
    );
    if latency.filter_response_us > 0 {
        observe(
            "psf_filter_duration_us.phase.response",
            latency.filter_response_us,
        );
    }
    if let Some(ms) = latency.upstream_ms {
        observe("psf_upstream_latency_ms", ms);
    }
    if let Some(ms) = latency.first_byte_ms {
        observe("psf_ttft_ms", ms);
    }
}

/// Adds `by` to the counter `name`, defining it on first use.
pub fn count(name: &str, by: i64) {
    if let Some(id) = id(name, MetricType::Counter) {
        let _ = hostcalls::increment_metric(id, by);
    }
}

/// Records `value` in the histogram `name`.
pub fn observe(name: &str, value: u64) {
    if let Some(id) = id(name, MetricType::Histogram) {
        let _ = hostcalls::record_metric(id, value);
    }
}

fn id(name: &str, kind: MetricType) -> Option<u32> {
    IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, name).ok()?;
        ids.insert(name.to_string(), id);
        Some(id)
    })
}

/// A label value safe inside a dotted metric name: dots and anything unusual become `_`.
fn label(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
