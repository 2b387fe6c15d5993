//! Limit keys: from what a request says about its client to a keyed hash. The raw key
//! material (an API key, an address) lives only while the request does (PSF DG-1).

use super::settings::KeyPart;
use crate::detect::pii::secret::base64url;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What the host told the engine about the client: the headers limit keys read, and the
/// peer address.
#[derive(Debug, Clone, Default)]
pub struct ClientFacts {
    /// `(lower-case name, value)` of the headers some key part reads.
    headers: Vec<(String, String)>,
    /// Envoy's `source.address`, with or without a port.
    source_address: Option<String>,
}

/// A hashed key: what the shared table, headers and logs see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 16]);

impl ClientFacts {
    /// Keeps the values of `names` that `header` finds.
    pub fn new<'a>(
        names: &[&str],
        header: &dyn Fn(&str) -> Option<&'a str>,
        source_address: Option<&str>,
    ) -> Self {
        let headers = names
            .iter()
            .filter_map(|name| header(name).map(|v| (name.to_string(), v.to_string())))
            .collect();
        Self {
            headers,
            source_address: source_address.map(str::to_string),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The client address for `trusted_hops` (0: the peer itself).
    fn client_ip(&self, trusted_hops: u32) -> Option<String> {
        client_address(
            self.header("x-forwarded-for"),
            self.source_address.as_deref(),
            trusted_hops,
        )
    }
}

/// The client's address, without its port. With `trusted_hops` 0 (the default everywhere)
/// only the connection's peer counts, and `x-forwarded-for` is ignored; with `n` > 0 it is
/// the entry `n` from the right of `x-forwarded-for`, written by the outermost proxy the
/// operator trusts.
///
/// `source` is Envoy's `source.address`. A stock HTTP connection manager
/// (`use_remote_address: false`) replaces it with the rightmost `x-forwarded-for` entry, which
/// the client wrote; such an address has port 0, a socket peer never does. So an address
/// without a real port is refused here (`None`): it is a header value, not a peer.
pub fn client_address(
    forwarded_for: Option<&str>,
    source: Option<&str>,
    trusted_hops: u32,
) -> Option<String> {
    if trusted_hops > 0 {
        let forwarded: Vec<&str> = forwarded_for?
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        // Proxies append what they saw: the entry `trusted_hops` from the right was
        // written by the outermost proxy we trust. A shorter list came past fewer
        // proxies than configured, so its first entry is the furthest one known.
        let index = forwarded.len().saturating_sub(trusted_hops as usize);
        return forwarded.get(index).map(|a| strip_port(a).to_string());
    }
    let source = source?;
    let host = strip_port(source);
    let port = source
        .strip_prefix(host)
        .or_else(|| source.strip_prefix('[').and_then(|s| s.strip_prefix(host)))
        .map(|rest| rest.trim_start_matches(']').trim_start_matches(':'))
        .unwrap_or_default();
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Some(host.to_string()),
        _ => None,
    }
}

/// The key material of `parts`, or `None` when the request lacks one of them.
pub fn key_material(
    parts: &[KeyPart],
    client: &ClientFacts,
    route: Option<&str>,
    model: Option<&str>,
) -> Option<String> {
    let mut material = String::new();
    for part in parts {
        let value = match part {
            KeyPart::ClientIp { trusted_hops } => client.client_ip(*trusted_hops)?,
            KeyPart::ApiKey => api_key(client)?.to_string(),
            KeyPart::Header(name) => client.header(name)?.trim().to_string(),
            KeyPart::JwtClaim { header, claim } => jwt_claim(client.header(header)?, claim)?,
            KeyPart::Route => route?.to_string(),
            KeyPart::Model => model?.to_string(),
        };
        if value.is_empty() {
            return None;
        }
        if !material.is_empty() {
            material.push('\u{1f}');
        }
        material.push_str(&value);
    }
    Some(material)
}

/// The SDKs' API key: `x-api-key`, else a `Bearer` token in `authorization`.
fn api_key(client: &ClientFacts) -> Option<&str> {
    if let Some(key) = client
        .header("x-api-key")
        .map(str::trim)
        .filter(|k| !k.is_empty())
    {
        return Some(key);
    }
    let authorization = client.header("authorization")?.trim();
    let (scheme, token) = authorization.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// HMAC-SHA256 of `scope` and `material` under `secret`, cut to 128 bits: enough that two
/// keys never share counters, and not reversible to the API key it came from.
pub fn hash_key(secret: &str, scope: &str, material: &str) -> KeyHash {
    let mut out = [0u8; 16];
    if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()) {
        mac.update(scope.as_bytes());
        mac.update(b"\x1e");
        mac.update(material.as_bytes());
        out.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    }
    KeyHash(out)
}

impl KeyHash {
    /// The table entry's id (the first 64 bits).
    pub fn id(&self) -> u64 {
        u64::from_le_bytes(self.0[..8].try_into().unwrap_or_default())
    }

    /// Which slot of the shared table holds the key (from the other 64 bits).
    pub fn slot(&self, slots: u32) -> u32 {
        let high = u64::from_le_bytes(self.0[8..].try_into().unwrap_or_default());
        (high % u64::from(slots.max(1))) as u32
    }

    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(32);
        for byte in self.0 {
            hex.push(DIGITS[usize::from(byte >> 4)] as char);
            hex.push(DIGITS[usize::from(byte & 15)] as char);
        }
        hex
    }
}

