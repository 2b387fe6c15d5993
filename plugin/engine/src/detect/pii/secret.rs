//! Judges for API keys and tokens with a fixed prefix. A prefix and a length are easy to
//! fake in docs and tests (`ghp_xxxx…`, `AIzaSyabcdefgh…`), so the random part must also look
//! random, and the key must stand alone rather than sit inside a longer token.

use super::context::{self, Words};
use super::hit::{token_alone, Found, Hit};

/// Whether `body` looks like generated key material rather than a placeholder: enough
/// distinct characters, no long run of one character, and not mostly an alphabet or digit
/// sequence.
pub fn random_enough(body: &str) -> bool {
    let bytes = body.as_bytes();
    if bytes.len() < 8 {
        return false;
    }
    let mut seen = [false; 256];
    for &b in bytes {
        seen[usize::from(b)] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    let (mut same, mut longest_same, mut step, mut longest_step) = (1, 1, 1, 1);
    for pair in bytes.windows(2) {
        same = if pair[0] == pair[1] { same + 1 } else { 1 };
        step = if pair[1] == pair[0].wrapping_add(1) {
            step + 1
        } else {
            1
        };
        longest_same = longest_same.max(same);
        longest_step = longest_step.max(step);
    }
    distinct * 4 >= bytes.len().min(64)
        && distinct >= 5
        && longest_same < 6
        && longest_step < (bytes.len() / 2).max(8)
}

/// A fixed-prefix key: alone as a token, with a random-looking body after `prefix_len`.
fn prefixed(hit: Hit<'_>, prefix_len: usize, score: f32) -> Option<Found> {
    let body = hit.as_str().get(prefix_len..)?;
    (token_alone(&hit) && random_enough(body))
        .then(|| hit.found(score))
        .flatten()
}

/// The longest provider token: the open-ended formats (Fly.io macaroons, presigned Bedrock
/// keys) run to a few KB; a longer run of that alphabet is data, not a key.
const MAX_PROVIDER_TOKEN: usize = 4096;

/// Another provider's token (see `specs::PROVIDER_TOKEN`): alone, with a random body after
/// its prefix (up to the first `_`, `-`, `.` or `~` in the first 16 characters, else the
/// first 4).
pub fn provider(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    // A piece of a dotted name (`video_box.ico-7a38….png`) is a file or host name.
    let dotted = |dot: Option<u8>, next: Option<u8>| {
        dot == Some(b'.') && next.is_some_and(|b| b.is_ascii_alphanumeric())
    };
    if text.len() > MAX_PROVIDER_TOKEN
        || dotted(hit.before(1), hit.before(2))
        || dotted(hit.after(0), hit.after(1))
    {
        return None;
    }
    let prefix = text
        .bytes()
        .take(16)
        .position(|b| matches!(b, b'_' | b'-' | b'.' | b'~'))
        .map_or(4, |p| p + 1);
    prefixed(hit, prefix, 0.85)
}

/// `AKIA…` and the other AWS access key id prefixes: four letters and sixteen more.
pub fn aws_access_key(hit: Hit<'_>) -> Option<Found> {
    prefixed(hit, 4, 0.9)
}

/// Words that name an AWS secret access key.
const AWS_SECRET_WORDS: Words = Words::new(&[
    "aws",
    "aws_secret_access_key",
    "secret_access_key",
    "secretaccesskey",
    "aws_secret_key",
    "aws_secret",
    "aws secret",
    "secret key",
    "secret access key",
]);

/// A 40-character AWS secret access key: base64 with mixed classes, alone, and named by a
/// word such as `aws_secret_access_key` or `aws` just before it (anything else of that shape
/// is far more often a hash or an id).
pub fn aws_secret_key(hit: Hit<'_>) -> Option<Found> {
    let b64 = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+' || b == b'=';
    if hit.before(1).is_some_and(b64) || hit.after(0).is_some_and(b64) {
        return None;
    }
    let text = hit.as_str();
    let classes = [
        text.bytes().any(|b| b.is_ascii_uppercase()),
        text.bytes().any(|b| b.is_ascii_lowercase()),
        text.bytes().any(|b| b.is_ascii_digit()),
        text.bytes().any(|b| b == b'/' || b == b'+'),
    ];
    if classes.iter().filter(|c| **c).count() < 3 || !random_enough(text) {
        return None;
    }
    context::before(hit.text, hit.start, 64, &AWS_SECRET_WORDS)
        .then(|| hit.found(0.9))
        .flatten()
}

/// GitHub tokens: `ghp_` and its siblings, or a fine-grained `github_pat_`.
pub fn github(hit: Hit<'_>) -> Option<Found> {
    let prefix = if hit.as_str().starts_with("github_pat_") {
        11
    } else {
        4
    };
    prefixed(hit, prefix, 0.95)
}

/// GitLab tokens: each prefix has its documented body length; routable tokens carry a
/// `.` and a suffix.
pub fn gitlab(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let (prefix, body) = match text.strip_prefix("GR1348941") {
        Some(body) => ("GR1348941", body),
        None => text.split_once('-')?,
    };
    // Fixed lengths where GitLab documents one; at least 20 characters elsewhere (older
    // tokens are 20, routable ones longer, with a `.` and a suffix).
    let ok = match prefix {
        "glpat" | "glrt" | "gldt" | "glsoat" | "glffct" | "glft" | "glcbt" | "GR1348941" => {
            body.len() >= 20
        }
        "glptt" => body.len() == 40,
        "glimt" => body.len() == 25,
        "glagent" => body.len() >= 50,
        "gloas" => body.len() == 64,
        _ => false,
    };
    (ok && token_alone(&hit) && random_enough(body))
        .then(|| hit.found(0.95))
        .flatten()
}

/// Slack tokens (`xoxb-` and friends, app and configuration tokens) and webhook URLs.
pub fn slack(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    if text.contains("hooks.slack.com") {
        let last = text.rsplit('/').next().unwrap_or_default();
        return random_enough(last).then(|| hit.found(0.95)).flatten();
    }
    if !token_alone(&hit) {
        return None;
    }
    if text.starts_with("xapp-") || text.starts_with("xoxe.") {
        let long = text.starts_with("xapp-") || text.len() >= 100;
        return (long && random_enough(text))
            .then(|| hit.found(0.95))
            .flatten();
    }
    let body = text.get(5..)?;
    // A leading version digit ("xoxe-1-…", "xoxa-2-…") is not the id.
    let mut segments: Vec<&str> = body.split('-').collect();
    if segments.len() > 1 && segments[0].len() == 1 {
        segments.remove(0);
    }
    let first = segments.first().copied().unwrap_or_default();
    let last = segments.last().copied().unwrap_or_default();
    // Most tokens lead with a numeric team or user id; workspace tokens (xoxa, xoxr) may be
    // one random segment; refresh tokens one long one.
    let workspace = matches!(text.as_bytes().get(3), Some(b'a' | b'r'));
    let id_first = first.len() >= 6 && first.bytes().all(|b| b.is_ascii_digit());
    let ok = (id_first && segments.len() >= 2 && last.len() >= 8)
        || (workspace && first.len() >= 8)
        || segments.iter().any(|s| s.len() >= 40);
    (ok && random_enough(last))
        .then(|| hit.found(0.95))
        .flatten()
}

/// Stripe secret and restricted keys (`sk_live_`, `rk_test_`, …).
pub fn stripe(hit: Hit<'_>) -> Option<Found> {
    prefixed(hit, 8, 0.95)
}

/// Google API keys (`AIza` and 35 more).
pub fn google(hit: Hit<'_>) -> Option<Found> {
    prefixed(hit, 4, 0.9)
}

/// OpenAI keys (`sk-…T3BlbkFJ…` and the older 48-character form).
pub fn openai(hit: Hit<'_>) -> Option<Found> {
    prefixed(hit, 3, 0.95)
}

/// Anthropic API and admin keys: `sk-ant-api03-…AA`, `sk-ant-admin01-…AA`.
pub fn anthropic(hit: Hit<'_>) -> Option<Found> {
    if !hit.as_str().ends_with("AA") {
        return None;
    }
    prefixed(hit, 7, 0.95)
}

/// A JSON Web Token: three dot-separated base64url parts whose header decodes to a JSON
/// object naming its algorithm or type, and whose payload decodes to a JSON object.
pub fn jwt(hit: Hit<'_>) -> Option<Found> {
    if hit.before(1).is_some_and(super::hit::is_token) {
        return None;
    }
    let mut parts = hit.as_str().split('.');
    let header = base64url(parts.next()?)?;
    let payload = base64url(parts.next()?)?;
    let header = String::from_utf8_lossy(&header);
    let header = header.trim();
    let object = header.starts_with('{') && header.ends_with('}');
    let names = header.contains("\"alg\"") || header.contains("\"typ\"");
    (object && names && payload.first() == Some(&b'{'))
        .then(|| hit.found(0.95))
        .flatten()
}

/// Decodes unpadded base64url; `None` on a character outside the alphabet.
pub(crate) fn base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// How far a PEM block may run before its END line is no longer looked for.
pub const PEM_REACH: usize = 16 * 1024;

/// A PEM private key: the whole block when its END line follows (and the body looks like
/// key material), else the BEGIN line alone, which already says a key follows.
pub fn private_key(hit: Hit<'_>) -> Option<Found> {
    let rest = hit.text.get(hit.end..)?;
    let reach = rest.len().min(PEM_REACH);
    let window = rest.get(..reach).or_else(|| {
        // PEM_REACH landed inside a character: any END line is ASCII and ends before it.
        (0..reach).rev().find_map(|at| rest.get(..at))
    })?;
    // Only the next dashed line can close this block; stopping there keeps a run of
    // headers linear.
    let end_at = match window.find("-----") {
        Some(at) if window.get(at..).is_some_and(|t| t.starts_with("-----END ")) => at,
        _ => return hit.found(0.85),
    };
    let body = window.get(..end_at).unwrap_or_default();
    let key_bytes = body
        .lines()
        .filter(|line| !line.contains(':'))
        .flat_map(str::bytes)
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    if key_bytes < 20 {
        return None; // "-----BEGIN PRIVATE KEY-----\n...\n-----END": a placeholder
    }
    let tail = window.get(end_at..).unwrap_or_default();
    let close = tail
        .get(9..)
        .and_then(|t| t.find("-----"))
        .map_or(9, |at| 9 + at + 5);
    Some(Found {
        start: hit.start,
        end: hit.end + end_at + close,
        score: 0.99,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(judge: fn(Hit<'_>) -> Option<Found>, text: &str, span: &str) -> Option<Found> {
        let start = text.find(span)?;
        judge(Hit {
            text,
            start,
            end: start + span.len(),
        })
    }

    #[test]
    fn placeholders_are_not_random() {
        assert!(random_enough("wWPw5k4aXcaT4fNP0UcnZwJUVFk6LO0pINUx"));
        assert!(!random_enough("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert!(!random_enough("XXXXXXXXXXX-XXXXXXXX"));
        assert!(!random_enough("Syabcdefghijklmnopqrstuvwxyz1234567"));
        assert!(!random_enough("12312312312312312312"));
        assert!(!random_enough("short"));
    }

    #[test]
    fn prefixed_keys_stand_alone() {
        let key = "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";
        assert!(judge(github, key, key).is_some());
        let glued = format!("x{key}");
        assert!(judge(github, &glued, key).is_none());
        assert!(judge(
            aws_access_key,
            "AKIAXXXXXXXXXXXXXXXX",
            "AKIAXXXXXXXXXXXXXXXX"
        )
        .is_none());
        assert!(judge(
            gitlab,
            "glpat-Xk9pQ2mZ7vR4tY8wB3nL",
            "glpat-Xk9pQ2mZ7vR4tY8wB3nL"
        )
        .is_some());
        assert!(judge(
            gitlab,
            "glptt-Need5_T00-be-exactly-40-chars--ELse",
            "glptt-Need5_T00-be-exactly-40-chars--ELse"
        )
        .is_none());
    }

    #[test]
    fn slack_tokens_need_an_id_and_a_random_tail() {
        let bot = "xoxb-781236542736-2364535789652-GkwFDQoHqzXDVsC6GzqYUypD";
        assert!(judge(slack, bot, bot).is_some());
        for fake in [
            "xoxb-12345-abcd234",
            "xoxb-xxxxxxxxx-xxxxxxxxxx-xxxxxxxxxxxx",
            "xoxp-1234-1234-1234-4ddbc191d4",
        ] {
            assert!(judge(slack, fake, fake).is_none(), "{fake}");
        }
        let hook = "https://hooks.slack.com/services/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";
        assert!(judge(slack, hook, hook).is_some());
    }

    #[test]
    fn aws_secret_keys_need_their_name() {
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let named = format!("aws_secret_access_key=\"{key}\"");
        assert!(judge(aws_secret_key, &named, key).is_some());
        let bare = format!("checksum {key}");
        assert!(judge(aws_secret_key, &bare, key).is_none());
        let longer = format!("aws_secret_access_key={key}a");
        assert!(judge(aws_secret_key, &longer, key).is_none());
    }

    #[test]
    fn jwts_decode_to_json_objects() {
        let jwt_text = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(judge(jwt, jwt_text, jwt_text).is_some());
        let unsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ0ZXN0LXVzZXIifQ.";
        assert!(judge(jwt, unsigned, unsigned).is_some());
        let cut_header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc";
        assert!(judge(jwt, cut_header, cut_header).is_none());
    }

    #[test]
    fn private_keys_span_their_block() {
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDAC4AWkdwKYSd8";
        let text =
            format!("key:\n-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\nbye");
        let found = judge(private_key, &text, "-----BEGIN PRIVATE KEY-----");
        let block = found.and_then(|f| text.get(f.start..f.end));
        assert!(block.is_some_and(|b| b.ends_with("-----END PRIVATE KEY-----")));
        let fake = "-----BEGIN PRIVATE KEY-----\nanything\n-----END PRIVATE KEY-----";
        assert!(judge(private_key, fake, "-----BEGIN PRIVATE KEY-----").is_none());
        let cut = "-----BEGIN RSA PRIVATE KEY-----\nMIIE";
        let short = "-----BEGIN RSA PRIVATE KEY-----\nsuper secret private key here\n-----END RSA PRIVATE KEY-----";
        assert!(judge(private_key, short, "-----BEGIN RSA PRIVATE KEY-----").is_some());
        let header = judge(private_key, cut, "-----BEGIN RSA PRIVATE KEY-----");
        assert_eq!(header.map(|f| f.end), Some(31));
    }
}
