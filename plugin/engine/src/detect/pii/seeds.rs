//! What a stop of the byte scan opens: the key prefixes (`AKIA`, `ghp_`, `sk-ant-`,
//! `-----BEGIN`), credential names before `:` or `=`, curl's `-u` flag, MAC addresses, and
//! birth words before a short date. Each check reads a few bytes around the stop.

/// Seeds: what opened a window beyond digits and `@`, one bit each.
pub mod seed {
    pub const AWS: u32 = 1;
    pub const GOOGLE: u32 = 1 << 1;
    pub const JWT: u32 = 1 << 2;
    pub const GITHUB: u32 = 1 << 3;
    pub const GITLAB: u32 = 1 << 4;
    pub const SLACK: u32 = 1 << 5;
    pub const STRIPE: u32 = 1 << 6;
    pub const OPENAI: u32 = 1 << 7;
    pub const ANTHROPIC: u32 = 1 << 8;
    pub const PEM: u32 = 1 << 9;
    /// A credential name before `:` or `=`.
    pub const ASSIGN: u32 = 1 << 10;
    /// A `curl -u` / `--user` flag.
    pub const CURL: u32 = 1 << 11;
    /// Another provider's token prefix (see [`PROVIDER_PREFIXES`]).
    pub const PROVIDER: u32 = 1 << 12;
}

/// The published prefixes of other providers' tokens that end in `_` or `-`, where the
/// scan stops; the others hold digits or open with `A`, which open a window anyway.
pub const PROVIDER_PREFIXES: [&[u8]; 54] = [
    b"hf_",
    b"A3-",
    b"api_org_",
    b"npm_",
    b"pypi-",
    b"lin_api_",
    b"ntn_",
    b"secret_",
    b"figd_",
    b"glc_",
    b"glsa_",
    b"pul-",
    b"sntrys_",
    b"sntryu_",
    b"r8_",
    b"gsk_",
    b"pplx-",
    b"xai-",
    b"GOCSPX-",
    b"NRAK-",
    b"fo1_",
    b"sbp_",
    b"sgp_",
    b"ops_",
    b"HRKU-",
    b"tk-us-",
    b"ico-",
    b"CLOJARS_",
    b"rubygems_",
    b"pnu_",
    b"CFPAT-",
    b"xkeysib-",
    b"tfp_",
    b"shippo_live_",
    b"shippo_test_",
    b"whsec_",
    b"shpat_",
    b"shpca_",
    b"shppa_",
    b"shpss_",
    b"sq0atp-",
    b"sq0csp-",
    b"dop_v1_",
    b"PMAK-",
    b"pscale_tkn_",
    b"nvapi-",
    b"csk-",
    b"tvly-",
    b"sk-lf-",
    b"rzp_live_",
    b"rzp_test_",
    b"access-sandbox-",
    b"access-development-",
    b"access-production-",
];

/// The longest entry of [`PROVIDER_PREFIXES`] (`access-development-`).
const PROVIDER_PREFIX_REACH: usize = 19;

/// Whether the token that ends at the separator `i` (inclusive) is a provider prefix.
fn provider_prefix_at(bytes: &[u8], i: usize) -> Option<usize> {
    let mut start = i;
    while start > 0 && i - start + 1 < PROVIDER_PREFIX_REACH {
        let b = bytes[start - 1];
        if !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            break;
        }
        start -= 1;
    }
    let token = bytes.get(start..=i)?;
    PROVIDER_PREFIXES.contains(&token).then_some(start)
}

/// The longest credential name looked at before `:` or `=`.
const NAME_REACH: usize = 48;

/// Whether the digit at `i` sits in a MAC address (`0012.3456.789a`, `00:1a:…`,
/// `00-1a-…`): a run of hex digits with two dots, or five colons or dashes.
pub fn mac_around(bytes: &[u8], i: usize) -> bool {
    let part = |b: &u8| b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'-');
    let floor = i.saturating_sub(17);
    let mut start = i;
    while start > floor && part(&bytes[start - 1]) {
        start -= 1;
    }
    let run = bytes
        .get(start..bytes.len().min(start + 17))
        .unwrap_or_default();
    let run = &run[..run.iter().position(|b| !part(b)).unwrap_or(run.len())];
    let count = |c: u8| run.iter().filter(|&&b| b == c).count();
    count(b'.') == 2 || count(b':') == 5 || count(b'-') == 5
}

