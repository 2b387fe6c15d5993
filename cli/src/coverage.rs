//! `psf-guard coverage`: where a policy stands on each of the 40 competencies of the
//! Production Safety Framework (`../shared/psf/framework.md`).
//!
//! Every competency is decided by its row of [`COMPETENCIES`], from the parsed policy and
//! nothing else: no status is guessed from text at runtime. The rows follow the README's
//! "PSF coverage" table, which says what the filter supports today: a competency the filter
//! serves is a `Control` with a probe.
//!
//! The ids and short titles are compiled in, so the report never depends on the working
//! directory or on a file outside the repository. The framework file, when it is there,
//! adds each competency's full statement, and must list exactly the table's ids: a framework
//! that grew a competency fails loudly instead of being reported short.

use super::{args::Args, EXIT_INVALID};
use psf_engine::llm::ApiFormat;
use psf_engine::policy::{HiddenCharacters, Route, StateAction};
use psf_engine::{Mode, Policy};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  psf-guard coverage POLICY.json [--format md|json] [--strict] [--framework FILE]
        one row per PSF competency: enforced, supported-off, documented or
        organisational, with the policy fields that decide it
  --format      md (default): a markdown table and a tally; json: one object
  --strict      exit 1 when a competency the filter can enforce is off in POLICY
  --framework   the PSF text (default ../shared/psf/framework.md beside the repository);
                without it the compiled-in ids and titles are used

exit status: 0 reported, 1 with --strict when something is supported but off,
2 for a policy the filter refuses or bad usage
";

/// The framework's text, beside the repository like the evaluation set.
const FRAMEWORK: &str = "../shared/psf/framework.md";

/// Where a policy stands on one competency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Status {
    /// The policy turns the control on.
    Enforced,
    /// The filter supports it; this policy leaves it off.
    SupportedOff,
    /// Only policy metadata speaks to it.
    Documented,
    /// A process or documentation duty outside a proxy's reach.
    Organisational,
}

impl Status {
    const ALL: [Status; 4] = [
        Status::Enforced,
        Status::SupportedOff,
        Status::Documented,
        Status::Organisational,
    ];

    fn as_str(self) -> &'static str {
        match self {
            Status::Enforced => "enforced",
            Status::SupportedOff => "supported-off",
            Status::Documented => "documented",
            Status::Organisational => "organisational",
        }
    }
}

/// What a probe found in a policy.
#[derive(Debug, Default)]
struct Found {
    /// Whether the control is on (for [`Kind::Control`]).
    on: bool,
    /// The config paths that turn it on, or that supply evidence.
    paths: Vec<String>,
    /// Where it is on for some routes but not for these, which read the same kind of body.
    missing: Vec<String>,
}

impl Found {
    fn on(paths: Vec<String>) -> Self {
        Self {
            on: true,
            paths,
            missing: Vec::new(),
        }
    }

    fn evidence(paths: Vec<String>) -> Self {
        Self {
            on: false,
            paths,
            missing: Vec::new(),
        }
    }
}

type Probe = fn(&Policy) -> Found;

