//! Failure states of the output in a real Envoy with `policies/default.json` (PSF OV-5,
//! #5's third "done when"): an upstream 500 and a malformed JSON answer each become their
//! documented 502 error; a stream the upstream abandons stays visibly cut for the client and
//! is recorded as `truncated_stream`.

use crate::support::{chat, default_policy, start_mock_and_envoy};
use psf_host::http1::{self, SendOptions};
use psf_host::HttpRequest;
use serde_json::Value;
use std::time::Duration;

fn with_scenario(mut request: HttpRequest, scenario: &str) -> HttpRequest {
    request
        .headers
        .push(("x-mock-scenario".into(), scenario.into()));
    request
}

fn code(body: &[u8]) -> String {
    let value: Value = serde_json::from_slice(body).expect("the filter's JSON error");
    value["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn upstream_failures_get_their_documented_error_states() {
    let (_mock, envoy) = start_mock_and_envoy(&default_policy());
    let send = |request: &HttpRequest| {
        http1::send(envoy.listener_addr(), request, &SendOptions::default()).unwrap()
    };

    let response = send(&with_scenario(chat("hi", false), "status:500"));
    assert_eq!(response.status, 502, "{}", envoy.log());
    assert_eq!(response.header("x-psf-code"), Some("upstream_error"));
    assert_eq!(code(&response.body), "upstream_error");

    let response = send(&with_scenario(chat("hi", false), "malformed-json"));
    assert_eq!(response.status, 502, "{}", envoy.log());
    assert_eq!(code(&response.body), "malformed_output");

    // A 4xx is the client's business and passes as the provider sent it.
    let response = send(&with_scenario(chat("hi", false), "status:429"));
    assert_eq!(response.status, 429);

    let streamed = http1::send_streaming(
        envoy.listener_addr(),
        &with_scenario(chat("count to ten slowly", true), "truncated-stream"),
        &SendOptions::default(),
    )
    .unwrap();
    assert!(
        !streamed.complete,
        "a cut stream must not look complete: {}",
        String::from_utf8_lossy(&streamed.response.body)
    );
    assert!(!String::from_utf8_lossy(&streamed.response.body).contains("[DONE]"));
    envoy
        .wait_for_log("\"code\":\"truncated_stream\"", Duration::from_secs(15))
        .unwrap();
}

/// #5's second "done when": a JSON-mode route with a schema rejects a non-conforming answer
/// with `output_schema_violation` and passes a conforming one unchanged.
#[test]
fn a_json_route_with_a_schema_passes_conforming_answers_and_rejects_the_rest() {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    policy["routes"][0]["output_schema"] = serde_json::json!({"schema": {
        "type": "object", "required": ["city", "temp_c"], "additionalProperties": false,
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}}}});
    let (_mock, envoy) = start_mock_and_envoy(&policy.to_string());
    let send = |scenario: &str| {
        let request = with_scenario(chat("Weather in Paris as JSON", false), scenario);
        http1::send(envoy.listener_addr(), &request, &SendOptions::default()).unwrap()
    };

    let good = send("reply:weather-ok.json.txt");
    assert_eq!(good.status, 200, "{}", envoy.log());
    let expected =
        std::fs::read_to_string(psf_host::repo_root().join("examples/replies/weather-ok.json.txt"))
            .unwrap();
    let body: Value = serde_json::from_slice(&good.body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], expected.as_str());

    let bad = send("reply:weather-bad.json.txt");
    assert_eq!(bad.status, 502, "{}", envoy.log());
    assert_eq!(code(&bad.body), "output_schema_violation");
    let error: Value = serde_json::from_slice(&bad.body).unwrap();
    assert_eq!(error["error"]["param"], "/choices/0/message/content");
    assert!(!String::from_utf8_lossy(&bad.body).contains("warm"));
}

/// The same route streaming: the answer flows, and one that breaks the schema ends with
/// the error event (then `[DONE]`) where a conforming one ends with `[DONE]` alone.
#[test]
fn a_streamed_answer_is_checked_against_the_schema_when_it_ends() {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    policy["routes"][0]["output_schema"] = serde_json::json!({"schema": {
        "type": "object", "required": ["city", "temp_c"], "additionalProperties": false,
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number"}}}});
    let (_mock, envoy) = start_mock_and_envoy(&policy.to_string());
    let stream = |scenario: &str| {
        let request = with_scenario(chat("Weather in Paris as JSON", true), scenario);
        let body = http1::send(envoy.listener_addr(), &request, &SendOptions::default())
            .unwrap_or_else(|e| panic!("{e}: {}", envoy.log()))
            .body;
        String::from_utf8_lossy(&body).to_string()
    };
    let good = stream("reply:weather-ok.json.txt");
    assert!(!good.contains("output_schema_violation"), "{good}");
    assert!(good.ends_with("data: [DONE]\n\n"), "{good}");
    let bad = stream("reply:weather-bad.json.txt");
    assert!(
        bad.contains("\"code\":\"output_schema_violation\""),
        "{bad}"
    );
    assert!(bad.ends_with("data: [DONE]\n\n"), "{bad}");
}

/// A provider's gateway timeout (504, the status Envoy's own route timeout also answers
/// with) becomes the filter's `upstream_timeout` error, not a generic upstream error.
#[test]
fn a_gateway_timeout_gives_upstream_timeout() {
    let (_mock, envoy) = start_mock_and_envoy(&default_policy());
    let request = with_scenario(chat("Hello there.", false), "status:504");
    let response = http1::send(envoy.listener_addr(), &request, &SendOptions::default())
        .unwrap_or_else(|e| panic!("{e}: {}", envoy.log()));
    assert_eq!(response.status, 504, "{}", envoy.log());
    assert_eq!(code(&response.body), "upstream_timeout");
}
