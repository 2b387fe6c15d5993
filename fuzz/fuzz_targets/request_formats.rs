//! Each request format through the default policy's routes: a body is passed, rewritten
//! or rejected with a code, never a panic; a rewritten body is still JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::{check_body, Checked, Policy};
use std::sync::OnceLock;

fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let text = include_bytes!("../../policies/default.json");
        Policy::from_json(text).expect("the default policy loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let routes = &policy().routes;
    let route = &routes[usize::from(selector) % routes.len()];
    match check_body(route, body) {
        Checked::Pass(read) => {
            for segment in &read.request.segments {
                assert!(segment.pointer.is_empty() || segment.pointer.starts_with('/'));
            }
            if let Some(rewritten) = read.document.as_ref().and_then(|d| read.edits.splice(d)) {
                assert!(serde_json::from_slice::<serde_json::Value>(&rewritten).is_ok());
            }
        }
        Checked::Reject(rejection) => assert!(rejection.status() >= 400),
    }
});