/// How a competency is decided.
enum Kind {
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
struct Competency {
    id: &'static str,
    title: &'static str,
    kind: Kind,
    probe: Probe,
    /// What the filter does for it, or why it is outside or not yet done.
    note: &'static str,
}

/// The framework's domains, by the prefix of their ids.
const DOMAINS: [(&str, &str); 8] = [
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
const COMPETENCIES: [Competency; 40] = [
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
    // README: outside.
    Competency {
        id: "DG-4",
        title: "training data provenance",
        kind: Kind::Outside,
        probe: nothing,
        note: "training-time duty; the filter never sees training data",
    },
    // README: not yet.
    Competency {
        id: "DG-5",
        title: "data residency",
        kind: Kind::Control {
            off: "add `residency` (allowed regions and each cluster's region)",
        },
        probe: residency,
        note: "traffic to a cluster outside the allowed regions, or untagged, gets 403 data_residency_violation",
    },
    // README: outside; the model allow-list is what a policy shows of the choice.
    Competency {
        id: "MS-1",
        title: "model selection documented",
        kind: Kind::Metadata {
            fields: &["accountability.model_cards"],
        },
        probe: models,
        note: "documentation duty; `limits.models` restricts the models a route serves and every audit record names the model",
    },
    // README: outside.
    Competency {
        id: "MS-2",
        title: "benchmarks reviewed before deployment",
        kind: Kind::Outside,
        probe: nothing,
        note: "documentation duty; `psf-guard eval --report` measures the filter, not the model",
    },
    // README: not yet (partly served by pinning models and by `psf-guard eval`).
    Competency {
        id: "MS-3",
        title: "regression gate on model or provider changes",
        kind: Kind::Control {
            off: "add `approved_models` (pinned versions and aliases) to the routes",
        },
        probe: approved_models,
        note: "only approved, pinned model versions reach the provider (400 model_not_approved); `psf-guard eval` can gate a change",
    },
    // README: not yet.
    Competency {
        id: "MS-4",
        title: "fallback on provider outage",
        kind: Kind::Control {
            off: "add `fallback` (degrade, or reroute to a fallback route) with its breaker to the routes",
        },
        probe: fallback,
        note: "provider failures count against a circuit breaker in shared data; the route degrades with the approved message or reroutes to its fallback while it is open",
    },
    // README: outside.
    Competency {
        id: "MS-5",
        title: "vendor terms reviewed",
        kind: Kind::Metadata {
            fields: &["accountability.vendor_agreements"],
        },
        probe: nothing,
        note: "contractual duty",
    },
    // README: not yet.
    Competency {
        id: "HO-1",
        title: "autonomy level per decision point",
        kind: Kind::Control {
            off: "set `autonomy` (advisory, supervised, autonomous) on each route",
        },
        probe: autonomy,
        note: "each route's autonomy level is in its audit records and in x-psf-autonomy",
    },
    // README: not yet.
    Competency {
        id: "HO-2",
        title: "human review of high-stakes decisions",
        kind: Kind::Control {
            off: "on a supervised route, add `review` with the tools a person must approve",
        },
        probe: review,
        note: "listed tool calls are held (202 pending_human_review) until a reviewer's x-psf-approval releases them",
    },
    // README: not yet.
    Competency {
        id: "HO-3",
        title: "users told they talk to AI",
        kind: Kind::Control {
            off: "leave `disclosure.header` on (the default) for the routes",
        },
        probe: disclosure,
        note: "model responses carry x-ai-generated: true, and x-ai-disclosure when the route sets a text",
    },
    // README: not yet.
    Competency {
        id: "HO-4",
        title: "override mechanisms",
        kind: Kind::Always,
        probe: overrides,
        note: "approval headers release held calls, modes switch at runtime or by config, rules can be excluded per route (README: overrides)",
    },
    // README: outside.
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
    // README: outside.
    Competency {
        id: "IR-1",
        title: "documented incident response plan",
        kind: Kind::Outside,
        probe: nothing,
        note: "documentation duty; audit records and alerts supply the evidence",
    },
    // README: partial, so not yet: a config push to monitor mode exists, the kill switch does not.
    Competency {
        id: "IR-2",
        title: "disable, degrade or isolate within 15 minutes",
        kind: Kind::Control {
            off: "add `incident.admin` (token and allowed sources) for the runtime switch; `mode` switches by config push",
        },
        probe: kill_switch,
        note: "modes enforce, monitor, degrade, isolate, off per policy and route; switched at runtime on every worker's next request through the admin path",
    },
    // README: outside.
    Competency {
        id: "IR-3",
        title: "post-incident reviews",
        kind: Kind::Outside,
        probe: nothing,
        note: "process duty; `psf-guard audit verify` vouches for the audit trail",
    },
    // README: not yet.
    Competency {
        id: "IR-4",
        title: "approved customer incident messages",
        kind: Kind::Control {
            off: "add `incident.templates.degrade` and `.isolate` with `approved_by` and `approved_on`",
        },
        probe: templates,
        note: "degrade and isolate serve the policy's approved messages in the standard error shape",
    },
    // README: not yet.
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
    // README: outside.
    Competency {
        id: "EA-2",
        title: "bias and fairness evaluation",
        kind: Kind::Metadata {
            fields: &["accountability.bias_evaluations"],
        },
        probe: nothing,
        note: "`psf-guard eval --report` can supply evidence",
    },
    // README: outside.
    Competency {
        id: "EA-3",
        title: "regulatory compliance tracked",
        kind: Kind::Metadata {
            fields: &["accountability.regulatory_obligations"],
        },
        probe: nothing,
        note: "documentation duty",
    },
    // README: partial; the policy's own metadata is what records carry today.
    Competency {
        id: "EA-4",
        title: "accountability data on request",
        kind: Kind::Control {
            off: "add `accountability` (its `endpoint` is on by default) so the filter serves /.well-known/ai-accountability",
        },
        probe: accountability,
        note: "GET /.well-known/ai-accountability answers the policy's owner, accountability chain and evidence; every audit record names the policy, its digest and owner",
    },
    // README: outside.
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

/// A metadata field of the policy, when set. New metadata fields are added here.
fn metadata<'p>(policy: &'p Policy, field: &str) -> Option<&'p str> {
    match field {
        "name" => Some(policy.name.as_str()),
        "owner" => Some(policy.owner.as_str()),
        "description" => policy.description.as_deref(),
        // The accountability lists: evidence recorded, with dates, in the policy.
        list => {
            let name = list.strip_prefix("accountability.")?;
            let (key, entries) = policy.accountability.document.get_key_value(name)?;
            (!entries.as_array()?.is_empty()).then_some(key.as_str())
        }
    }
}

fn nothing(_: &Policy) -> Found {
    Found::default()
}

fn route_path(route: &Route, section: &str) -> String {
    if section.is_empty() {
        format!("routes[{}]", route.id)
    } else {
        format!("routes[{}].{section}", route.id)
    }
}

/// A per-route section: on where `has` holds, missing on the routes `applies` to without it.
fn per_route(
    policy: &Policy,
    section: &str,
    applies: fn(&Route) -> bool,
    has: fn(&Route) -> bool,
) -> Found {
    let paths: Vec<String> = policy
        .routes
        .iter()
        .filter(|r| has(r))
        .map(|r| route_path(r, section))
        .collect();
    let missing = if paths.is_empty() {
        Vec::new()
    } else {
        policy
            .routes
            .iter()
            .filter(|r| applies(r) && !has(r))
            .map(|r| route_path(r, section))
            .collect()
    };
    Found {
        on: !paths.is_empty(),
        paths,
        missing,
    }
}

fn injection(policy: &Policy) -> Found {
    let mut found = per_route(policy, "injection", Route::inspects_body, |r| {
        r.injection.is_some()
    });
    if found.on {
        found.paths.extend(
            policy
                .routes
                .iter()
                .filter(|r| r.hidden_characters != HiddenCharacters::Allow)
                .map(|r| route_path(r, "sanitize.hidden_characters")),
        );
    }
    found
}

fn input_checks(policy: &Policy) -> Found {
    let mut paths: Vec<String> = policy
        .routes
        .iter()
        .filter(|r| r.inspects_body())
        .map(|r| route_path(r, "limits"))
        .collect();
    paths.extend(policy.rules.iter().filter_map(|rule| match rule.check {
        psf_engine::Check::RequestBodySize { .. } => Some(format!("rules[{}]", rule.id)),
        _ => None,
    }));
    Found {
        on: !paths.is_empty(),
        paths,
        missing: Vec::new(),
    }
}

fn audit_sampling(policy: &Policy) -> Found {
    let mut paths = vec!["audit".to_string()];
    paths.extend(quality_sampling(policy).paths);
    Found::on(paths)
}

fn quality_sampling(policy: &Policy) -> Found {
    let mut paths = Vec::new();
    if policy.audit.sample_per_million > 0 {
        paths.push("audit.sample_rate".to_string());
    }
    if policy.audit.include_text {
        paths.push("audit.include_text".to_string());
    }
    Found {
        on: !paths.is_empty(),
        paths,
        missing: Vec::new(),
    }
}

fn rate_limits(policy: &Policy) -> Found {
    let Some(rates) = &policy.rate_limits else {
        return Found::default();
    };
    let mut found = Found::on(
        rates
            .limits
            .iter()
            .map(|l| format!("rate_limits.limits[{}]", l.id))
            .collect(),
    );
    if policy.abuse.is_some() {
        found.paths.push("abuse".into());
    } else {
        found.missing.push("abuse".into());
    }
    found
}

fn is_chat(route: &Route) -> bool {
    matches!(
        route.api_format(),
        Some(ApiFormat::OpenAiChat | ApiFormat::OpenAiResponses | ApiFormat::AnthropicMessages)
    )
}

fn system_prompt(policy: &Policy) -> Found {
    per_route(policy, "system_prompt", is_chat, |r| {
        r.system_prompt.is_some()
    })
}

fn reads_responses(policy: &Policy) -> Found {
    per_route(policy, "", |_| false, Route::reads_responses)
}

fn output_schema(policy: &Policy) -> Found {
    per_route(
        policy,
        "output_schema",
        |_| false,
        |r| r.output_schema.is_some(),
    )
}

fn content_filter(policy: &Policy) -> Found {
    per_route(policy, "content_filter", Route::inspects_body, |r| {
        r.content.as_ref().is_some_and(|c| c.response)
    })
}

fn confidence(policy: &Policy) -> Found {
    per_route(policy, "confidence", |_| false, |r| r.confidence.is_some())
}

fn output_errors(policy: &Policy) -> Found {
    per_route(policy, "output_errors", Route::inspects_body, |r| {
        let e = r.output_errors;
        r.inspects_body()
            && [
                e.upstream_error,
                e.upstream_timeout,
                e.malformed_output,
                e.truncated_stream,
                e.refusal,
                e.empty_output,
                e.output_truncated,
                e.provider_filtered,
            ]
            .iter()
            .any(|action| *action != StateAction::Pass)
    })
}

fn pii(policy: &Policy) -> Found {
    per_route(policy, "pii", Route::inspects_body, |r| r.pii.is_some())
}

fn retention(_: &Policy) -> Found {
    Found::on(vec!["audit.retention_days".into()])
}

fn retention_30_days(policy: &Policy) -> Found {
    Found {
        on: policy.audit.retention_days >= 30,
        paths: vec!["audit.retention_days".into()],
        missing: Vec::new(),
    }
}

fn subjects(policy: &Policy) -> Found {
    if policy.audit.subject_header.is_none() {
        return Found::default();
    }
    Found::on(vec![
        "audit.subject_header".into(),
        "audit.subject_key".into(),
    ])
}

fn abuse(policy: &Policy) -> Found {
    let Some(abuse) = &policy.abuse else {
        return Found::default();
    };
    let mut paths = vec!["abuse".to_string()];
    if abuse.webhook.is_some() {
        paths.push("abuse.webhook".into());
    }
    Found::on(paths)
}

fn models(policy: &Policy) -> Found {
    Found::evidence(
        policy
            .routes
            .iter()
            .filter(|r| !r.limits.models.is_empty())
            .map(|r| route_path(r, "limits.models"))
            .collect(),
    )
}

fn fallback(policy: &Policy) -> Found {
    per_route(policy, "fallback", Route::inspects_body, |r| {
        r.fallback.is_some()
    })
}

fn residency(policy: &Policy) -> Found {
    match &policy.residency {
        Some(_) => Found::on(vec!["residency".into()]),
        None => Found::default(),
    }
}

fn approved_models(policy: &Policy) -> Found {
    per_route(policy, "approved_models", Route::inspects_body, |r| {
        r.approved_models.is_some()
    })
}

fn autonomy(policy: &Policy) -> Found {
    per_route(policy, "autonomy", |_| true, |r| r.autonomy.is_some())
}

fn review(policy: &Policy) -> Found {
    per_route(
        policy,
        "review",
        |r| r.review.is_some(),
        |r| r.review.is_some(),
    )
}

fn disclosure(policy: &Policy) -> Found {
    per_route(policy, "disclosure", |_| true, |r| r.disclosure.header)
}

fn overrides(policy: &Policy) -> Found {
    let mut paths = vec!["mode".to_string()];
    if policy.incident.admin.is_some() {
        paths.push("incident.admin".into());
    }
    paths.extend(
        policy
            .routes
            .iter()
            .filter(|r| r.review.is_some())
            .map(|r| route_path(r, "review")),
    );
    Found::on(paths)
}

fn accountability(policy: &Policy) -> Found {
    if !policy.accountability.endpoint {
        return Found::default();
    }
    let mut paths = vec!["accountability.endpoint".to_string()];
    paths.extend(
        policy
            .accountability
            .document
            .keys()
            .map(|k| format!("accountability.{k}")),
    );
    Found::on(paths)
}

fn kill_switch(policy: &Policy) -> Found {
    match &policy.incident.admin {
        Some(_) => Found::on(vec!["incident.admin".into(), "mode".into()]),
        None => Found::default(),
    }
}

/// Both messages, each with its approval.
fn templates(policy: &Policy) -> Found {
    let incident = &policy.incident;
    let mut found = Found::default();
    for (name, template) in [
        ("degrade", &incident.degrade),
        ("isolate", &incident.isolate),
    ] {
        let path = format!("incident.templates.{name}");
        match template {
            Some(t) if t.approved_by.is_some() && t.approved_on.is_some() => found.paths.push(path),
            _ => found.missing.push(path),
        }
    }
    if found.missing.is_empty() {
        Found::on(found.paths)
    } else {
        Found {
            missing: found.missing,
            ..Found::default()
        }
    }
}

fn owner(_: &Policy) -> Found {
    Found::on(vec!["owner".into()])
}

/// One line of the report.
#[derive(Debug, Serialize)]
struct Entry {
    id: &'static str,
    title: &'static str,
    domain: &'static str,
    status: Status,
    paths: Vec<String>,
    /// Paths where the control is on elsewhere but not here.
    missing: Vec<String>,
    note: String,
    /// The framework's full statement, when its file was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    statement: Option<String>,
}

fn decide(policy: &Policy, competency: &Competency) -> (Status, Found, String) {
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

fn domain(id: &str) -> &'static str {
    let prefix = id.split('-').next().unwrap_or(id);
    DOMAINS
        .iter()
        .find(|(p, _)| *p == prefix)
        .map_or("", |(_, name)| name)
}

/// The full statements by id, read from the framework's `- **IG-1** …` lines.
fn read_framework(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("- **"))
        .filter_map(|rest| rest.split_once("**"))
        .map(|(id, statement)| (id.trim().to_string(), statement.trim().to_string()))
        .collect()
}

