//! The policy model: what an operator writes in JSON, validated and compiled once in
//! `on_configure` so per-request work never re-reads configuration.

mod accountability;
mod audit;
mod confidence;
mod content;
mod error;
mod fallback;
mod guards;
mod incident;
mod links;
mod moderation;
mod output_errors;
mod output_schema;
mod oversight;
mod parse;
mod pii;
mod rate_limits;
mod reader;
mod residency;
mod review;
mod route;
mod scope;
mod size;
pub(crate) mod user_regex;

use crate::audit::settings::AuditSettings;
use crate::controls::ratelimit::settings::{Abuse, KeyPart, RateLimits};
pub use accountability::{Accountability, ENDPOINT as ACCOUNTABILITY_ENDPOINT};
pub use confidence::{ConfidenceRule, LowConfidence};
pub use error::{PolicyError, PolicyErrorKind, PolicyErrors};
pub use fallback::{Fallback, FallbackAction};
pub use guards::{ClientSystem, HiddenCharacters, SystemPrompt};
pub use incident::{Admin, Incident, Template};
pub use output_errors::{OutputErrors, StateAction};
pub use oversight::{ApprovedModels, Autonomy, Disclosure};
pub use residency::Residency;
pub use review::{Review, ReviewQueue};
pub use route::{
    BodyFormat, EncodedBodies, Limits, MaxTokens, OverCap, PathMatch, Route, UnknownFields,
};

/// The only policy format version this filter reads.
pub const POLICY_VERSION: u64 = 1;

/// The header that carries the codes of findings that flagged a request without blocking
/// it, to the upstream and to the client.
pub const FLAGS_HEADER: &str = "x-psf-flags";

/// A validated policy (PSF EA-1: every policy names an accountable owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    /// The named person accountable for this policy.
    pub owner: String,
    pub description: Option<String>,
    pub mode: Mode,
    pub rules: Vec<Rule>,
    /// Per-endpoint parsing and checks; the first route whose path matches applies.
    pub routes: Vec<Route>,
    /// Rate and token limits per key (PSF IG-4); `None` means none.
    pub rate_limits: Option<RateLimits>,
    /// Strikes and suspension per key (PSF OM-3); `None` means off.
    pub abuse: Option<Abuse>,
    /// How audit records are kept, sampled and shipped.
    pub audit: AuditSettings,
    /// SHA-256 of the policy document (12 hex digits): which exact policy decided.
    pub digest: String,
    /// The runtime kill switch and the approved incident messages (PSF IR-2, IR-4).
    pub incident: Incident,
    /// Who answers for the deployment, and the evidence (PSF EA-1, EA-4).
    pub accountability: Accountability,
    /// Where AI traffic may go (PSF DG-5); `None` means unchecked.
    pub residency: Option<Residency>,
    /// When the host loaded this policy (Unix ms): a runtime mode switch made earlier is
    /// superseded by it, one made later supersedes it.
    pub loaded_ms: u64,
}

/// Which route, if any, applies to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteMatch<'p> {
    Matched(&'p Route),
    /// A route serves this path, but not with this method.
    MethodNotAllowed(&'p Route),
    Unrouted,
}

/// How the filter treats traffic (PSF IR-2): the policy's, a route's, or one switched at
/// runtime through the admin path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Findings with action `block` reject the request.
    #[default]
    Enforce,
    /// Decide and record, never block: for trying a policy on live traffic.
    Monitor,
    /// Serve the pre-approved incident message instead of calling the model.
    Degrade,
    /// 503 `service_isolated` for all AI traffic.
    Isolate,
    /// Pass everything through uninspected, recorded.
    Off,
}

/// One rule: what it checks and what happens when the check fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Stable identifier, reported in error bodies and decision records.
    pub id: String,
    pub action: Action,
    pub check: Check,
}

/// What a failed check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Reject with the rule's error code (unless the policy is in monitor mode).
    #[default]
    Block,
    /// Record the finding and let the request through.
    Flag,
}

/// The checks a rule can make.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// The request body may not exceed `max_bytes` (PSF IG-2). Answered with 413.
    RequestBodySize { max_bytes: u64 },
}

impl Policy {
    /// Parses and validates a policy document, reporting every error with its path.
    pub fn from_json(document: &[u8]) -> Result<Self, PolicyErrors> {
        parse::parse_policy(document)
    }

