//! What a policy's `rate_limits` and `abuse` sections say, validated (PSF IG-4, OM-3).

use super::table::Table;

/// Rate and token limits, with how they are reported and stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub limits: Vec<Limit>,
    /// Put `x-ratelimit-*` headers on admitted responses too, not only on 429s.
    pub response_headers: bool,
    /// Ask OpenAI streams for their usage chunk (`stream_options.include_usage`), so the
    /// tokens a stream used can be reconciled; the chunk is kept from the client.
    pub stream_usage: bool,
    /// The completion tokens reserved for a request that names no `max_tokens`.
    pub default_max_tokens: u64,
    /// How many keys the shared table holds before it evicts the least recently used.
    pub max_keys: u64,
    /// What happens when the shared counters stay contended past the retry bound.
    pub on_contention: Contention,
    /// A request header that carries the hashed key of the first limit that applies, for
    /// Envoy's global rate-limit filter (see docs/fleet-rate-limits.md).
    pub export_header: Option<String>,
    /// The HMAC key under which key material is hashed; hashes, never raw keys, are kept.
    pub hash_secret: String,
    /// The shared table sized for `max_keys`.
    pub table: Table,
}

/// One limit: a key and what each key may use per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub id: String,
    pub key: Vec<KeyPart>,
    /// Route ids the limit applies to; empty means every request.
    pub routes: Vec<String>,
    pub window_ms: u64,
    pub requests: Option<u64>,
    pub prompt_tokens: Option<u64>,
    pub completion_tokens: Option<u64>,
    pub total_tokens: Option<u64>,
    pub concurrent: Option<u64>,
    /// What happens when a request's `max_tokens` does not fit the remaining budget.
    pub over_budget: OverBudget,
    /// What happens when a request lacks a part of the key (no `x-api-key`, say).
    pub missing_key: MissingKey,
}

/// One part of a limit key; a key of several parts is their combination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// The client address: Envoy's `source.address`, or with `trusted_hops` > 0 the
    /// `x-forwarded-for` entry that many places from the right.
    ClientIp { trusted_hops: u32 },
    /// The API key the official SDKs send: `x-api-key` (Anthropic's), else the token of
    /// `Authorization: Bearer …` (OpenAI's). The default key.
    ApiKey,
    /// A request header's value (an API key, a tenant id).
    Header(String),
    /// A claim of the bearer JWT in `header`. The payload is decoded, the signature is
    /// NOT verified: verify tokens first (Envoy's jwt_authn filter) if the key must be trusted.
    JwtClaim { header: String, claim: String },
    /// The policy route's id.
    Route,
    /// The model the request names.
    Model,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// 429 when `max_tokens` does not fit.
    Reject,
    /// Lower `max_tokens` in the forwarded body to what fits.
    Clamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingKey {
    /// Every request without the key shares one budget, so leaving it out gains nothing.
    Shared,
    /// The limit does not apply to requests without the key.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contention {
    /// Refuse the request (429): never admit past a limit.
    Deny,
    /// Admit it uncounted: availability over exactness.
    Allow,
}

/// Abuse patterns (OM-3): blocked requests counted per key, and suspension past a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abuse {
    pub key: Vec<KeyPart>,
    pub window_ms: u64,
    pub suspend_ms: u64,
    /// The outcomes counted as strikes, each with how many in one window suspend the key.
    pub strikes: Vec<(Strike, u64)>,
    pub webhook: Option<Webhook>,
    pub hash_secret: String,
    pub table: Table,
}

/// An outcome that counts towards suspension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strike {
    /// A prompt blocked as an injection.
    Injection,
    /// A prompt or answer blocked for PII or a secret.
    Pii,
    /// A request refused by the route's schema or limit checks.
    Schema,
    /// A request refused with 429.
    RateLimited,
}

/// Where alerts are posted, besides the log and the metric.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub cluster: String,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
}

impl Abuse {
    /// The threshold of `strike`, when it is counted.
    pub fn threshold(&self, strike: Strike) -> Option<u64> {
        self.strikes
            .iter()
            .find(|(s, _)| *s == strike)
            .map(|(_, t)| *t)
    }

    /// Requests during a suspension past which the key is reported as persisting.
    pub fn persisting_after(&self) -> u64 {
        self.strikes.iter().map(|(_, t)| *t).min().unwrap_or(1)
    }
}

impl Strike {
    /// The kind's position in the packed strike counter.
    pub fn index(self) -> u32 {
        self as u32
    }

    pub const ALL: [(&'static str, Strike); 4] = [
        ("prompt_injection", Strike::Injection),
        ("pii_block", Strike::Pii),
        ("schema_violation", Strike::Schema),
        ("rate_limited", Strike::RateLimited),
    ];

    pub fn as_str(self) -> &'static str {
        Strike::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("", |(name, _)| name)
    }
}

impl Limit {
    pub fn applies_to(&self, route: Option<&str>) -> bool {
        self.routes.is_empty() || route.is_some_and(|r| self.routes.iter().any(|id| id == r))
    }

    /// Whether the limit counts tokens, so it needs the request body.
    pub fn counts_tokens(&self) -> bool {
        self.prompt_tokens.is_some()
            || self.completion_tokens.is_some()
            || self.total_tokens.is_some()
    }

    /// Whether the key needs the request body (the model).
    pub fn needs_body(&self) -> bool {
        self.counts_tokens() || self.key.contains(&KeyPart::Model)
    }
}

impl KeyPart {
    /// The request headers this part reads.
    pub fn headers(&self) -> Vec<&str> {
        match self {
            KeyPart::ApiKey => API_KEY_HEADERS.to_vec(),
            KeyPart::Header(name) | KeyPart::JwtClaim { header: name, .. } => vec![name],
            KeyPart::ClientIp { trusted_hops } if *trusted_hops > 0 => vec!["x-forwarded-for"],
            _ => Vec::new(),
        }
    }
}

/// The headers an API key comes in, in the order [`KeyPart::ApiKey`] reads them.
pub const API_KEY_HEADERS: [&str; 2] = ["x-api-key", "authorization"];

impl KeyPart {
    /// The key for a policy that names none.
    pub fn default_key() -> Vec<KeyPart> {
        vec![KeyPart::ApiKey]
    }
}
