//! External moderation in a real Envoy (PSF OV-3): the filter asks an OpenAI-style
//! moderation service (mock-llm's `/v1/moderations`, through the `moderation` cluster) about
//! every prompt with `http_call`. A flagged prompt gets 403 `harmful_request` and never
//! reaches the model; a clean one goes on, PII already masked for the service; a service
//! that fails is handled by the explicit `failure_mode`: `closed` refuses with 503
//! `moderation_unavailable`, `open` forwards and flags the request.

use crate::support::{chat, start_mock_and_envoy};
use psf_host::envoy::Envoy;
use psf_host::http1::{self, SendOptions};
use psf_host::HttpResponse;
use serde_json::{json, Value};

/// The default policy with `moderation` on every route's content filter.
fn policy(moderation: Value) -> String {
    let mut policy: Value =
        serde_json::from_str(&crate::support::default_policy()).expect("default policy");
    for route in policy["routes"].as_array_mut().expect("routes") {
        route["content_filter"]["moderation"] = moderation.clone();
    }
    policy.to_string()
}

/// A chat request with `text` through `envoy`, answered in full.
fn ask(envoy: &Envoy, text: &str) -> HttpResponse {
    http1::send(
        envoy.listener_addr(),
        &chat(text, false),
        &SendOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}: {}", envoy.log()))
}

fn error_code(body: &[u8]) -> String {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn flagged_prompts_are_refused_and_clean_ones_reach_the_model_masked() {
    let (mock, envoy) = start_mock_and_envoy(&policy(json!({
        "cluster": "moderation", "failure_mode": "closed", "timeout_ms": 2000
    })));

    let flagged = ask(&envoy, "Describe the massacre scene in gory detail.");
    assert_eq!(flagged.status, 403, "{}", envoy.log());
    assert_eq!(error_code(&flagged.body), "harmful_request");
    assert!(String::from_utf8_lossy(&flagged.body).contains("violence"));

    let clean = ask(
        &envoy,
        "Write to ada@example.org about the weather in Paris.",
    );
    assert_eq!(clean.status, 200, "{}", envoy.log());
    let requests = mock.requests();
    let moderation: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/v1/moderations"))
        .collect();
    assert_eq!(moderation.len(), 2, "one call per prompt");
    let sent = String::from_utf8_lossy(&moderation[1].body);
    assert!(
        sent.contains("[EMAIL_1]") && !sent.contains("ada@"),
        "{sent}"
    );
    let to_model: Vec<_> = requests
        .iter()
        .filter(|r| r.path == "/v1/chat/completions")
        .collect();
    assert_eq!(
        to_model.len(),
        1,
        "the flagged prompt never reached the model"
    );
}

#[test]
fn a_failing_service_is_handled_by_the_failure_mode() {
    for (mode, status, code) in [("closed", 503, "moderation_unavailable"), ("open", 200, "")] {
        let (mock, envoy) = start_mock_and_envoy(&policy(json!({
            "cluster": "moderation", "path": "/v1/moderations/status/500",
            "failure_mode": mode, "timeout_ms": 2000
        })));
        let response = ask(&envoy, "Hello there.");
        assert_eq!(response.status, status, "{mode}: {}", envoy.log());
        assert_eq!(error_code(&response.body), code, "{mode}");
        let reached = mock
            .requests()
            .iter()
            .any(|r| r.path == "/v1/chat/completions");
        assert_eq!(reached, mode == "open", "{mode}");
        if mode == "open" {
            let flags = response
                .headers
                .iter()
                .find(|(k, _)| k == "x-psf-flags")
                .map(|(_, v)| v.clone());
            assert_eq!(flags.as_deref(), Some("moderation_unavailable"), "{mode}");
        }
    }
}

#[test]
fn a_cluster_the_proxy_does_not_know_fails_like_an_outage() {
    let (_mock, envoy) = start_mock_and_envoy(&policy(json!({
        "cluster": "no-such-cluster", "failure_mode": "closed"
    })));
    let response = ask(&envoy, "Hello there.");
    assert_eq!(response.status, 503, "{}", envoy.log());
    assert_eq!(error_code(&response.body), "moderation_unavailable");
}

/// With `directions: ["response"]` the service judges the model's complete JSON answers
/// (mock-llm echoes the prompt, so the prompt decides what the answer says): a flagged
/// answer is withheld with 502 `content_filtered`, a clean one passes unchanged, and a
/// failing service follows the failure mode here too.
#[test]
fn answers_are_moderated_when_the_route_asks() {
    let (mock, envoy) = start_mock_and_envoy(&policy(json!({
        "cluster": "moderation", "failure_mode": "closed", "directions": ["response"]
    })));
    let flagged = ask(&envoy, "Plot of a murder mystery, please.");
    assert_eq!(flagged.status, 502, "{}", envoy.log());
    assert_eq!(error_code(&flagged.body), "content_filtered");
    assert!(!String::from_utf8_lossy(&flagged.body).contains("mystery"));
    let clean = ask(&envoy, "Weather in Paris?");
    assert_eq!(clean.status, 200, "{}", envoy.log());
    let answer: Value = serde_json::from_slice(&clean.body).unwrap();
    assert!(answer["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .contains("Weather in Paris?"));
    // Only answers went to the service: one call per answer, none per prompt.
    let calls = mock
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/moderations"))
        .count();
    assert_eq!(calls, 2);

    let (_mock, envoy) = start_mock_and_envoy(&policy(json!({
        "cluster": "moderation", "path": "/v1/moderations/status/503",
        "failure_mode": "closed", "directions": ["response"]
    })));
    let response = ask(&envoy, "Hello there.");
    assert_eq!(response.status, 503, "{}", envoy.log());
    assert_eq!(error_code(&response.body), "moderation_unavailable");
}
