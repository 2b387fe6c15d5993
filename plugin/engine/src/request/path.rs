//! The request path as routes and the admin path see it (PSF IG-2, IR-2).
//!
//! Upstreams and proxies disagree on what a path means: one decodes `%63` to `c`, merges
//! `//`, resolves `/./` and `/x/../`, drops `;params` or a trailing slash, or ignores case,
//! and another does not. A filter that matches the raw path while the upstream reads a
//! normalised one forwards unread exactly what its routes were meant to inspect. So the
//! engine matches one canonical form and refuses a request whose raw path is not already
//! that form when it would land on an inspected route or the admin path. It never relies on
//! the host's own `normalize_path` or `merge_slashes` (a stock Istio config sets neither).

/// How many rounds of percent-decoding are applied: `%2563` is `%63` after one, `c` after
/// two. Upstreams that decode twice exist; more than three rounds is an attack on its own.
const DECODE_ROUNDS: usize = 3;

/// A request path split into what matching needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath<'a> {
    /// The path as the client sent it, without its query string.
    pub raw: &'a str,
    /// Decoded, merged, dot segments resolved, no `;params`, no trailing slash.
    pub canonical: String,
    /// The query string after `?`, if any.
    pub query: Option<&'a str>,
}

impl<'a> RequestPath<'a> {
    pub fn parse(path: &'a str) -> Self {
        let (raw, query) = match path.find(['?', '#']) {
            Some(at) => (&path[..at], path.get(at + 1..)),
            None => (path, None),
        };
        Self {
            raw,
            canonical: canonicalize(raw),
            query,
        }
    }

    /// Whether the client sent the canonical form itself.
    pub fn is_canonical(&self) -> bool {
        self.raw == self.canonical
    }

    /// Whether this path means `target` to a lenient upstream: the canonical form equals it
    /// ignoring ASCII case.
    pub fn may_mean(&self, target: &str) -> bool {
        self.canonical
            .eq_ignore_ascii_case(target.trim_end_matches('/'))
            || self.canonical.eq_ignore_ascii_case(target)
    }

    /// The path for the audit record: the raw path, and the query's parameter names with
    /// their values dropped (`?api_key=&email=`), since query values carry keys and PII.
    pub fn redacted(&self) -> String {
        let mut out = self.raw.to_string();
        if let Some(query) = self.query {
            out.push('?');
            for (index, pair) in query.split('&').enumerate() {
                if index > 0 {
                    out.push('&');
                }
                let name = pair.split('=').next().unwrap_or_default();
                out.push_str(&name.chars().take(64).collect::<String>());
                if pair.contains('=') {
                    out.push('=');
                }
            }
        }
        out
    }
}

/// The canonical form of `raw` (a path without its query).
pub fn canonicalize(raw: &str) -> String {
    let mut decoded = raw.to_string();
    for _ in 0..DECODE_ROUNDS {
        match percent_decode(&decoded) {
            Some(next) if next != decoded => decoded = next,
            _ => break,
        }
    }
    let mut segments: Vec<&str> = Vec::new();
    // A backslash is a separator to some servers; `;` starts matrix parameters to others.
    for segment in decoded.split(['/', '\\']) {
        let segment = segment.split(';').next().unwrap_or_default();
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// `text` with every `%XX` escape decoded; `None` when a decoded byte sequence is not UTF-8
/// (the caller keeps the undecoded text, which then is not canonical and matches nothing).
fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_string());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes
                .get(at + 1..at + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                at += 3;
                continue;
            }
        }
        out.push(bytes[at]);
        at += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_share_one_canonical_form() {
        // See: #15
        for variant in [
            "/v1/chat/completions",
            "//v1/chat/completions",
            "/v1/chat/completions/",
            "/v1//chat/completions",
            "/v1/chat/%63ompletions",
            "/v1/chat/%2563ompletions",
            "/v1/./chat/completions",
            "/v1/x/../chat/completions",
            "/v1/chat/completions;x",
            "/v1/chat;a=b/completions",
            "/v1%2Fchat%2fcompletions",
            "/v1\\chat\\completions",
            "/../v1/chat/completions",
        ] {
            let path = RequestPath::parse(variant);
            assert_eq!(path.canonical, "/v1/chat/completions", "{variant}");
            assert_eq!(path.is_canonical(), variant == "/v1/chat/completions");
        }
    }

    #[test]
    fn case_and_query_variants() {
        let path = RequestPath::parse("/.psf/v1/MODE?x=1");
        assert!(path.may_mean("/.psf/v1/mode"));
        assert_eq!(path.query, Some("x=1"));
        assert!(RequestPath::parse("/%2Epsf/v1/mode").may_mean("/.psf/v1/mode"));
        assert!(!RequestPath::parse("/v1/models").may_mean("/v1/chat/completions"));
    }

    #[test]
    fn query_values_never_reach_the_record() {
        let path = RequestPath::parse("/v1/chat/completions?api_key=ghp_abc&email=a@b.co&flag");
        assert_eq!(path.redacted(), "/v1/chat/completions?api_key=&email=&flag");
    }

    #[test]
    fn hostile_escapes_do_not_panic() {
        for raw in ["%", "%%", "%zz", "/%C3", "/%ff%fe", "/a%2", "/%00", ""] {
            let _ = RequestPath::parse(raw);
        }
        assert_eq!(canonicalize(""), "/");
    }
}
