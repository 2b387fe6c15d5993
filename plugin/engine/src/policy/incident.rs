//! The `incident` section: the runtime kill switch's admin path and the customer-facing
//! messages approved in advance for `degrade` and `isolate` (PSF IR-2, IR-4).

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use std::net::IpAddr;

/// The admin path that switches modes at runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub path: String,
    /// The bearer secret, compared in constant time; never logged.
    pub token: String,
    /// Source networks allowed to switch: `(address, prefix length)`.
    pub sources: Vec<(IpAddr, u8)>,
    /// Proxies in front of Envoy whose `x-forwarded-for` entries are trusted; 0 (the
    /// default) checks the connection's peer and ignores the header.
    pub trusted_hops: u32,
}

/// A message approved in advance, served in the standard error shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub message: String,
    pub approved_by: Option<String>,
    pub approved_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Incident {
    pub admin: Option<Admin>,
    pub degrade: Option<Template>,
    pub isolate: Option<Template>,
}

/// The shortest admin token accepted: a guessable switch would be an outage button.
const MIN_TOKEN_CHARS: usize = 24;

pub(super) fn read_incident(fields: &mut Fields<'_>, errors: &mut Errors) -> Incident {
    let Some(value) = fields.value("incident") else {
        return Incident::default();
    };
    let Some(mut section) = Fields::open(value, &fields.path_of("incident"), errors) else {
        return Incident::default();
    };
    let admin = read_admin(&mut section, errors);
    let mut templates = (None, None);
    if let Some(value) = section.value("templates") {
        if let Some(mut list) = Fields::open(value, &section.path_of("templates"), errors) {
            templates = (
                read_template(&mut list, "degrade", errors),
                read_template(&mut list, "isolate", errors),
            );
            list.finish(errors);
        }
    }
    section.finish(errors);
    Incident {
        admin,
        degrade: templates.0,
        isolate: templates.1,
    }
}

fn read_admin(section: &mut Fields<'_>, errors: &mut Errors) -> Option<Admin> {
    let value = section.value("admin")?;
    let mut admin = Fields::open(value, &section.path_of("admin"), errors)?;
    let path = admin
        .string("path", errors)
        .unwrap_or("/.psf/v1/mode")
        .to_string();
    if !path.starts_with('/') {
        errors.push(
            &admin.path_of("path"),
            PolicyErrorKind::Invalid(format!("{path:?} must start with '/'")),
        );
    }
    let token = admin.required_string("token", errors).map(str::to_string);
    if let Some(token) = &token {
        if token.chars().count() < MIN_TOKEN_CHARS {
            errors.push(
                &admin.path_of("token"),
                PolicyErrorKind::Invalid(format!(
                    "the admin token must have at least {MIN_TOKEN_CHARS} characters"
                )),
            );
        }
    }
    let mut sources = Vec::new();
    let listed = admin.strings("sources", errors);
    for (i, cidr) in listed.iter().flatten().enumerate() {
        match parse_cidr(cidr) {
            Some(net) => sources.push(net),
            None => errors.push(
                &format!("{}[{i}]", admin.path_of("sources")),
                PolicyErrorKind::Invalid(format!("{cidr:?} is not an address or a CIDR block")),
            ),
        }
    }
    if listed.is_none() {
        errors.push(&admin.path_of("sources"), PolicyErrorKind::Missing);
    }
    let trusted_hops = admin.count("trusted_hops", errors).unwrap_or(0);
    if trusted_hops > 16 {
        errors.push(
            &admin.path_of("trusted_hops"),
            PolicyErrorKind::Invalid(format!("{trusted_hops} hops; at most 16")),
        );
    }
    admin.finish(errors);
    Some(Admin {
        path,
        token: token?,
        sources,
        trusted_hops: u32::try_from(trusted_hops.min(16)).unwrap_or(16),
    })
}

fn read_template(
    list: &mut Fields<'_>,
    name: &'static str,
    errors: &mut Errors,
) -> Option<Template> {
    let value = list.value(name)?;
    let mut fields = Fields::open(value, &list.path_of(name), errors)?;
    let message = fields
        .required_string("message", errors)
        .map(str::to_string);
    let approved_by = fields.string("approved_by", errors).map(str::to_string);
    let approved_on = fields.string("approved_on", errors).map(str::to_string);
    fields.finish(errors);
    Some(Template {
        message: message?,
        approved_by,
        approved_on,
    })
}

