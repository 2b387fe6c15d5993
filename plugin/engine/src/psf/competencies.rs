//! The competency table: how each of the 40 is decided and what serves it.

use super::probes::*;
use super::Status;
use crate::Policy;

/// What a probe found in a policy.
#[derive(Debug, Default)]
pub(super) struct Found {
    /// Whether the control is on (for [`Kind::Control`]).
    pub(super) on: bool,
    /// The config paths that turn it on, or that supply evidence.
    pub(super) paths: Vec<String>,
    /// Where it is on for some routes but not for these, which read the same kind of body.
    pub(super) missing: Vec<String>,
}

impl Found {
    pub(super) fn on(paths: Vec<String>) -> Self {
        Self {
            on: true,
            paths,
            missing: Vec::new(),
        }
    }

    pub(super) fn evidence(paths: Vec<String>) -> Self {
        Self {
            on: false,
            paths,
            missing: Vec::new(),
        }
    }
}

pub(super) type Probe = fn(&Policy) -> Found;

/// How a competency is decided.
pub(super) enum Kind {
    /// A control the policy turns on: enforced when the probe finds it on, else
    /// supported-off, and `off` says which field would turn it on.
    Control { off: &'static str },
    /// On in every policy the filter accepts (a required field, or done whatever the
    /// policy says): enforced, at the paths the probe names.
    Always,
    /// Policy metadata speaks to it: documented when any of `fields` is set
    /// (see [`metadata`]), else supported-off.
    Metadata { fields: &'static [&'static str] },
    /// Outside a proxy's reach; the probe names evidence the policy supplies.
    Outside,
}

/// One competency: its id, a short title, how it is decided, and what serves it.
pub(super) struct Competency {
    pub(super) id: &'static str,
    pub(super) title: &'static str,
    pub(super) kind: Kind,
    pub(super) probe: Probe,
    /// What the filter does for it, or why it is outside or not yet done.
    pub(super) note: &'static str,
}

/// The framework's domains, by the prefix of their ids.
pub(super) const DOMAINS: [(&str, &str); 8] = [
    ("IG", "Input Governance"),
    ("OV", "Output Validation"),
    ("DG", "Data Governance & PII"),
    ("MS", "Model Selection & Evaluation"),
    ("HO", "Human Oversight"),
    ("OM", "Observability & Monitoring"),
    ("IR", "Incident Response"),
    ("EA", "Ethics & Accountability"),
];