/// Whether a birth word stands shortly before the digits at `i` (dates of birth only count
/// with one; see [`super::date`]).
pub fn birth_word_before(text: &str, i: usize, reach: usize) -> bool {
    super::context::before(text, i, super::date::REACH + reach, &super::date::WORDS)
}

/// The seeds of a long token with digits, from what opens it or a part of it after `=`,
/// `:` or `/` (`access_token=eyJ…`): a JWT (`eyJ`), a GitLab runner token (`GR1348941`) or
/// a Slack webhook path written without its scheme. These keys always hold digits, so
/// they need no scan stop of their own.
pub fn token_seeds(bytes: &[u8], start: usize) -> u32 {
    let head = bytes
        .get(start..bytes.len().min(start + 80))
        .unwrap_or_default();
    let opens = |lit: &[u8]| {
        head.windows(lit.len())
            .enumerate()
            .any(|(p, w)| w == lit && (p == 0 || !head[p - 1].is_ascii_alphanumeric()))
    };
    let mut seeds = 0;
    if opens(b"eyJ") {
        seeds |= seed::JWT;
    }
    if opens(b"GR1348941") {
        seeds |= seed::GITLAB;
    }
    if bytes
        .get(start.saturating_sub(16)..start)
        .is_some_and(|b| b.ends_with(b"hooks.slack.com/") || b.ends_with(b"hooks.slack.com"))
        || bytes.get(start..start + 15) == Some(&b"hooks.slack.com"[..])
    {
        seeds |= seed::SLACK;
    }
    seeds
}

/// Whether the name just before the `:` or `=` at `i` (past quotes, spaces and the rest of
/// an operator such as `==`) holds a credential stem: pass, pwd, secret, token, key, auth,
/// credential.
pub fn credential_name_before(bytes: &[u8], i: usize) -> bool {
    let mut end = i;
    let floor = i.saturating_sub(4);
    while end > floor
        && matches!(
            bytes[end - 1],
            b'"' | b'\'' | b' ' | b'\t' | b'=' | b'!' | b':'
        )
    {
        end -= 1;
    }
    let mut start = end;
    let floor = end.saturating_sub(NAME_REACH);
    while start > floor
        && (bytes[start - 1].is_ascii_alphanumeric()
            || matches!(bytes[start - 1], b'_' | b'-' | b'.'))
    {
        start -= 1;
    }
    let name = &bytes[start..end];
    let has = |at: usize, stem: &[u8]| {
        name.get(at..at + stem.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(stem))
    };
    // Only positions holding a stem's first letter are compared further.
    (0..name.len()).any(|at| match name[at].to_ascii_lowercase() {
        b'p' => has(at, b"pass") || has(at, b"pwd"),
        b's' => has(at, b"secret"),
        b't' => has(at, b"token"),
        b'k' => has(at, b"key"),
        b'a' => has(at, b"auth"),
        b'c' => has(at, b"credential"),
        _ => false,
    })
}

