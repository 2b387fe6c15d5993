//! The `rate_limits` and `abuse` sections of a policy (PSF IG-4, OM-3).

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use crate::controls::ratelimit::settings::{
    Abuse, Contention, KeyPart, Limit, MissingKey, OverBudget, RateLimits, Strike, Webhook,
};
use crate::controls::ratelimit::table::Table;
use serde_json::Value;

const OVER_BUDGET: [(&str, OverBudget); 2] =
    [("reject", OverBudget::Reject), ("clamp", OverBudget::Clamp)];
const MISSING_KEY: [(&str, MissingKey); 2] =
    [("shared", MissingKey::Shared), ("skip", MissingKey::Skip)];
const CONTENTION: [(&str, Contention); 2] =
    [("deny", Contention::Deny), ("allow", Contention::Allow)];
const DEFAULT_MAX_KEYS: u64 = 100_000;
/// The most keys one table may hold: 4 Mi keys is about 400 MB of shared data.
const MAX_KEYS_CEILING: u64 = 1 << 22;

pub(super) fn read_rate_limits(
    fields: &mut Fields<'_>,
    policy_name: Option<&str>,
    errors: &mut Errors,
) -> Option<RateLimits> {
    let value = fields.value("rate_limits")?;
    let mut section = Fields::open(value, &fields.path_of("rate_limits"), errors)?;
    let mut limits: Vec<Limit> = Vec::new();
    for (path, item) in section.array("limits", errors) {
        if let Some(limit) = read_limit(&path, item, errors) {
            if limits.iter().any(|l| l.id == limit.id) {
                errors.push(
                    &format!("{path}.id"),
                    PolicyErrorKind::DuplicateId(limit.id),
                );
                continue;
            }
            limits.push(limit);
        }
    }
    if limits.is_empty() {
        errors.push(
            &section.path_of("limits"),
            PolicyErrorKind::Invalid("give at least one limit".into()),
        );
    }
    let max_keys = read_max_keys(&mut section, errors);
    let export_header = section
        .string("export_header", errors)
        .map(str::to_ascii_lowercase);
    if let Some(name) = &export_header {
        if !is_header_name(name) {
            errors.push(
                &section.path_of("export_header"),
                PolicyErrorKind::Invalid(format!("{name:?} is not a header name")),
            );
        }
    }
    let rates = RateLimits {
        limits,
        response_headers: section.boolean("response_headers", errors).unwrap_or(true),
        stream_usage: section.boolean("stream_usage", errors).unwrap_or(true),
        default_max_tokens: section.count("default_max_tokens", errors).unwrap_or(256),
        max_keys,
        on_contention: section
            .choice("on_contention", &CONTENTION, errors)
            .unwrap_or(Contention::Deny),
        export_header,
        hash_secret: read_secret(&mut section, policy_name, errors),
        table: Table::new("limits", max_keys),
    };
    section.finish(errors);
    Some(rates)
}

pub(super) fn read_abuse(
    fields: &mut Fields<'_>,
    policy_name: Option<&str>,
    max_keys: Option<u64>,
    errors: &mut Errors,
) -> Option<Abuse> {
    let value = fields.value("abuse")?;
    let mut section = Fields::open(value, &fields.path_of("abuse"), errors)?;
    let key = read_key(&mut section, errors);
    let window_ms = read_duration(&mut section, "window", errors).unwrap_or(10 * 60_000);
    let suspend_ms = read_duration(&mut section, "suspend_for", errors).unwrap_or(15 * 60_000);
    let strikes = read_strikes(&mut section, errors);
    let webhook = read_webhook(&mut section, errors);
    let hash_secret = read_secret(&mut section, policy_name, errors);
    section.finish(errors);
    let max_keys = max_keys.unwrap_or(DEFAULT_MAX_KEYS);
    Some(Abuse {
        key: key?,
        window_ms,
        suspend_ms,
        strikes: strikes?,
        webhook,
        hash_secret,
        table: Table::new("limits", max_keys),
    })
}