/// The framework file's statements and what to call it in the report, or why it cannot be used.
fn framework(args: &Args) -> Result<(String, BTreeMap<String, String>), String> {
    let (path, explicit) = match args.value("framework") {
        Some(path) => (PathBuf::from(path), true),
        None => (psf_host::repo_root().join(FRAMEWORK), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) if !explicit => return Ok(("embedded".into(), BTreeMap::new())),
        Err(error) => return Err(format!("{}: cannot read: {error}", path.display())),
    };
    let statements = read_framework(&text);
    let known: Vec<&str> = COMPETENCIES.iter().map(|c| c.id).collect();
    let unknown: Vec<&str> = statements
        .keys()
        .map(String::as_str)
        .filter(|id| !known.contains(id))
        .collect();
    let absent: Vec<&str> = known
        .iter()
        .copied()
        .filter(|id| !statements.contains_key(*id))
        .collect();
    if !unknown.is_empty() || !absent.is_empty() {
        return Err(format!(
            "{}: does not match the coverage table (in the file only: [{}]; in the table only: [{}])",
            path.display(),
            unknown.join(", "),
            absent.join(", ")
        ));
    }
    let shown = path.canonicalize().unwrap_or(path);
    Ok((shown.display().to_string(), statements))
}

/// `--strict` as `--strict=`, which [`Args`] reads as a switch: args.rs's `SWITCHES` does
/// not list it (listing it there makes this unnecessary).
pub fn spell_switches(argv: &[String]) -> Vec<String> {
    argv.iter()
        .map(|arg| match arg.as_str() {
            "--strict" => "--strict=".to_string(),
            _ => arg.clone(),
        })
        .collect()
}

