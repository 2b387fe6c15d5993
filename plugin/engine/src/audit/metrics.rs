//! The counters and histograms of one finished exchange, named here (PSF OM-1, OM-4) so the
//! names and labels are tested natively; the filter only defines and updates them.
//!
//! Labels are encoded in the name as `.label.value` pairs; `stats_tags` in envoy/envoy.yaml
//! turn them into Prometheus labels (`psf_requests_total{route="…",decision="…"}`). Envoy
//! puts these metrics under `wasmcustom.` in its stats and strips that in Prometheus output.

use super::record::{DecisionRecord, FindingAction};
use crate::code::ErrorCode;
use crate::policy::Policy;

/// How a metric accumulates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Adds `value`.
    Counter,
    /// Records `value` as one observation.
    Histogram,
}

/// One update of one metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    pub name: String,
    pub kind: MetricKind,
    pub value: u64,
}

impl Metric {
    fn count(name: String, by: u64) -> Self {
        Self {
            name,
            kind: MetricKind::Counter,
            value: by,
        }
    }

    fn observe(name: &str, value: u64) -> Self {
        Self {
            name: name.to_string(),
            kind: MetricKind::Histogram,
            value,
        }
    }
}

/// Every metric update `record` makes: requests by route and decision, enforced blocks by
/// code, PII entities, tokens by model, upstream failures, fallbacks, breaker and mode
/// switches, and the filter's and upstream's latencies.
pub fn exchange_metrics(record: &DecisionRecord, policy: &Policy) -> Vec<Metric> {
    let route = label(record.route.as_deref().unwrap_or("unrouted"));
    let mut out = vec![Metric::count(
        format!(
            "psf_requests_total.route.{route}.decision.{}",
            record.decision.as_str()
        ),
        1,
    )];
    let mut blocked: Vec<&str> = record
        .findings
        .iter()
        .filter(|f| f.enforced && f.action == FindingAction::Block)
        .map(|f| f.code.as_str())
        .collect();
    blocked.dedup();
    for code in blocked {
        out.push(Metric::count(format!("psf_blocks_total.code.{code}"), 1));
    }
    for tally in &record.entities {
        let name = format!(
            "psf_pii_entities_total.type.{}.direction.{}",
            label(&tally.type_name),
            tally.direction.as_str()
        );
        out.push(Metric::count(name, u64::from(tally.count)));
    }
    if let Some(tokens) = record.tokens {
        let model = label(
            record
                .model
                .as_deref()
                .map_or("unknown", |m| policy.model_label(m)),
        );
        out.push(Metric::count(
            format!("psf_prompt_tokens_total.model.{model}"),
            tokens.prompt,
        ));
        out.push(Metric::count(
            format!("psf_completion_tokens_total.model.{model}"),
            tokens.completion,
        ));
    }
    for finding in &record.findings {
        let class = match finding.code {
            ErrorCode::UpstreamError => "5xx",
            ErrorCode::UpstreamTimeout => "timeout",
            ErrorCode::MalformedOutput => "malformed",
            ErrorCode::TruncatedStream => "truncated",
            _ => continue,
        };
        out.push(Metric::count(
            format!("psf_upstream_errors_total.class.{class}"),
            1,
        ));
    }
    if let Some(action) = record.fallback {
        out.push(Metric::count(
            format!("psf_fallbacks_total.route.{route}.action.{action}"),
            1,
        ));
    }
    if record.breaker_opened {
        out.push(Metric::count(
            format!("psf_breaker_opened_total.route.{route}"),
            1,
        ));
    }
    if let Some(switch) = &record.mode_switch {
        out.push(Metric::count(
            format!("psf_mode_switches_total.mode.{}", label(&switch.mode)),
            1,
        ));
    }
    let latency = &record.latency;
    out.push(Metric::observe(
        "psf_filter_duration_us.phase.request",
        latency.filter_request_us,
    ));
    if latency.filter_response_us > 0 {
        out.push(Metric::observe(
            "psf_filter_duration_us.phase.response",
            latency.filter_response_us,
        ));
    }
    if let Some(ms) = latency.upstream_ms {
        out.push(Metric::observe("psf_upstream_latency_ms", ms));
    }
    if let Some(ms) = latency.first_byte_ms {
        out.push(Metric::observe("psf_ttft_ms", ms));
    }
    out
}

/// A label value safe inside a dotted metric name: dots and anything unusual become `_`.
pub fn label(value: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::{Decision, Finding, Tokens};

    fn policy() -> Policy {
        Policy::from_json(br#"{"version":1,"name":"t","owner":"Ops","rules":[]}"#).unwrap()
    }

    fn names(metrics: &[Metric]) -> Vec<&str> {
        metrics.iter().map(|m| m.name.as_str()).collect()
    }

    #[test]
    fn a_blocked_request_counts_its_decision_and_each_enforced_code_once() {
        let mut record = DecisionRecord {
            route: Some("chat.v1".into()),
            decision: Decision::Block,
            ..DecisionRecord::default()
        };
        let finding =
            |action, enforced| Finding::new("r", ErrorCode::PromptInjection, action, enforced);
        record.findings = vec![
            finding(FindingAction::Block, true),
            finding(FindingAction::Block, true),
            finding(FindingAction::Flag, false),
        ];
        let metrics = exchange_metrics(&record, &policy());
        assert_eq!(
            names(&metrics),
            [
                "psf_requests_total.route.chat_v1.decision.block",
                "psf_blocks_total.code.prompt_injection",
                "psf_filter_duration_us.phase.request",
            ]
        );
        assert_eq!(metrics[2].kind, MetricKind::Histogram);
    }

    #[test]
    fn tokens_count_under_the_model_label_and_an_unrouted_request_says_so() {
        // A model the policy does not list is `other`: clients must not mint new stats.
        let record = DecisionRecord {
            model: Some("gpt-4o.mini".into()),
            tokens: Some(Tokens {
                prompt: 12,
                completion: 30,
                reported: true,
            }),
            ..DecisionRecord::default()
        };
        let metrics = exchange_metrics(&record, &policy());
        let counted = |name: &str| metrics.iter().find(|m| m.name == name).map(|m| m.value);
        assert_eq!(
            counted("psf_requests_total.route.unrouted.decision.allow"),
            Some(1)
        );
        assert_eq!(counted("psf_prompt_tokens_total.model.other"), Some(12));
        assert_eq!(counted("psf_completion_tokens_total.model.other"), Some(30));
        assert_eq!(label("gpt-4o.mini/v1"), "gpt-4o_mini_v1");
    }
}