/// `10.0.0.0/8`, `::1/128`, or a bare address (a single host).
fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (address, bits) = match text.split_once('/') {
        Some((address, bits)) => (address, Some(bits.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let address: IpAddr = address.trim().parse().ok()?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((address, bits))
}

impl Admin {
    /// Whether the client, from its peer address (`source`, with its port) or, with
    /// `trusted_hops`, from `forwarded_for`, is inside one of the allowed networks.
    pub fn allows_client(&self, forwarded_for: Option<&str>, source: Option<&str>) -> bool {
        crate::controls::ratelimit::key::client_address(forwarded_for, source, self.trusted_hops)
            .and_then(|host| host.parse::<IpAddr>().ok())
            .is_some_and(|ip| {
                self.sources
                    .iter()
                    .any(|(net, bits)| in_network(ip, *net, *bits))
            })
    }

    /// Whether `address` (with or without a port) is inside one of the allowed networks.
    pub fn allows_source(&self, address: &str) -> bool {
        let host = match address.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                host.trim_start_matches('[').trim_end_matches(']')
            }
            _ => address,
        };
        let Ok(ip) = host.parse::<IpAddr>() else {
            return false;
        };
        self.sources
            .iter()
            .any(|(net, bits)| in_network(ip, *net, *bits))
    }

    /// Whether `presented` is the token, compared in time independent of where they differ.
    pub fn token_matches(&self, presented: &str) -> bool {
        let (a, b) = (presented.as_bytes(), self.token.as_bytes());
        let mut diff = a.len() ^ b.len();
        for (i, byte) in b.iter().enumerate() {
            diff |= usize::from(byte ^ a.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            (u128::from(u32::from(ip)), u128::from(u32::from(net)), 32)
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => (u128::from(ip), u128::from(net), 128),
        (IpAddr::V6(ip), IpAddr::V4(net)) => match ip.to_ipv4_mapped() {
            Some(v4) => (u128::from(u32::from(v4)), u128::from(u32::from(net)), 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let shift = width - u32::from(bits);
    shift >= width || (ip >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(sources: &[&str]) -> Admin {
        Admin {
            path: "/.psf/v1/mode".into(),
            token: "t".repeat(24),
            sources: sources.iter().filter_map(|s| parse_cidr(s)).collect(),
            trusted_hops: 0,
        }
    }

    #[test]
    fn sources_match_by_network() {
        let a = admin(&["10.0.0.0/8", "127.0.0.1", "::1/128"]);
        assert!(a.allows_source("10.20.30.40:5555"));
        assert!(a.allows_source("127.0.0.1:80"));
        assert!(!a.allows_source("127.0.0.2:80"));
        assert!(a.allows_source("[::1]:443"));
        assert!(!a.allows_source("192.168.1.1:1"));
        assert!(!a.allows_source("garbage"));
        assert!(admin(&["0.0.0.0/0"]).allows_source("8.8.8.8:1"));
        assert_eq!(parse_cidr("10.0.0.0/33"), None);
    }

    #[test]
    fn forwarded_for_is_not_the_peer() {
        // See: #15 (finding 3)
        let a = admin(&["127.0.0.1/32", "::1/128"]);
        assert!(a.allows_client(None, Some("127.0.0.1:40000")));
        assert!(a.allows_client(Some("127.0.0.1"), Some("[::1]:40000")));
        // A stock Envoy puts the rightmost x-forwarded-for entry, port 0, in source.address.
        assert!(!a.allows_client(Some("127.0.0.1"), Some("127.0.0.1:0")));
        assert!(!a.allows_client(Some("127.0.0.1"), Some("127.0.0.1")));
        assert!(!a.allows_client(Some("127.0.0.1"), Some("127.0.0.2:40000")));
        assert!(!a.allows_client(None, None));
        let trusting = Admin {
            trusted_hops: 1,
            ..admin(&["10.0.0.0/8"])
        };
        assert!(trusting.allows_client(Some("1.2.3.4, 10.1.1.1"), Some("10.9.9.9:1")));
        assert!(!trusting.allows_client(Some("10.1.1.1, 1.2.3.4"), Some("10.9.9.9:1")));
    }

    #[test]
    fn tokens_compare_whole() {
        let a = admin(&[]);
        assert!(a.token_matches(&"t".repeat(24)));
        assert!(!a.token_matches(&"t".repeat(23)));
        assert!(!a.token_matches(&"t".repeat(25)));
        assert!(!a.token_matches(""));
    }
}
