//! Network identifiers: IPv4 and IPv6 addresses (with an optional prefix length or zone)
//! and MAC addresses. The patterns find candidates; these judges parse them and look at the
//! neighbours, so versions ("1.2.3.4.5", "version 1.2.3.4"), times ("12:34:56") and code
//! ("std::cout") are left alone.

use super::context::{self, Words};
use super::hit::{Found, Hit};

/// Words that make a dotted quad a version number rather than an address.
const VERSION_WORDS: Words = Words::new(&["version", "ver", "release", "build", "firmware", "v"]);

/// Words that make a bare `::` an address.
const IP_WORDS: Words = Words::new(&[
    "ip",
    "ipv6",
    "ip6",
    "address",
    "addr",
    "src",
    "dst",
    "source",
    "destination",
    "host",
    "route",
    "gateway",
    "bind",
    "listen",
    "unspecified",
    "loopback",
]);

/// An IPv4 address, optionally with a `/prefix`; a prefix over 32 is left out of the span.
pub fn ipv4(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let (addr, prefix) = text.split_once('/').unwrap_or((text, ""));
    if !ipv4_octets(addr, false) {
        return None;
    }
    // Part of a longer dotted run: an OID, a version or a second address glued on.
    let digit = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    if (hit.before(1) == Some(b'.') && digit(hit.before(2)))
        || (hit.after(0) == Some(b'.') && digit(hit.after(1)))
    {
        return None;
    }
    if context::before(hit.text, hit.start, 12, &VERSION_WORDS) {
        return None;
    }
    let end = match prefix.parse::<u8>() {
        Ok(bits) if bits <= 32 => hit.end,
        _ => hit.start + addr.len(),
    };
    Some(Found {
        start: hit.start,
        end,
        score: 0.85,
    })
}

/// Four decimal octets ≤ 255 without leading zeros (`lenient` allows them, as inside IPv6).
fn ipv4_octets(addr: &str, lenient: bool) -> bool {
    let mut count = 0;
    for part in addr.split('.') {
        count += 1;
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && (lenient || part.len() == 1 || !part.starts_with('0'))
            && part.parse::<u16>().is_ok_and(|v| v <= 255);
        if !ok {
            return false;
        }
    }
    count == 4
}

/// An IPv6 address, full or `::`-compressed, with an optional embedded IPv4 tail, `%zone`
/// and `/prefix` (a prefix over 128 is left out of the span).
pub fn ipv6(hit: Hit<'_>) -> Option<Found> {
    let is_addr_byte = |b: u8| b.is_ascii_alphanumeric() || b == b':';
    if hit.before(1).is_some_and(is_addr_byte) {
        return None;
    }
    let text = hit.as_str();
    let (body, prefix) = text.split_once('/').unwrap_or((text, ""));
    let (addr, zone) = body.split_once('%').unwrap_or((body, ""));
    let groups = ipv6_groups(addr)?;
    let mut end = hit.end;
    if !prefix.is_empty() {
        let fits = prefix.parse::<u8>().is_ok_and(|bits| bits <= 128);
        let runs_on = hit.after(0).is_some_and(|b| b.is_ascii_digit());
        if !fits || runs_on {
            end = hit.start + body.len();
        }
    }
    let after = hit.text.as_bytes().get(end).copied();
    if after.is_some_and(is_addr_byte)
        || (after == Some(b'.')
            && hit
                .text
                .as_bytes()
                .get(end + 1)
                .is_some_and(u8::is_ascii_digit))
    {
        return None;
    }
    let has_digit = addr.bytes().any(|b| b.is_ascii_digit());
    let score = if groups == 0 {
        // A bare `::` is also Haskell's type annotation and C++'s scope operator.
        let near = context::around(hit.text, hit.start, end, &IP_WORDS);
        if near || !prefix.is_empty() || !zone.is_empty() {
            0.7
        } else {
            0.3
        }
    } else if !has_digit && groups < 3 {
        // "a::b", "cafe::babe": too much like code to stand alone.
        0.35 + if context::around(hit.text, hit.start, end, &IP_WORDS) {
            0.35
        } else {
            0.0
        }
    } else {
        0.85
    };
    Some(Found {
        start: hit.start,
        end,
        score,
    })
}

