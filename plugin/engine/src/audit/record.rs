//! The audit record: one JSON object per request saying what the filter decided and why
//! (PSF IG-3, EA-1, EA-4, OM-5). It carries no request or response content, only hashes,
//! counts and, for sampled requests, text redacted by construction (see `audit::redact`).

use crate::audit::time::rfc3339;
use crate::code::ErrorCode;
use crate::detect::pii::masker::EntityTally;
use crate::policy::{Action, Mode, Policy, POLICY_VERSION};
use crate::response::confidence::Confidence;
use serde::Serialize;

/// One rule that fired on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub code: ErrorCode,
    pub action: FindingAction,
    /// False when the policy is in monitor mode or the rule only flags.
    pub enforced: bool,
}

/// What a finding asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingAction {
    Block,
    Flag,
    /// A value in the forwarded body was lowered to the policy's cap.
    Clamp,
    /// Hidden characters were removed from the forwarded body.
    Strip,
    /// Client system messages were turned into user messages.
    Demote,
    /// PII or secrets were masked (redacted, replaced by placeholders or pseudonyms).
    Mask,
    /// Recorded only.
    Log,
}

impl FindingAction {
    /// Whether the action changes the request or the answer: a flag or a log never does,
    /// so neither is ever enforced.
    pub fn changes(self) -> bool {
        !matches!(self, FindingAction::Flag | FindingAction::Log)
    }
}

impl Finding {
    pub fn new(
        rule: impl Into<String>,
        code: ErrorCode,
        action: FindingAction,
        enforced: bool,
    ) -> Self {
        Self {
            rule: rule.into(),
            code,
            action,
            enforced,
        }
    }
}

impl From<Action> for FindingAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Block => FindingAction::Block,
            Action::Flag => FindingAction::Flag,
        }
    }
}

impl FindingAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FindingAction::Block => "block",
            FindingAction::Flag => "flag",
            FindingAction::Clamp => "clamp",
            FindingAction::Strip => "strip",
            FindingAction::Demote => "demote",
            FindingAction::Mask => "mask",
            FindingAction::Log => "log",
        }
    }
}

/// What happened to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Decision {
    #[default]
    Allow,
    Block,
    Modify,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Block => "block",
            Decision::Modify => "modify",
        }
    }
}

/// Everything the record needs, gathered while the exchange runs.
#[derive(Debug, Clone, Default)]
pub struct DecisionRecord {
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// The id of the policy route that applied.
    pub route: Option<String>,
    pub decision: Decision,
    pub status: Option<u16>,
    /// Why the host answered as it did, when it answered other than the filter decided
    /// (Envoy's response code details: `response_payload_too_large`, an upstream reset).
    pub status_detail: Option<String>,
    pub findings: Vec<Finding>,
    pub request_bytes: u64,
    /// The injection rule-set version, when detection ran.
    pub ruleset: Option<&'static str>,
    /// The anomaly score of a detected injection.
    pub injection_score: Option<u32>,
    /// The learned scores of the request's text (PSF IG-1), fired or not.
    pub learned: Vec<crate::detect::learned::Verdict>,
    /// PII and secrets found, by type and direction: counts only, never values.
    pub entities: Vec<EntityTally>,
    /// The answer's token log-probabilities, when the provider sent them (PSF OV-4).
    pub confidence: Option<Confidence>,
    /// Tokens the request used, for limits and accounting.
    pub tokens: Option<Tokens>,
    /// When the request arrived (Unix ms, the host's clock).
    pub started_ms: u64,
    /// The model the request named.
    pub model: Option<String>,
    /// HMAC of the data subject named by the policy's `subject_header`.
    pub subject: Option<String>,
    /// SHA-256 of the request body as the client sent it, and of the answer as the model
    /// sent it.
    pub prompt_sha256: Option<String>,
    pub response_sha256: Option<String>,
    pub latency: Latency,
    /// Picked for quality review (PSF OM-2): the record then carries the redacted texts.
    pub sample: bool,
    pub redacted: Option<Redacted>,
    /// The mode the request ran under.
    pub mode: Mode,
    /// The route's autonomy level (PSF HO-1).
    pub autonomy: Option<&'static str>,
    /// The fallback this request took (`degrade` or `reroute`, PSF MS-4).
    pub fallback: Option<&'static str>,
    /// This request's failure opened its route's circuit breaker.
    pub breaker_opened: bool,
    /// A mode switch this request made through the admin path (PSF IR-2).
    pub mode_switch: Option<ModeSwitch>,
    /// The hashed key of the first rate limit that applied (never the key itself).
    pub limit_key: Option<String>,
}

