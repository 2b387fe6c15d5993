//! The path normaliser: total, idempotent, and its canonical form always starts with `/`
//! and holds no empty, `.` or `..` segment.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::request::path::{canonicalize, RequestPath};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let path = RequestPath::parse(raw);
    let canonical = &path.canonical;
    assert!(canonical.starts_with('/'));
    if canonical.len() > 1 {
        assert!(!canonical.ends_with('/'));
        for segment in canonical[1..].split('/') {
            assert!(
                !segment.is_empty() && segment != "." && segment != "..",
                "{canonical:?}"
            );
        }
    }
    // A canonical path without escapes left is its own canonical form.
    if !canonical.contains('%') {
        assert_eq!(&canonicalize(canonical), canonical);
    }
    let redacted = path.redacted();
    assert!(redacted.len() <= raw.len() + 1);
});