/// The number of explicit 16-bit groups in an IPv6 address, or `None` if it is not one.
fn ipv6_groups(addr: &str) -> Option<usize> {
    let (head, tail, compressed) = match addr.split_once("::") {
        Some((head, tail)) => {
            if tail.contains("::") {
                return None;
            }
            (head, tail, true)
        }
        None => (addr, "", false),
    };
    let mut groups = 0;
    let parts = head
        .split(':')
        .filter(|_| !head.is_empty())
        .chain(tail.split(':').filter(|_| !tail.is_empty()));
    let mut last_was_ipv4 = false;
    for part in parts {
        if last_was_ipv4 {
            return None; // the IPv4 tail must come last
        }
        if part.contains('.') {
            if !ipv4_octets(part, true) {
                return None;
            }
            groups += 2;
            last_was_ipv4 = true;
        } else if (1..=4).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_hexdigit()) {
            groups += 1;
        } else {
            return None;
        }
    }
    match (compressed, groups) {
        (true, 0..=7) | (false, 8) => Some(groups),
        _ => None,
    }
}

/// A MAC address: six hex pairs joined by `:` or `-` (one kind), or Cisco's three dotted
/// quads; not part of a longer run (a key fingerprint), not all-zero or broadcast.
pub fn mac(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let sep = text.bytes().find(|b| !b.is_ascii_hexdigit())?;
    let hex = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_hexdigit());
    if (hit.before(1) == Some(sep) && hex(hit.before(2)))
        || (hit.after(0) == Some(sep) && hex(hit.after(1)))
    {
        return None;
    }
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    if digits.iter().all(|&b| b == b'0') || digits.iter().all(|&b| b == b'f' || b == b'F') {
        return None;
    }
    hit.found(0.8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(judge: fn(Hit<'_>) -> Option<Found>, text: &str, span: &str) -> Option<f32> {
        let start = text.find(span)?;
        let found = judge(Hit {
            text,
            start,
            end: start + span.len(),
        })?;
        Some(found.score)
    }

    #[test]
    fn ipv4_needs_real_octets_and_no_dotted_neighbours() {
        assert!(judge(ipv4, "host 192.168.0.1 up", "192.168.0.1").is_some());
        assert!(judge(ipv4, "net 10.0.0.0/8", "10.0.0.0/8").is_some());
        for (text, span) in [
            ("256.1.1.1", "256.1.1.1"),
            ("1.2.3.04", "1.2.3.04"),
            ("oid 1.2.3.4.5.6", "1.2.3.4"),
            ("version 1.2.3.4", "1.2.3.4"),
        ] {
            assert_eq!(judge(ipv4, text, span), None, "{text}");
        }
        let hit = Hit {
            text: "10.0.0.0/99",
            start: 0,
            end: 11,
        };
        assert_eq!(ipv4(hit).map(|f| f.end), Some(8), "bad prefix left out");
    }

    #[test]
    fn ipv6_parses_compressed_embedded_and_zoned_forms() {
        for addr in [
            "2001:db8::1",
            "fe80::1%eth0",
            "::ffff:192.0.2.1",
            "0:0:0:0:0:FFFF:129.144.52.38",
            "2345:0425:2CA1:0000:0000:0567:5673:23b5",
            "2001:db8::/32",
        ] {
            let text = format!("at {addr} now");
            assert!(judge(ipv6, &text, addr).is_some_and(|s| s >= 0.8), "{addr}");
        }
        for (text, span) in [
            ("Time 12:34:56", "12:34:56"),
            ("2001::db8::1", "2001::db8::1"),
            (
                "684D:1111:222:3333:4444:5555:77",
                "684D:1111:222:3333:4444:5555:77",
            ),
            ("std::cout", "::"),
            ("fe80::1text", "fe80::1"),
            ("::ffff:256.0.0.1", "::ffff:256.0.0.1"),
        ] {
            assert!(judge(ipv6, text, span).is_none_or(|s| s < 0.5), "{text}");
        }
        assert!(judge(ipv6, "foo :: Int", "::").is_some_and(|s| s < 0.5));
        assert!(judge(ipv6, "src=:: dst", "::").is_some_and(|s| s >= 0.5));
    }

    #[test]
    fn mac_needs_one_separator_and_a_real_address() {
        assert!(judge(mac, "MAC 00:1A:2B:3C:4D:5E", "00:1A:2B:3C:4D:5E").is_some());
        assert!(judge(mac, "aabb.ccdd.eeff", "aabb.ccdd.eeff").is_some());
        assert!(judge(mac, "FF:FF:FF:FF:FF:FF", "FF:FF:FF:FF:FF:FF").is_none());
        assert!(judge(mac, "00-00-00-00-00-00", "00-00-00-00-00-00").is_none());
        let fingerprint = "43:51:43:a1:b5:fc:8b:b7:0a";
        assert!(judge(mac, fingerprint, "43:51:43:a1:b5:fc").is_none());
    }
}