/// Where the time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// The filter's own processing of the request and of the response, in µs.
    pub filter_request_us: u64,
    pub filter_response_us: u64,
    /// From the request leaving the filter to the response headers.
    pub upstream_ms: Option<u64>,
    /// From the request leaving the filter to the first byte of the answer's body.
    pub first_byte_ms: Option<u64>,
    /// From the request's arrival to the end of the answer (or of the stream).
    pub total_ms: Option<u64>,
}

/// A runtime mode switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModeSwitch {
    /// The new mode, or `policy` when the switch was cleared.
    pub mode: String,
    /// The route switched, `None` for all.
    pub route: Option<String>,
    pub previous: Option<String>,
    pub reason: String,
}

/// The prompt and the answer with every entity replaced by its type.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Redacted {
    pub prompt: String,
    pub response: String,
}

/// Tokens one request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    /// True when the provider reported both counts; false when some are estimates.
    pub reported: bool,
}

impl DecisionRecord {
    /// The record as one line of JSON. Serialised straight from borrowed fields: this runs
    /// for every request, and building a `serde_json::Value` first costs several times more.
    pub fn to_json(&self, policy: &Policy) -> String {
        let mut codes: Vec<&str> = self.findings.iter().map(|f| f.code.as_str()).collect();
        codes.dedup();
        let retention_ms = policy.audit.retention_days * 86_400_000;
        let view = RecordView {
            kind: "psf.audit",
            timestamp: rfc3339(self.started_ms),
            request_id: &self.request_id,
            policy: PolicyView {
                name: &policy.name,
                version: POLICY_VERSION,
                digest: &policy.digest,
                owner: &policy.owner,
            },
            mode: self.mode.as_str(),
            method: &self.method,
            path: &self.path,
            route: self.route.as_deref(),
            model: self.model.as_deref(),
            key: self.limit_key.as_deref(),
            subject: self.subject.as_deref(),
            decision: self.decision.as_str(),
            status: self.status,
            status_detail: self.status_detail.as_deref(),
            codes,
            rules: self.findings.iter().map(|f| f.rule.as_str()).collect(),
            findings: self.findings.iter().map(FindingView::from).collect(),
            request_bytes: self.request_bytes,
            ruleset: self.ruleset,
            injection_score: self.injection_score,
            learned: self.learned.iter().map(LearnedView::from).collect(),
            entities: self.entities.iter().map(EntityView::from).collect(),
            confidence: self.confidence.map(|c| ConfidenceView {
                mean_logprob: c.mean,
                min_logprob: c.min,
                tokens: c.tokens,
            }),
            tokens: self.tokens.map(|t| TokensView {
                prompt: t.prompt,
                completion: t.completion,
                source: if t.reported { "usage" } else { "estimate" },
            }),
            latency_ms: LatencyView {
                filter_request: self.latency.filter_request_us as f64 / 1000.0,
                filter_response: self.latency.filter_response_us as f64 / 1000.0,
                upstream: self.latency.upstream_ms,
                first_byte: self.latency.first_byte_ms,
                total: self.latency.total_ms,
            },
            autonomy: self.autonomy,
            prompt_sha256: self.prompt_sha256.as_deref(),
            response_sha256: self.response_sha256.as_deref(),
            retention_until: rfc3339(self.started_ms + retention_ms),
            sample: self.sample,
            redacted: self.redacted.as_ref(),
            mode_switch: self.mode_switch.as_ref(),
            fallback: self.fallback,
            breaker_opened: self.breaker_opened.then_some(true),
        };
        // Serialising plain strings and numbers cannot fail.
        serde_json::to_string(&view).unwrap_or_default()
    }
}

