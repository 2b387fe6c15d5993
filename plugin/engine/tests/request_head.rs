//! The request headers phase as effects: the engine reads what it needs from the host's
//! headers and properties and says which headers to remove and set.

use psf_engine::{ErrorCode, Exchange, Policy, RequestFacts, Step};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(extra: Value) -> Rc<Policy> {
    let mut document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions", "format": "openai_chat",
            "links": {"allowed_domains": ["example.com"]}}]});
    if let (Some(document), Some(extra)) = (document.as_object_mut(), extra.as_object()) {
        document.extend(extra.clone());
    }
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

/// Plays request headers `pairs` (with a POST to the chat route) and `properties`.
fn head(
    policy: &Rc<Policy>,
    pairs: &[(&str, &str)],
    properties: &[(&str, &str)],
) -> psf_engine::RequestHeadEffects {
    let base = [
        (":method", "POST"),
        (":path", "/v1/chat/completions"),
        ("content-type", "application/json"),
        ("content-length", "40"),
    ];
    // The test's own headers first, so they win over the base ones.
    let all: Vec<(&str, &str)> = pairs.iter().chain(&base).copied().collect();
    let header = |name: &str| all.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let count = |name: &str| all.iter().filter(|(n, _)| *n == name).count();
    let property = |path: &[&str]| {
        let path = path.join(".");
        properties
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, v)| v.to_string())
    };
    Exchange::new(Rc::clone(policy)).on_request_head(&RequestFacts {
        header: &header,
        count: &count,
        property: &property,
        end_of_stream: false,
    })
}

#[test]
fn a_clients_own_flags_go_and_a_checked_answer_is_asked_for_uncompressed() {
    let effects = head(
        &policy(json!({})),
        &[("x-psf-flags", "forged"), ("accept-encoding", "gzip")],
        &[],
    );
    assert_eq!(effects.step, Step::Pause);
    assert_eq!(effects.remove_headers, ["x-psf-flags", "accept-encoding"]);
    assert!(effects.set_headers.is_empty());
    assert!(!effects.clear_route_cache);
    // Without them, nothing is removed.
    assert!(head(&policy(json!({})), &[], &[]).remove_headers.is_empty());
}

#[test]
fn residency_reads_the_cluster_the_proxy_picked() {
    let policy = policy(
        json!({"residency": {"allowed_regions": ["eu"], "clusters": {"llm-eu": "eu", "llm-us": "us"}}}),
    );
    let outside = head(&policy, &[], &[("xds.cluster_name", "llm-us")]);
    let Step::Reject(rejection) = outside.step else {
        panic!("{:?}", outside.step)
    };
    assert_eq!(rejection.code, ErrorCode::DataResidencyViolation);
    // Older Envoys name the property `cluster_name`.
    let inside = head(&policy, &[], &[("cluster_name", "llm-eu")]);
    assert_eq!(inside.step, Step::Pause);
}

#[test]
fn a_repeated_identity_header_is_refused() {
    let policy = policy(
        json!({"rate_limits": {"limits": [{"id": "k", "key": [{"header": "x-api-key"}],
        "window": "1m", "requests": 10}]}}),
    );
    let effects = head(&policy, &[("x-api-key", "a"), ("x-api-key", "b")], &[]);
    let Step::Reject(rejection) = effects.step else {
        panic!("{:?}", effects.step)
    };
    assert_eq!(rejection.code, ErrorCode::DuplicateHeader);
}

/// A POST to the kill switch's admin path is marked so its credentials never leave with
/// headers released ahead of the body; an ordinary request is not.
#[test]
fn an_admin_post_is_marked_and_an_ordinary_one_is_not() {
    let policy = policy(
        json!({"incident": {"admin": {"token": "admin-token-0123456789abcdef",
        "sources": ["127.0.0.1/32"]}}}),
    );
    let admin = head(
        &policy,
        &[
            (":path", "/.psf/v1/mode"),
            ("authorization", "Bearer admin-token-0123456789abcdef"),
        ],
        &[("source.address", "127.0.0.1:5000")],
    );
    assert_eq!(admin.step, Step::Pause);
    assert!(admin.admin);
    let chat = head(&policy, &[], &[("source.address", "127.0.0.1:5000")]);
    assert_eq!(chat.step, Step::Pause);
    assert!(!chat.admin && chat.set_if_released.is_empty());
}
