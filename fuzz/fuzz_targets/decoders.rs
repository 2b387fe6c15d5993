//! The injection decoders (base64, hex, URL-encoding, Morse, two layers): total, and their
//! output bounded by a linear multiple of the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::detect::injection::decode::{payloads, rot13};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    payloads(&text, &mut out);
    let decoded: usize = out.iter().map(String::len).sum();
    assert!(
        decoded <= 64 * 1024 + 8 * text.len() + 4096,
        "{decoded} from {}",
        text.len()
    );
    assert_eq!(rot13(&rot13(&text)), text);
});