    /// The first route that serves `path` with `method`.
    pub fn route_for(&self, method: &str, path: &str) -> RouteMatch<'_> {
        let mut by_path = self.routes.iter().filter(|r| r.matches(path)).peekable();
        let first = by_path.peek().copied();
        match by_path.find(|r| r.allows_method(method)) {
            Some(route) => RouteMatch::Matched(route),
            None => first.map_or(RouteMatch::Unrouted, RouteMatch::MethodNotAllowed),
        }
    }

    /// The model as a metric label: a name the policy lists (in `models` or
    /// `approved_models`), the entry a prefix pattern (`gpt-4o*`) matched, or `other`.
    /// Client-chosen names would otherwise make a new, permanent stat each (PSF OM-1).
    pub fn model_label<'a>(&'a self, model: &'a str) -> &'a str {
        let listed = self
            .routes
            .iter()
            .flat_map(|r| &r.limits.models)
            .chain(&self.audit.model_labels);
        for entry in listed {
            match entry.strip_suffix('*') {
                Some(prefix) if model.starts_with(prefix) => return entry,
                None if entry == model => return model,
                _ => {}
            }
        }
        let approved = self
            .routes
            .iter()
            .filter_map(|r| r.approved_models.as_ref());
        if approved.into_iter().any(|a| a.resolve(model).is_some()) {
            return model;
        }
        "other"
    }

    /// Whether some route asks for a random canary, which the host must draw.
    pub fn needs_random_canaries(&self) -> bool {
        self.routes
            .iter()
            .any(|r| r.system_prompt.as_ref().is_some_and(|s| s.random_canary))
    }

    /// Draws the canaries routes asked for with `"canary": true` from `seed` (random bytes
    /// from the host, at least 8): `psf-canary-` and 16 hex digits, different per route.
    pub fn with_random_canaries(mut self, seed: &[u8]) -> Self {
        let mut state = seed.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
        });
        for route in &mut self.routes {
            let Some(system) = route.system_prompt.as_mut().filter(|s| s.random_canary) else {
                continue;
            };
            // splitmix64: distinct, unpredictable-from-outside values from one random seed.
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            system.canary = Some(format!("psf-canary-{:016x}", z ^ (z >> 31)));
        }
        self
    }

    /// Every key part of the limits and the abuse section.
    fn key_parts(&self) -> impl Iterator<Item = &KeyPart> {
        let limits = self.rate_limits.iter().flat_map(|r| &r.limits);
        let abuse = self.abuse.iter().flat_map(|a| &a.key);
        limits.flat_map(|l| &l.key).chain(abuse)
    }

    /// The request headers limit keys and the audit subject read; the host passes their
    /// values in ([`crate::Exchange::set_client`]).
    pub fn client_headers(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.key_parts().flat_map(KeyPart::headers).collect();
        names.extend(self.audit.subject_header.as_deref());
        if self.routes.iter().any(|r| r.review.is_some()) {
            names.push("x-psf-approval");
        }
        if self.incident.admin.is_some() {
            names.push("authorization");
        }
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Whether some limit key is the peer address, which the host then reads.
    /// Request headers only the filter may set, removed from what the client sent before
    /// anything reads them: `x-psf-flags` (upstreams may trust it), each fallback route's
    /// header (only the filter reroutes) and the header that exports limit state.
    pub fn reserved_request_headers(&self) -> Vec<&str> {
        let mut names = vec![FLAGS_HEADER];
        names.extend(
            self.routes
                .iter()
                .filter_map(|r| r.fallback.as_ref())
                .map(|f| f.header.as_str()),
        );
        if !self.client_headers().is_empty() || self.needs_client_address() {
            names.extend(
                self.rate_limits
                    .as_ref()
                    .and_then(|r| r.export_header.as_deref()),
            );
        }
        names
    }

    pub fn needs_client_address(&self) -> bool {
        self.incident.admin.is_some()
            || self
                .key_parts()
                .any(|p| matches!(p, KeyPart::ClientIp { trusted_hops: 0 }))
    }

    /// The shared table that limit and abuse state live in, when the policy has either.
    pub fn limit_table(&self) -> Option<&crate::controls::ratelimit::table::Table> {
        self.rate_limits
            .as_ref()
            .map(|r| &r.table)
            .or(self.abuse.as_ref().map(|a| &a.table))
    }

    /// The accountability document served at `/.well-known/ai-accountability`.
    pub fn accountability_document(&self) -> serde_json::Value {
        serde_json::json!({
            "policy": {"name": self.name, "digest": self.digest, "version": POLICY_VERSION,
                       "description": self.description},
            "owner": self.owner,
            "accountability": self.accountability.document,
            "controls": {
                "mode": self.mode.as_str(),
                "routes": self.routes.iter().map(|r| &r.id).collect::<Vec<_>>(),
                "rate_limits": self.rate_limits.is_some(),
                "abuse_detection": self.abuse.is_some(),
                "audit_retention_days": self.audit.retention_days,
                "kill_switch": self.incident.admin.is_some(),
            },
        })
    }

    /// A one-line description for logs and `psf-guard check`.
    pub fn summary(&self) -> String {
        let mode = self.mode.as_str();
        let rules = self.rules.len();
        let plural = if rules == 1 { "" } else { "s" };
        let routes = self.routes.len();
        let route_plural = if routes == 1 { "" } else { "s" };
        let mut summary = format!(
            "policy {:?} (version {POLICY_VERSION}, owner {:?}): mode {mode}, {rules} rule{plural}, {routes} route{route_plural}",
            self.name, self.owner
        );
        if let Some(rates) = &self.rate_limits {
            let limits = rates.limits.len();
            let plural = if limits == 1 { "" } else { "s" };
            summary += &format!(
                ", {limits} rate limit{plural} (up to {} keys)",
                rates.max_keys
            );
        }
        if self.abuse.is_some() {
            summary += ", abuse suspension on";
        }
        summary
    }
}

impl Mode {
    pub const ALL: [(&'static str, Mode); 5] = [
        ("enforce", Mode::Enforce),
        ("monitor", Mode::Monitor),
        ("degrade", Mode::Degrade),
        ("isolate", Mode::Isolate),
        ("off", Mode::Off),
    ];

    pub fn as_str(self) -> &'static str {
        Mode::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("enforce", |(name, _)| name)
    }

    pub fn parse(name: &str) -> Option<Mode> {
        Mode::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }
}
