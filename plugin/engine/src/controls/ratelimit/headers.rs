//! OpenAI-style rate-limit headers, so clients and SDKs that back off on them work as they
//! do against the provider: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`.

use super::limiter::Standing;

/// The headers for `standing`, with `Retry-After` (whole seconds, at least 1) on refusals.
pub fn limit_headers(
    standing: &Standing,
    retry_after_ms: Option<u64>,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(ms) = retry_after_ms {
        headers.push(("retry-after", ms.div_ceil(1000).max(1).to_string()));
    }
    if let Some((limit, remaining, reset)) = standing.requests {
        headers.push(("x-ratelimit-limit-requests", limit.to_string()));
        headers.push(("x-ratelimit-remaining-requests", remaining.to_string()));
        headers.push(("x-ratelimit-reset-requests", duration(reset)));
    }
    if let Some((limit, remaining, reset)) = standing.tokens {
        headers.push(("x-ratelimit-limit-tokens", limit.to_string()));
        headers.push(("x-ratelimit-remaining-tokens", remaining.to_string()));
        headers.push(("x-ratelimit-reset-tokens", duration(reset)));
    }
    headers
}

/// `450ms`, `6s`, `1m30s`, `2h0m5s`: the form OpenAI's reset headers use.
fn duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let seconds = ms.div_ceil(1000);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_openai() {
        assert_eq!(duration(450), "450ms");
        assert_eq!(duration(6_000), "6s");
        assert_eq!(duration(90_000), "1m30s");
        assert_eq!(duration(7_205_000), "2h0m5s");
    }

    #[test]
    fn refusals_carry_retry_after() {
        let standing = Standing {
            requests: Some((10, 0, 6_000)),
            tokens: None,
        };
        let headers = limit_headers(&standing, Some(5_200));
        assert_eq!(headers[0], ("retry-after", "6".to_string()));
        assert!(headers.contains(&("x-ratelimit-remaining-requests", "0".to_string())));
    }
}