/// The key prefix that the byte at `i` completes or opens, as (prefix start, seed).
pub fn prefix_at(bytes: &[u8], i: usize) -> Option<(usize, u32)> {
    let at = |from: usize, lit: &[u8]| bytes.get(from..from + lit.len()) == Some(lit);
    let back = |n: usize| i.checked_sub(n);
    // A prefix opens a token: "task-" and "ugly-" do not hold one.
    let opens = |start: usize| start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
    match bytes.get(i)? {
        b'A' => {
            let aws = [&b"AKIA"[..], b"ASIA", b"ABIA", b"ACCA", b"A3T"];
            if aws.iter().any(|p| at(i, p)) {
                return Some((i, seed::AWS));
            }
            at(i, b"AIza").then_some((i, seed::GOOGLE))
        }
        b'_' | b'-' if provider_prefix_at(bytes, i).is_some() => {
            provider_prefix_at(bytes, i).map(|start| (start, seed::PROVIDER))
        }
        b'_' => {
            let github = back(3).filter(|&s| {
                at(s, b"gh") && bytes.get(s + 2).is_some_and(|b| b"pousr".contains(b))
            });
            if let Some(start) = github.or_else(|| back(6).filter(|&s| at(s, b"github_pat"))) {
                return Some((start, seed::GITHUB));
            }
            let start = back(2)?;
            ((at(start, b"sk") || at(start, b"rk")) && opens(start))
                .then_some((start, seed::STRIPE))
        }
        b'-' => {
            if at(i, b"-----BEGIN ") {
                return Some((i, seed::PEM));
            }
            let slack = back(4).filter(|&s| (at(s, b"xox") || at(s, b"xap")) && opens(s));
            if let Some(start) = slack {
                return Some((start, seed::SLACK));
            }
            if let Some(start) = back(2).filter(|&s| at(s, b"sk") && opens(s)) {
                let anthropic = at(i + 1, b"ant-");
                return Some((
                    start,
                    if anthropic {
                        seed::ANTHROPIC
                    } else {
                        seed::OPENAI
                    },
                ));
            }
            // glpat-, gldt-, glrt-, glptt-, glsoat-, glimt-, glagent-, …
            (2..=8)
                .filter_map(back)
                .find(|&s| {
                    at(s, b"gl") && opens(s) && bytes[s + 2..i].iter().all(u8::is_ascii_lowercase)
                })
                .map(|s| (s, seed::GITLAB))
        }
        _ => None,
    }
}

/// Whether the `-` at `i` is inside a MAC address with no digit to seed it
/// (`AA-BB-CC-DD-EE-FF`). A dotted Cisco address of letters only is not looked for.
pub fn mac_at(bytes: &[u8], i: usize) -> bool {
    let hex = |from: usize, n: usize| {
        bytes
            .get(from..from + n)
            .is_some_and(|s| s.iter().all(u8::is_ascii_hexdigit))
    };
    bytes.get(i) == Some(&b'-')
        && i >= 2
        && hex(i - 2, 2)
        && hex(i + 1, 2)
        && bytes.get(i + 3) == Some(&b'-')
}

/// Whether a `-u` or `--user` flag starts at `i`.
pub fn curl_flag_at(bytes: &[u8], i: usize) -> bool {
    let spaced = i == 0 || bytes[i - 1].is_ascii_whitespace();
    let flag = |lit: &[u8]| {
        bytes.get(i..i + lit.len()) == Some(lit)
            && bytes
                .get(i + lit.len())
                .is_some_and(|&b| b == b' ' || b == b'\t' || b == b'=')
    };
    spaced && (flag(b"-u") || flag(b"--user"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_prefix_is_within_reach() {
        for prefix in PROVIDER_PREFIXES {
            assert!(prefix.len() <= PROVIDER_PREFIX_REACH);
            let text = [b"key ".as_slice(), prefix, b"x"].concat();
            assert_eq!(
                provider_prefix_at(&text, 4 + prefix.len() - 1),
                Some(4),
                "{}",
                String::from_utf8_lossy(prefix)
            );
        }
    }

    #[test]
    fn prefixes_are_found_at_their_anchor_byte() {
        let text = b"x AKIAIOSFODNN7EXAMPLE ghp_x sk-ant-x task-force";
        assert_eq!(prefix_at(text, 2), Some((2, seed::AWS)));
        assert_eq!(prefix_at(text, 26), Some((23, seed::GITHUB)));
        assert_eq!(prefix_at(text, 31), Some((29, seed::ANTHROPIC)));
        assert_eq!(prefix_at(text, 43), None, "task- opens no key");
        assert_eq!(prefix_at(text, 999), None);
    }

    #[test]
    fn credential_names_macs_and_curl_flags() {
        assert!(credential_name_before(b"DB_PASSWORD = x", 12));
        assert!(credential_name_before(b"\"apiKey\": 1", 8));
        assert!(!credential_name_before(b"note: x", 4));
        assert!(mac_around(b"0012.3456.789a", 0));
        assert!(!mac_around(b"12.34", 0));
        assert!(curl_flag_at(b"curl -u a:b", 5));
        assert!(!curl_flag_at(b"sort -uniq", 5));
        assert!(mac_at(b"AA-BB-CC-DD-EE-FF", 2));
        assert_eq!(token_seeds(b"x=eyJhbGciOiJIUzI1NiJ9", 0), seed::JWT);
    }
}