/// A claim of a bearer JWT, read without verifying its signature. Nested claims are
/// named with dots (`org.id`); numbers and booleans count as their JSON text.
fn jwt_claim(header_value: &str, claim: &str) -> Option<String> {
    let token = header_value.trim();
    let token = token
        .strip_prefix("Bearer ")
        .or_else(|| token.strip_prefix("bearer "))
        .unwrap_or(token)
        .trim();
    let payload = token.split('.').nth(1)?;
    let json: serde_json::Value = serde_json::from_slice(&base64url(payload)?).ok()?;
    let value = claim.split('.').try_fold(&json, |v, name| v.get(name))?;
    match value {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(_) | serde_json::Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// `1.2.3.4:5678` → `1.2.3.4`, `[::1]:80` → `::1`; a bare address stays as it is.
fn strip_port(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        // One colon: host and port. More: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            host
        }
        _ => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: #16
    #[test]
    fn the_api_key_is_what_the_sdks_send_and_nothing_else() {
        let key = |headers: &[(&str, &str)]| {
            let facts = ClientFacts::new(
                &["x-api-key", "authorization"],
                &|name| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v),
                None,
            );
            key_material(&[KeyPart::ApiKey], &facts, None, None)
        };
        assert_eq!(
            key(&[("authorization", "Bearer sk-1")]).as_deref(),
            Some("sk-1")
        );
        assert_eq!(
            key(&[("authorization", "bearer  sk-1 ")]).as_deref(),
            Some("sk-1")
        );
        assert_eq!(
            key(&[("x-api-key", "sk-ant"), ("authorization", "Bearer sk-1")]).as_deref(),
            Some("sk-ant")
        );
        for hostile in ["Basic c2s6", "Bearer", "Bearer   ", "sk-1", ""] {
            assert_eq!(key(&[("authorization", hostile)]), None, "{hostile:?}");
        }
        assert_eq!(key(&[("x-api-key", "  ")]), None);
    }

    fn facts(headers: &[(&str, &str)], source: Option<&str>) -> ClientFacts {
        let names: Vec<&str> = headers.iter().map(|(n, _)| *n).collect();
        let lookup = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        ClientFacts::new(&names, &lookup, source)
    }

    #[test]
    fn client_ip_comes_from_the_peer_unless_hops_are_trusted() {
        let client = facts(
            &[("x-forwarded-for", "6.6.6.6, 203.0.113.7, 10.0.0.2")],
            Some("10.0.0.3:4242"),
        );
        let ip = |hops| {
            key_material(
                &[KeyPart::ClientIp { trusted_hops: hops }],
                &client,
                None,
                None,
            )
        };
        assert_eq!(
            ip(0).as_deref(),
            Some("10.0.0.3"),
            "XFF is ignored by default"
        );
        assert_eq!(ip(1).as_deref(), Some("10.0.0.2"));
        assert_eq!(ip(2).as_deref(), Some("203.0.113.7"));
        assert_eq!(ip(9).as_deref(), Some("6.6.6.6"));
        let v6 = facts(&[], Some("[2001:db8::1]:443"));
        assert_eq!(
            key_material(&[KeyPart::ClientIp { trusted_hops: 0 }], &v6, None, None).as_deref(),
            Some("2001:db8::1")
        );
    }

    #[test]
    fn jwt_claims_are_read_without_verification() {
        // {"sub":"user-42","org":{"id":7}}
        let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTQyIiwib3JnIjp7ImlkIjo3fX0.c2ln";
        let client = facts(&[("authorization", &format!("Bearer {token}"))], None);
        let claim = |name: &str| {
            let part = KeyPart::JwtClaim {
                header: "authorization".into(),
                claim: name.into(),
            };
            key_material(&[part], &client, None, None)
        };
        assert_eq!(claim("sub").as_deref(), Some("user-42"));
        assert_eq!(claim("org.id").as_deref(), Some("7"));
        assert_eq!(claim("missing"), None);
    }

    #[test]
    fn hostile_tokens_give_no_key_rather_than_an_error() {
        let long = format!("Bearer a.{}.c", "A".repeat(100_000));
        for value in [
            "",
            "Bearer",
            "Bearer !!!",
            "Bearer a.b",
            "x.%%%.y",
            "a.W10.c",
            long.as_str(),
        ] {
            let client = facts(&[("authorization", value)], None);
            let part = KeyPart::JwtClaim {
                header: "authorization".into(),
                claim: "sub".into(),
            };
            assert_eq!(
                key_material(&[part], &client, None, None),
                None,
                "{value:.20}"
            );
        }
        let spaces = facts(&[("x-api-key", "   ")], None);
        let header = KeyPart::Header("x-api-key".into());
        assert_eq!(key_material(&[header], &spaces, None, None), None);
    }

    #[test]
    fn composite_keys_need_every_part() {
        let client = facts(&[("x-api-key", "k1")], None);
        let parts = [
            KeyPart::Header("x-api-key".into()),
            KeyPart::Route,
            KeyPart::Model,
        ];
        assert_eq!(
            key_material(&parts, &client, Some("chat"), Some("gpt-4o")).as_deref(),
            Some("k1\u{1f}chat\u{1f}gpt-4o")
        );
        assert_eq!(key_material(&parts, &client, Some("chat"), None), None);
    }

    #[test]
    fn hashes_differ_by_scope_and_never_show_the_key() {
        let a = hash_key("s", "per-key", "sk-secret");
        assert_ne!(a, hash_key("s", "other", "sk-secret"));
        assert_ne!(a, hash_key("t", "per-key", "sk-secret"));
        assert_eq!(a.hex().len(), 32);
        assert!(!a.hex().contains("secret"));
    }
}