fn usage(message: &str) -> ExitCode {
    eprintln!("psf-guard coverage: {message}\n\n{USAGE}");
    ExitCode::from(EXIT_INVALID)
}

pub fn coverage(args: &Args) -> anyhow::Result<ExitCode> {
    if let Err(error) = args.only(&["format", "strict", "framework"]) {
        return Ok(usage(&error.to_string()));
    }
    let [file] = args.positional.as_slice() else {
        return Ok(usage("name one policy file"));
    };
    let json = match args.value("format").unwrap_or("md") {
        "md" => false,
        "json" => true,
        other => {
            return Ok(usage(&format!(
                "unknown format {other:?}, expected md or json"
            )))
        }
    };
    let (framework_name, statements) = match framework(args) {
        Ok(framework) => framework,
        Err(message) => return Ok(usage(&message)),
    };
    let document = match std::fs::read(file) {
        Ok(document) => document,
        Err(error) => {
            eprintln!("{file}: cannot read: {error}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let policy = match Policy::from_json(&document) {
        Ok(policy) => policy,
        Err(refused) => {
            let errors = refused.errors();
            eprintln!("{file}: invalid policy ({} error(s)):", errors.len());
            for error in errors {
                eprintln!("  {error}");
            }
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let entries: Vec<Entry> = COMPETENCIES
        .iter()
        .map(|competency| {
            let (status, found, note) = decide(&policy, competency);
            Entry {
                id: competency.id,
                title: competency.title,
                domain: domain(competency.id),
                status,
                paths: found.paths,
                missing: found.missing,
                note,
                statement: statements.get(competency.id).cloned(),
            }
        })
        .collect();
    let mut tally: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for entry in &entries {
        *tally.entry(entry.status).or_default() += 1;
    }
    if json {
        print_json(&policy, &framework_name, &entries, &tally)?;
    } else {
        print_markdown(&policy, &entries, &tally);
    }
    let off: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.status == Status::SupportedOff)
        .collect();
    if args.switch("strict") && !off.is_empty() {
        eprintln!(
            "psf-guard coverage: {file}: {} competenc{} the filter supports {} off:",
            off.len(),
            if off.len() == 1 { "y" } else { "ies" },
            if off.len() == 1 { "is" } else { "are" }
        );
        for entry in off {
            eprintln!("  {} {}: {}", entry.id, entry.title, entry.note);
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--format json` report, fields in reading order.
#[derive(Serialize)]
struct Report<'a> {
    policy: &'a str,
    owner: &'a str,
    digest: &'a str,
    mode: &'static str,
    framework: &'a str,
    competencies: &'a [Entry],
    tally: &'a BTreeMap<Status, usize>,
}

fn print_json(
    policy: &Policy,
    framework: &str,
    entries: &[Entry],
    tally: &BTreeMap<Status, usize>,
) -> anyhow::Result<()> {
    let report = Report {
        policy: &policy.name,
        owner: &policy.owner,
        digest: &policy.digest,
        mode: policy.mode.as_str(),
        framework,
        competencies: entries,
        tally,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn print_markdown(policy: &Policy, entries: &[Entry], tally: &BTreeMap<Status, usize>) {
    println!(
        "# PSF coverage of policy {:?} ({}, owner {})\n",
        policy.name, policy.digest, policy.owner
    );
    println!("| id | competency | status | where / what |");
    println!("|---|---|---|---|");
    for entry in entries {
        let mut what = String::new();
        if !entry.paths.is_empty() {
            what += &grouped(&entry.paths);
            what += ": ";
        }
        what += &entry.note;
        if !entry.missing.is_empty() {
            what += &format!("; missing: {}", grouped(&entry.missing));
        }
        println!(
            "| {} | {} | {} | {} |",
            entry.id,
            cell(entry.title),
            entry.status.as_str(),
            cell(&what)
        );
    }
    let counts: Vec<String> = tally
        .iter()
        .map(|(status, n)| format!("{n} {}", status.as_str()))
        .collect();
    let mut line = format!("\ntally: {}", counts.join(", "));
    if policy.mode != Mode::Enforce {
        line += &format!(" (mode {}: findings are not blocked)", policy.mode.as_str());
    }
    println!("{line}");
}

/// Paths as code spans, with `routes[a].x, routes[b].x` written `routes[a, b].x`.
fn grouped(paths: &[String]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    let mut plain: Vec<&str> = Vec::new();
    for path in paths {
        let split = path
            .strip_prefix("routes[")
            .and_then(|rest| rest.split_once(']'));
        match split {
            Some((id, rest)) => match groups.iter_mut().find(|(r, _)| r == rest) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((rest.to_string(), vec![id])),
            },
            None => plain.push(path),
        }
    }
    groups
        .iter()
        .map(|(rest, ids)| format!("`routes[{}]{rest}`", ids.join(", ")))
        .chain(plain.iter().map(|p| format!("`{p}`")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table cell: a `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