/// `strikes`: which outcomes count, each with the count in one window that suspends.
fn read_strikes(section: &mut Fields<'_>, errors: &mut Errors) -> Option<Vec<(Strike, u64)>> {
    section.required("strikes", errors)?;
    let mut strikes = Vec::new();
    for (path, name, value) in section.entries("strikes", errors).unwrap_or_default() {
        let Some((_, strike)) = Strike::ALL.iter().find(|(n, _)| *n == name) else {
            errors.push(
                &path,
                PolicyErrorKind::UnknownValue {
                    what: "strike",
                    found: name.to_string(),
                    expected: Strike::ALL.iter().map(|(n, _)| *n).collect(),
                },
            );
            continue;
        };
        match value.as_u64().filter(|t| (1..=0xffff).contains(t)) {
            Some(threshold) => strikes.push((*strike, threshold)),
            None => errors.push(
                &path,
                PolicyErrorKind::Invalid(format!("{value} is not a count between 1 and 65535")),
            ),
        }
    }
    if strikes.is_empty() {
        errors.push(
            &section.path_of("strikes"),
            PolicyErrorKind::Invalid("give at least one strike kind and its threshold".into()),
        );
        return None;
    }
    Some(strikes)
}

fn read_limit(path: &str, value: &Value, errors: &mut Errors) -> Option<Limit> {
    let mut fields = Fields::open(value, path, errors)?;
    let id = fields.required_string("id", errors).map(str::to_string);
    let key = read_key(&mut fields, errors);
    let routes = fields.strings("routes", errors).unwrap_or_default();
    let window_ms = read_duration(&mut fields, "window", errors).unwrap_or(60_000);
    let limit = Limit {
        id: id?,
        key: key?,
        routes,
        window_ms,
        requests: fields.count("requests", errors),
        prompt_tokens: fields.count("prompt_tokens", errors),
        completion_tokens: fields.count("completion_tokens", errors),
        total_tokens: fields.count("total_tokens", errors),
        concurrent: fields.count("concurrent", errors),
        over_budget: fields
            .choice("over_budget", &OVER_BUDGET, errors)
            .unwrap_or(OverBudget::Reject),
        missing_key: fields
            .choice("missing_key", &MISSING_KEY, errors)
            .unwrap_or(MissingKey::Shared),
    };
    let limited = [
        limit.requests,
        limit.prompt_tokens,
        limit.completion_tokens,
        limit.total_tokens,
        limit.concurrent,
    ];
    if limited.iter().all(Option::is_none) {
        errors.push(
            path,
            PolicyErrorKind::Invalid(
                "give at least one of requests, prompt_tokens, completion_tokens, total_tokens or concurrent".into(),
            ),
        );
    }
    for (name, value) in [
        ("requests", limit.requests),
        ("total_tokens", limit.total_tokens),
        ("completion_tokens", limit.completion_tokens),
        ("concurrent", limit.concurrent),
    ] {
        if value == Some(0) {
            errors.push(
                &fields.path_of(name),
                PolicyErrorKind::Invalid("must be at least 1 (leave it out for no limit)".into()),
            );
        }
    }
    fields.finish(errors);
    Some(limit)
}