/// Every competency, in the framework's order, with how this filter serves it.
pub(super) const COMPETENCIES: [Competency; 40] = [
    // Injection detection is the control; sanitising hidden characters rides along with it.
    Competency {
        id: "IG-1",
        title: "sanitise input, detect injection",
        kind: Kind::Control {
            off: "add `injection` (and `sanitize.hidden_characters`) to every route that reads a body",
        },
        probe: injection,
        note: "versioned injection rule set with anomaly scores and decoders; hidden characters flagged, stripped or blocked",
    },
    // A route that reads its body checks type, size and structure; a body-size rule caps the rest.
    Competency {
        id: "IG-2",
        title: "validate input type, length, structure",
        kind: Kind::Control {
            off: "give routes a `format` and `limits`, or add a `request_body_size` rule",
        },
        probe: input_checks,
        note: "method, content type, JSON, messages, characters, estimated tokens and `max_tokens` checked before the model",
    },
    // The audit record holds no raw content in any policy; sampled texts are redacted.
    Competency {
        id: "IG-3",
        title: "inputs logged with PII redacted",
        kind: Kind::Always,
        probe: audit_sampling,
        note: "one audit record per request with hashes and entity counts; sampled prompts have every entity the scanner finds replaced by its type",
    },
    // Token-bucket limits are the control; `abuse` adds the alerts.
    Competency {
        id: "IG-4",
        title: "rate limiting, abuse alerts",
        kind: Kind::Control {
            off: "add `rate_limits` (see policies/ratelimit-demo.json), and `abuse` for alerts",
        },
        probe: rate_limits,
        note: "request, token and concurrency limits per key shared by every worker; 429 with `Retry-After`",
    },
    // Only chat formats carry a system prompt, so only they count as missing it.
    Competency {
        id: "IG-5",
        title: "system prompt as a security boundary",
        kind: Kind::Control {
            off: "add `system_prompt` (`pinned`, `client_messages`) to chat routes",
        },
        probe: system_prompt,
        note: "pinned prompt; client system messages rejected or demoted; answers leaking the prompt or canary withheld",
    },
    // Any route whose answers the filter reads; the filter fails closed.
    Competency {
        id: "OV-1",
        title: "every output passes a validation layer",
        kind: Kind::Control {
            off: "give a route a `format` so its answers are read",
        },
        probe: reads_responses,
        note: "answers read for PII, secrets, canary, content, scope and schema; the filter fails closed",
    },
    // Per application, so routes without a schema are not counted as missing one.
    Competency {
        id: "OV-2",
        title: "output schema enforced",
        kind: Kind::Control {
            off: "add `output_schema` to a route",
        },
        probe: output_schema,
        note: "JSON Schema subset for answers and named tools' arguments, `max_chars`; tool arguments in streams are not checked",
    },
    // Content filtering of answers; a filter on prompts only does not serve OV-3.
    Competency {
        id: "OV-3",
        title: "content filtering",
        kind: Kind::Control {
            off: "add `content_filter` with the `response` direction",
        },
        probe: content_filter,
        note: "category terms, the scored `harmful_compliance` category, optional moderation and scope control",
    },
    // Log-probabilities are recorded whatever the policy; flagging needs `confidence`.
    Competency {
        id: "OV-4",
        title: "confidence signals logged, low confidence flagged",
        kind: Kind::Control {
            off: "add `confidence.min_mean_logprob` to a route (log-probabilities are recorded either way)",
        },
        probe: confidence,
        note: "mean and minimum token log-probability recorded; low confidence flagged or blocked; escalation to review in #8",
    },
    // On by default for every route that reads a format, unless every state passes.
    Competency {
        id: "OV-5",
        title: "failures surface as defined error states",
        kind: Kind::Control {
            off: "give a route a `format`, and leave `output_errors` at its defaults or `replace`",
        },
        probe: output_errors,
        note: "upstream errors, timeouts, malformed JSON and cut streams become defined errors; refusals and empty answers recorded",
    },
    // PII handling per route and direction.
    Competency {
        id: "DG-1",
        title: "PII identified, classified, handled per policy",
        kind: Kind::Control {
            off: "add `pii` to every route that reads a body",
        },
        probe: pii,
        note: "validated detectors in classes, actions per class and direction, placeholders restored",
    },
    // Every record carries `retention_until`; `audit.retention_days` sets it.
    Competency {
        id: "DG-2",
        title: "retention of PII logs enforced",
        kind: Kind::Always,
        probe: retention,
        note: "records carry `retention_until`; `psf-guard audit prune` removes them behind signed tombstones (schedule it: docs/audit.md)",
    },
    // Erasure finds a subject's records only when the policy records subjects.
    Competency {
        id: "DG-3",
        title: "erasure without retraining",
        kind: Kind::Control {
            off: "set `audit.subject_header` and `audit.subject_key` so `psf-guard audit erase --subject` finds a subject's records",
        },
        probe: subjects,
        note: "subjects recorded only as an HMAC; `psf-guard audit erase` removes their records; no other per-subject state",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "DG-4",
        title: "training data provenance",
        kind: Kind::Outside,
        probe: nothing,
        note: "training-time duty; the filter never sees training data",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "DG-5",
        title: "data residency",
        kind: Kind::Control {
            off: "add `residency` (allowed regions and each cluster's region)",
        },
        probe: residency,
        note: "traffic to a cluster outside the allowed regions, or untagged, gets 403 data_residency_violation",
    },
    // docs/psf-coverage.md: outside; the model allow-list is what a policy shows of the choice.
    Competency {
        id: "MS-1",
        title: "model selection documented",
        kind: Kind::Metadata {
            fields: &["accountability.model_cards"],
        },
        probe: models,
        note: "documentation duty; `limits.models` restricts the models a route serves and every audit record names the model",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "MS-2",
        title: "benchmarks reviewed before deployment",
        kind: Kind::Outside,
        probe: nothing,
        note: "documentation duty; `psf-guard eval --report` measures the filter, not the model",
    },
    // docs/psf-coverage.md: not yet (partly served by pinning models and by `psf-guard eval`).
    Competency {
        id: "MS-3",
        title: "regression gate on model or provider changes",
        kind: Kind::Control {
            off: "add `approved_models` (pinned versions and aliases) to the routes",
        },
        probe: approved_models,
        note: "only approved, pinned model versions reach the provider (400 model_not_approved); `psf-guard eval` can gate a change",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "MS-4",
        title: "fallback on provider outage",
        kind: Kind::Control {
            off: "add `fallback` (degrade, or reroute to a fallback route) with its breaker to the routes",
        },
        probe: fallback,
        note: "provider failures count against a circuit breaker in shared data; the route degrades with the approved message or reroutes to its fallback while it is open",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "MS-5",
        title: "vendor terms reviewed",
        kind: Kind::Metadata {
            fields: &["accountability.vendor_agreements"],
        },
        probe: nothing,
        note: "contractual duty",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "HO-1",
        title: "autonomy level per decision point",
        kind: Kind::Control {
            off: "set `autonomy` (advisory, supervised, autonomous) on each route",
        },
        probe: autonomy,
        note: "each route's autonomy level is in its audit records and in x-psf-autonomy",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "HO-2",
        title: "human review of high-stakes decisions",
        kind: Kind::Control {
            off: "on a supervised route, add `review` with the tools a person must approve",
        },
        probe: review,
        note: "listed tool calls are held (202 pending_human_review) until a reviewer's x-psf-approval releases them",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "HO-3",
        title: "users told they talk to AI",
        kind: Kind::Control {
            off: "leave `disclosure.header` on (the default) for the routes",
        },
        probe: disclosure,
        note: "model responses carry x-ai-generated: true, and x-ai-disclosure when the route sets a text",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "HO-4",
        title: "override mechanisms",
        kind: Kind::Always,
        probe: overrides,
        note: "approval headers release held calls, modes switch at runtime or by config, rules can be excluded per route (docs/policy.md: overrides)",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "HO-5",
        title: "oversight reviewed after changes",
        kind: Kind::Outside,
        probe: nothing,
        note: "process duty",
    },
    // Metrics come from the filter whatever the policy; the alert rules ship with it.
    Competency {
        id: "OM-1",
        title: "latency, errors, throughput monitored with alerts",
        kind: Kind::Always,
        probe: nothing,
        note: "filter metrics by route and decision, upstream latency and TTFT; alerts in envoy/observability/alert-rules.yml",
    },
    // Sampled records carry the redacted texts for review.
    Competency {
        id: "OM-2",
        title: "output quality sampled",
        kind: Kind::Control {
            off: "set `audit.sample_rate` above 0 (or `audit.include_text`)",
        },
        probe: quality_sampling,
        note: "sampled records carry the redacted prompt and answer for review",
    },
    // Strikes and suspension per key.
    Competency {
        id: "OM-3",
        title: "usage anomalies monitored",
        kind: Kind::Control {
            off: "add `abuse` (strikes, suspension and alerts)",
        },
        probe: abuse,
        note: "strikes counted per key, suspension and alerts; no statistical anomaly detection on volumes yet",
    },
    // The dashboard ships with the filter and reads its metrics whatever the policy.
    Competency {
        id: "OM-4",
        title: "dashboards",
        kind: Kind::Always,
        probe: nothing,
        note: "envoy/observability/grafana-dashboard.json: a panel per metric family",
    },
    // 30 days unless the policy explicitly allows less.
    Competency {
        id: "OM-5",
        title: "structured logs kept >= 30 days",
        kind: Kind::Control {
            off: "raise `audit.retention_days` to 30 or more",
        },
        probe: retention_30_days,
        note: "one JSON object per log line; records carry `retention_until` and a per-VM hash chain; keeping the files is the log pipeline's job",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "IR-1",
        title: "documented incident response plan",
        kind: Kind::Outside,
        probe: nothing,
        note: "documentation duty; audit records and alerts supply the evidence",
    },
    // docs/psf-coverage.md: partial, so not yet: a config push to monitor mode exists, the kill switch does not.
    Competency {
        id: "IR-2",
        title: "disable, degrade or isolate within 15 minutes",
        kind: Kind::Control {
            off: "add `incident.admin` (token and allowed sources) for the runtime switch; `mode` switches by config push",
        },
        probe: kill_switch,
        note: "modes enforce, monitor, degrade, isolate, off per policy and route; switched at runtime on every worker's next request through the admin path",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "IR-3",
        title: "post-incident reviews",
        kind: Kind::Outside,
        probe: nothing,
        note: "process duty; `psf-guard audit verify` vouches for the audit trail",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "IR-4",
        title: "approved customer incident messages",
        kind: Kind::Control {
            off: "add `incident.templates.degrade` and `.isolate` with `approved_by` and `approved_on`",
        },
        probe: templates,
        note: "degrade and isolate serve the policy's approved messages in the standard error shape",
    },
    // docs/psf-coverage.md: not yet.
    Competency {
        id: "IR-5",
        title: "rehearsed drills",
        kind: Kind::Outside,
        probe: nothing,
        note: "rehearsing is a process duty; `make drill` runs one against a real Envoy and prints the time to isolate",
    },
    // `owner` is required and must name a person, so every accepted policy enforces it.
    Competency {
        id: "EA-1",
        title: "named accountable owner",
        kind: Kind::Always,
        probe: owner,
        note: "required; must name a person, not a team, role or vendor; in every audit record",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "EA-2",
        title: "bias and fairness evaluation",
        kind: Kind::Metadata {
            fields: &["accountability.bias_evaluations"],
        },
        probe: nothing,
        note: "`psf-guard eval --report` can supply evidence",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "EA-3",
        title: "regulatory compliance tracked",
        kind: Kind::Metadata {
            fields: &["accountability.regulatory_obligations"],
        },
        probe: nothing,
        note: "documentation duty",
    },
    // docs/psf-coverage.md: partial; the policy's own metadata is what records carry today.
    Competency {
        id: "EA-4",
        title: "accountability data on request",
        kind: Kind::Control {
            off: "add `accountability` (its `endpoint` is on by default) so the filter serves /.well-known/ai-accountability",
        },
        probe: accountability,
        note: "GET /.well-known/ai-accountability answers the policy's owner, accountability chain and evidence; every audit record names the policy, its digest and owner",
    },
    // docs/psf-coverage.md: outside.
    Competency {
        id: "EA-5",
        title: "ethical review",
        kind: Kind::Metadata {
            fields: &["accountability.ethical_reviews"],
        },
        probe: nothing,
        note: "process duty",
    },
];

pub(super) fn decide(policy: &Policy, competency: &Competency) -> (Status, Found, String) {
    let found = (competency.probe)(policy);
    let note = competency.note.to_string();
    match &competency.kind {
        Kind::Control { off } if !found.on => (Status::SupportedOff, found, (*off).into()),
        Kind::Control { .. } | Kind::Always => (Status::Enforced, found, note),
        Kind::Metadata { fields } => {
            let paths: Vec<String> = fields
                .iter()
                .filter(|field| metadata(policy, field).is_some())
                .map(|field| (*field).to_string())
                .collect();
            if paths.is_empty() {
                // Outside a proxy's reach, and the policy points to no evidence yet.
                let off = format!("{note}; record the evidence in `{}`", fields.join("` or `"));
                return (Status::Organisational, Found::default(), off);
            }
            (Status::Documented, Found::evidence(paths), note)
        }
        Kind::Outside => (Status::Organisational, found, note),
    }
}