#[derive(Serialize)]
struct RecordView<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    request_id: &'a str,
    policy: PolicyView<'a>,
    mode: &'static str,
    method: &'a str,
    path: &'a str,
    route: Option<&'a str>,
    model: Option<&'a str>,
    /// The hashed key of the first rate limit that applied.
    key: Option<&'a str>,
    subject: Option<&'a str>,
    decision: &'static str,
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_detail: Option<&'a str>,
    codes: Vec<&'static str>,
    rules: Vec<&'a str>,
    findings: Vec<FindingView<'a>>,
    request_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ruleset: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    injection_score: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    learned: Vec<LearnedView>,
    entities: Vec<EntityView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidence: Option<ConfidenceView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tokens: Option<TokensView>,
    latency_ms: LatencyView,
    /// The route's autonomy level (PSF HO-1), when it declares one.
    autonomy: Option<&'a str>,
    prompt_sha256: Option<&'a str>,
    response_sha256: Option<&'a str>,
    retention_until: String,
    sample: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    redacted: Option<&'a Redacted>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode_switch: Option<&'a ModeSwitch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    breaker_opened: Option<bool>,
}

/// A learned score as recorded: the scorer, its rule id, the score and threshold rounded
/// to three places, and, when it fired, the buckets of its strongest features (see
/// `models/weights/<scorer>.features.tsv`); never the text.
#[derive(Serialize)]
struct LearnedView {
    scorer: &'static str,
    rule: &'static str,
    score: f64,
    threshold: f64,
    fired: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    features: Vec<u32>,
}

impl From<&crate::detect::learned::Verdict> for LearnedView {
    fn from(verdict: &crate::detect::learned::Verdict) -> Self {
        let round = |x: f32| (f64::from(x) * 1000.0).round() / 1000.0;
        Self {
            scorer: verdict.scorer.name(),
            rule: verdict.scorer.rule_id(),
            score: round(verdict.score),
            threshold: round(verdict.threshold),
            fired: verdict.fired(),
            features: verdict.features.clone(),
        }
    }
}

#[derive(Serialize)]
struct LatencyView {
    filter_request: f64,
    filter_response: f64,
    upstream: Option<u64>,
    first_byte: Option<u64>,
    total: Option<u64>,
}

#[derive(Serialize)]
struct TokensView {
    prompt: u64,
    completion: u64,
    source: &'static str,
}

#[derive(Serialize)]
struct ConfidenceView {
    mean_logprob: f64,
    min_logprob: f64,
    tokens: usize,
}

#[derive(Serialize)]
struct EntityView<'a> {
    #[serde(rename = "type")]
    type_name: &'a str,
    class: &'static str,
    sensitivity: &'static str,
    direction: &'static str,
    action: &'static str,
    count: u32,
}

impl<'a> From<&'a EntityTally> for EntityView<'a> {
    fn from(tally: &'a EntityTally) -> Self {
        Self {
            type_name: &tally.type_name,
            class: tally.class,
            sensitivity: tally.sensitivity,
            direction: tally.direction.as_str(),
            action: tally.action.as_str(),
            count: tally.count,
        }
    }
}

#[derive(Serialize)]
struct PolicyView<'a> {
    name: &'a str,
    version: u64,
    digest: &'a str,
    owner: &'a str,
}

#[derive(Serialize)]
struct FindingView<'a> {
    rule: &'a str,
    code: &'static str,
    action: &'static str,
    enforced: bool,
}

impl<'a> From<&'a Finding> for FindingView<'a> {
    fn from(finding: &'a Finding) -> Self {
        Self {
            rule: &finding.rule,
            code: finding.code.as_str(),
            action: finding.action.as_str(),
            enforced: finding.enforced,
        }
    }
}