/// `key` (default `["api_key"]`): an array of parts, each `"api_key"`, `"client_ip"`, `"route"`, `"model"`, or an object
/// `{"header": name}`, `{"jwt_claim": claim, "header": name}`, `{"client_ip": {"trusted_hops": n}}`.
fn read_key(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<Vec<KeyPart>> {
    if fields.value("key").is_none() {
        return Some(KeyPart::default_key());
    }
    let mut parts = Vec::new();
    let mut ok = true;
    for (path, item) in fields.array("key", errors) {
        match read_key_part(&path, item, errors) {
            Some(part) => parts.push(part),
            None => ok = false,
        }
    }
    if parts.is_empty() && ok {
        errors.push(
            &fields.path_of("key"),
            PolicyErrorKind::Invalid("give at least one key part".into()),
        );
        return None;
    }
    ok.then_some(parts)
}

const SIMPLE_PARTS: [(&str, KeyPart); 4] = [
    ("api_key", KeyPart::ApiKey),
    ("client_ip", KeyPart::ClientIp { trusted_hops: 0 }),
    ("route", KeyPart::Route),
    ("model", KeyPart::Model),
];

fn read_key_part(path: &str, value: &Value, errors: &mut Errors) -> Option<KeyPart> {
    if let Value::String(name) = value {
        let found = SIMPLE_PARTS.iter().find(|(n, _)| n == name);
        if found.is_none() {
            errors.push(
                path,
                PolicyErrorKind::UnknownValue {
                    what: "key part",
                    found: name.clone(),
                    expected: SIMPLE_PARTS.iter().map(|(n, _)| *n).collect(),
                },
            );
        }
        return found.map(|(_, part)| part.clone());
    }
    let mut part = Fields::open(value, path, errors)?;
    let header = part.string("header", errors).map(str::to_ascii_lowercase);
    let claim = part.string("jwt_claim", errors).map(str::to_string);
    let client_ip = part.value("client_ip");
    let read = match (header, claim, client_ip) {
        (Some(header), None, None) => Some(KeyPart::Header(header)),
        (header, Some(claim), None) => Some(KeyPart::JwtClaim {
            header: header.unwrap_or_else(|| "authorization".into()),
            claim,
        }),
        (None, None, Some(ip)) => {
            let mut ip = Fields::open(ip, &part.path_of("client_ip"), errors)?;
            let hops = ip.count("trusted_hops", errors).unwrap_or(0);
            ip.finish(errors);
            Some(KeyPart::ClientIp {
                trusted_hops: u32::try_from(hops.min(16)).unwrap_or(16),
            })
        }
        _ => {
            errors.push(
                path,
                PolicyErrorKind::Invalid(
                    "a key part is \"api_key\", \"client_ip\", \"route\", \"model\", {\"header\": …}, {\"jwt_claim\": …} or {\"client_ip\": {\"trusted_hops\": …}}".into(),
                ),
            );
            None
        }
    };
    if let Some(KeyPart::Header(name) | KeyPart::JwtClaim { header: name, .. }) = &read {
        if !is_header_name(name) {
            errors.push(
                &part.path_of("header"),
                PolicyErrorKind::Invalid(format!("{name:?} is not a header name")),
            );
        }
    }
    part.finish(errors);
    read
}

fn read_max_keys(section: &mut Fields<'_>, errors: &mut Errors) -> u64 {
    let max_keys = section
        .count("max_keys", errors)
        .unwrap_or(DEFAULT_MAX_KEYS);
    if !(16..=MAX_KEYS_CEILING).contains(&max_keys) {
        errors.push(
            &section.path_of("max_keys"),
            PolicyErrorKind::Invalid(format!(
                "{max_keys} is not between 16 and {MAX_KEYS_CEILING}"
            )),
        );
        return DEFAULT_MAX_KEYS;
    }
    max_keys
}

/// The HMAC key for key hashes: the policy's `hash_secret`, or one derived from its name,
/// so every Envoy with the same policy hashes a key the same way.
fn read_secret(section: &mut Fields<'_>, policy_name: Option<&str>, errors: &mut Errors) -> String {
    section
        .string("hash_secret", errors)
        .map(str::to_string)
        .unwrap_or_else(|| format!("psf-guard/{}", policy_name.unwrap_or_default()))
}

fn read_webhook(section: &mut Fields<'_>, errors: &mut Errors) -> Option<Webhook> {
    let value = section.value("webhook")?;
    let mut hook = Fields::open(value, &section.path_of("webhook"), errors)?;
    let cluster = hook.required_string("cluster", errors).map(str::to_string);
    let path = hook.string("path", errors).unwrap_or("/").to_string();
    if !path.starts_with('/') {
        errors.push(
            &hook.path_of("path"),
            PolicyErrorKind::Invalid(format!("{path:?} must start with '/'")),
        );
    }
    let authority = hook.string("authority", errors).map(str::to_string);
    let timeout_ms = hook.count("timeout_ms", errors).unwrap_or(2000);
    if !(1..=60_000).contains(&timeout_ms) {
        errors.push(
            &hook.path_of("timeout_ms"),
            PolicyErrorKind::Invalid(format!("{timeout_ms} is not between 1 and 60000 ms")),
        );
    }
    hook.finish(errors);
    let cluster = cluster?;
    Some(Webhook {
        authority: authority.unwrap_or_else(|| cluster.clone()),
        cluster,
        path,
        timeout_ms,
    })
}

/// A duration: whole seconds, or a string such as `"30s"`, `"1m"`, `"1h"`, `"1d"`.
fn read_duration(fields: &mut Fields<'_>, name: &'static str, errors: &mut Errors) -> Option<u64> {
    let value = fields.value(name)?;
    let parsed = match value {
        Value::Number(n) => n.as_u64().map(|s| s * 1000),
        Value::String(text) => parse_duration(text),
        _ => None,
    };
    match parsed.filter(|ms| (1000..=366 * 86_400_000).contains(ms)) {
        Some(ms) => Some(ms),
        None => {
            errors.push(
                &fields.path_of(name),
                PolicyErrorKind::Invalid(format!(
                    "{value} is not a duration between 1s and 366d (seconds, or \"30s\", \"1m\", \"1h\", \"1d\")"
                )),
            );
            None
        }
    }
}

fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit_ms = match unit.trim() {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
