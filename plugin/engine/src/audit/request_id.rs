//! The request id the record, the error bodies and the response headers carry (PSF OM-5).
//!
//! Envoy keeps a client's own `x-request-id` in many configurations, so the id is client
//! input: an email, a token or 50 KB of text would otherwise land verbatim in every audit
//! record and log line. An id is kept only when it looks like an id and holds no entity the
//! scanner finds; any other gets a fresh one the filter makes.

use crate::detect::pii::detect::Scanner;
use std::cell::Cell;

/// The longest id kept: UUIDs, ULIDs and trace ids all fit.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

thread_local! {
    static MINTED: Cell<u64> = const { Cell::new(0) };
}

/// `presented` when it is a plausible id, else one minted from `now_ms` and a counter.
pub fn request_id(presented: &str, now_ms: u64) -> String {
    let plausible = !presented.is_empty()
        && presented.len() <= MAX_REQUEST_ID_CHARS
        && presented
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    // Envoy's own ids are UUIDs, which hold nothing to find: only other ids are scanned.
    if plausible && (is_uuid(presented) || Scanner::default_scanner().find(presented).is_empty()) {
        return presented.to_string();
    }
    let n = MINTED.with(|m| {
        let n = m.get().wrapping_add(1);
        m.set(n);
        n
    });
    format!("psf-{now_ms:x}-{n:x}")
}

/// `8-4-4-4-12` hexadecimal digits.
fn is_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_kept_only_when_they_are_ids() {
        // See: #15 (finding 11)
        for id in [
            "0b8f6c3e-5d2a-4f7e-9c1a-2b3c4d5e6f70",
            "01HZX3Q4V8J6W2K9M5N7P0R1S3",
            "req_abc123",
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7",
        ] {
            assert_eq!(request_id(id, 1), id);
        }
        for hostile in [
            "ada@example.org",
            "ghp_a1B2c3D4a1B2c3D4a1B2c3D4a1B2c3D4e5F6",
            "",
            "a b",
            &"x".repeat(50_000),
        ] {
            let id = request_id(hostile, 1);
            assert!(id.starts_with("psf-1-"), "{id}");
        }
        assert_ne!(request_id("", 1), request_id("", 1));
    }
}
