//! End to end in a real Envoy with the filter: the "Done when" lines of the foundation issue.

use crate::support::{chat, chat_of_size, default_policy, filter_envoy_config, MIB};
use psf_host::envoy::{Envoy, EnvoyOptions};
use psf_host::http1::{self, SendOptions};
use psf_host::mock_llm::{self, respond, MockContext, MockOptions};
use serde_json::Value;
use std::time::Duration;

#[test]
fn two_mib_body_gets_413_json_and_never_reaches_the_model() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let envoy = Envoy::start(
        &filter_envoy_config(&default_policy(), &mock),
        &EnvoyOptions::default(),
    )
    .unwrap();
    for chunked in [false, true] {
        let options = SendOptions {
            chunked,
            ..SendOptions::default()
        };
        let response =
            http1::send(envoy.listener_addr(), &chat_of_size(2 * MIB), &options).unwrap();
        assert_eq!(response.status, 413, "chunked={chunked}\n{}", envoy.log());
        assert_eq!(response.header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error"]["code"], "request_too_large");
        assert_eq!(body["error"]["type"], "psf_policy_violation");
        assert!(body["error"]["psf"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()));
    }
    assert!(mock.requests().is_empty(), "mock-llm saw a refused request");
    // The decision is in Envoy's log (the audit trail operators read).
    envoy
        .wait_for_log("\"decision\":\"block\"", Duration::from_secs(15))
        .unwrap();
}

#[test]
fn normal_chat_request_passes_unchanged() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let envoy = Envoy::start(
        &filter_envoy_config(&default_policy(), &mock),
        &EnvoyOptions::default(),
    )
    .unwrap();
    for stream in [false, true] {
        let request = chat("What is 2 + 2?", stream);
        let response =
            http1::send(envoy.listener_addr(), &request, &SendOptions::default()).unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(
            response.body,
            respond(&request, &MockContext::default()).body()
        );
    }
    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body, chat("What is 2 + 2?", false).body);
    assert_eq!(seen[1].body, chat("What is 2 + 2?", true).body);
}

#[test]
fn envoy_refuses_a_policy_without_owner_and_logs_why() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    policy.as_object_mut().unwrap().remove("owner");
    let log =
        Envoy::start_expect_failure(&filter_envoy_config(&policy.to_string(), &mock)).unwrap();
    assert!(
        log.lines().any(|l| l.contains("psf.log {")
            && l.contains("\"policy_invalid\"")
            && l.contains("owner: required field is missing")),
        "{log}"
    );
    assert!(
        log.contains("[error]"),
        "the reason is logged at error level:\n{log}"
    );
}
