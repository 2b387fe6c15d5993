//! PII and secrets in a real Envoy with `policies/default.json` (PSF DG-1): the model sees
//! placeholders, the client gets its own values back (JSON and streams split mid-placeholder,
//! mid-event and mid-character), look-alikes pass untouched, and a secret the model writes
//! is masked before the client reads it.

use crate::support::{audit_records_without, chat, start_mock_and_envoy, with_audit_text};
use psf_host::envoy::Envoy;
use psf_host::http1::{self, SendOptions};
use psf_host::message::streamed_text;
use psf_host::mock_llm::MockLlm;
use psf_host::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

const EMAIL: &str = "ada.lovelace@example.org";
const CARD: &str = "4111 1111 1111 1111";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

/// The default policy, with the redacted texts in every audit record.
fn pii_policy() -> String {
    with_audit_text(&crate::support::default_policy())
}

/// Every value these tests send; no audit record may hold one.
const VALUES: [&str; 4] = [EMAIL, CARD, IBAN, AWS_KEY];

fn prompt() -> String {
    format!("Please write to {EMAIL}: card {CARD} and IBAN {IBAN} are on file; rotate key {AWS_KEY} today.")
}

fn send(envoy: &Envoy, request: &HttpRequest) -> HttpResponse {
    http1::send(envoy.listener_addr(), request, &SendOptions::default()).unwrap()
}

fn with_scenario(mut request: HttpRequest, scenario: &str) -> HttpRequest {
    request
        .headers
        .push(("x-mock-scenario".into(), scenario.into()));
    request
}

/// What mock-llm received as the user's message.
fn model_saw(mock: &MockLlm) -> String {
    let requests = mock.requests();
    let request = requests.last().expect("mock-llm saw a request");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    body["messages"][0]["content"].as_str().unwrap().to_string()
}

fn assert_masked(seen: &str) {
    for (value, mask) in [
        (EMAIL, "[EMAIL_1]"),
        (CARD, "[PAYMENT_CARD_1]"),
        (IBAN, "[IBAN_1]"),
        (AWS_KEY, "[AWS_ACCESS_KEY_1]"),
    ] {
        assert!(!seen.contains(value), "the model saw {value}: {seen}");
        assert!(seen.contains(mask), "no {mask} in {seen}");
    }
}

#[test]
fn the_model_sees_placeholders_and_the_client_gets_its_values_back() {
    let (mock, envoy) = start_mock_and_envoy(&pii_policy());
    let response = send(&envoy, &chat(&prompt(), false));
    assert_eq!(response.status, 200, "{}", envoy.log());
    assert_masked(&model_saw(&mock));
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], prompt());
    assert_eq!(
        response.header("content-length").map(str::parse::<usize>),
        Some(Ok(response.body.len()))
    );
    let records = audit_records_without(&envoy, &VALUES, 1);
    // The redacted texts are there, with types where the values were.
    let redacted = records[0]["redacted"]["prompt"].as_str().unwrap();
    assert!(
        redacted.contains("[EMAIL]") && redacted.contains("[IBAN]"),
        "{redacted}"
    );
    // The answer as the model wrote it: placeholders, never the values they stand for.
    let answer = records[0]["redacted"]["response"].as_str().unwrap();
    assert!(answer.contains("[EMAIL_1]"), "{answer}");
    assert!(
        !envoy.log().contains(EMAIL),
        "nothing else in the log holds a value either"
    );
}

#[test]
fn placeholders_split_across_chunks_and_events_are_restored_in_streams() {
    let (mock, envoy) = start_mock_and_envoy(&pii_policy());
    let request = with_scenario(chat(&prompt(), true), "split-stream");
    let response = send(&envoy, &request);
    assert_eq!(response.status, 200, "{}", envoy.log());
    assert_masked(&model_saw(&mock));
    assert_eq!(streamed_text(&response.body), prompt());
    assert!(String::from_utf8_lossy(&response.body).ends_with("data: [DONE]\n\n"));

    // Anthropic's event stream, the same way.
    let anthropic = json!({"model": "claude-test", "max_tokens": 256, "stream": true,
        "messages": [{"role": "user", "content": prompt()}]});
    let request = with_scenario(
        HttpRequest::json("POST", "/v1/messages", anthropic.to_string()),
        "split-stream",
    );
    let response = send(&envoy, &request);
    assert_eq!(response.status, 200, "{}", envoy.log());
    let text = streamed_text(&response.body);
    assert_eq!(text, prompt());
    audit_records_without(&envoy, &VALUES, 2);
}

#[test]
fn look_alikes_pass_byte_for_byte() {
    let (mock, envoy) = start_mock_and_envoy(&pii_policy());
    let text = "Order 4111 1111 1111 1112 shipped; ticket 1234-5678-9012; version 10.2.3.";
    let request = chat(text, false);
    let response = send(&envoy, &request);
    assert_eq!(response.status, 200, "{}", envoy.log());
    assert_eq!(
        mock.requests().last().unwrap().body,
        request.body,
        "the body was changed"
    );
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["choices"][0]["message"]["content"], text);
    audit_records_without(&envoy, &VALUES, 1);
}

#[test]
fn a_token_the_model_writes_is_masked_before_the_client_sees_it() {
    let (_mock, envoy) = start_mock_and_envoy(&pii_policy());
    let token = format!("ghp_{}", "Zx9Qw2Er4Ty6Ui8Op0As1Df3Gh5Jk7Lm9Nb2");
    for stream in [false, true] {
        let request = with_scenario(
            chat("What token should I use?", stream),
            "reply:github-token.txt",
        );
        let response = send(&envoy, &request);
        assert_eq!(response.status, 200, "{}", envoy.log());
        let text = if stream {
            streamed_text(&response.body)
        } else {
            let body: Value = serde_json::from_slice(&response.body).unwrap();
            body["choices"][0]["message"]["content"]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert!(!text.contains(&token[..12]), "stream={stream}: {text}");
        assert!(text.contains("[GITHUB_TOKEN]"), "stream={stream}: {text}");
    }
    audit_records_without(&envoy, &[&token[..12]], 2);
}

#[test]
fn a_blocked_type_gets_403_naming_the_type_not_the_value() {
    let mut policy: Value = serde_json::from_str(&pii_policy()).unwrap();
    policy["routes"][0]["pii"]["request"]["credential"] = json!("block");
    let (mock, envoy) = start_mock_and_envoy(&policy.to_string());
    let response = send(&envoy, &chat(&prompt(), false));
    assert_eq!(response.status, 403, "{}", envoy.log());
    assert_eq!(response.header("x-psf-code"), Some("pii_detected"));
    let body = String::from_utf8_lossy(&response.body);
    assert!(body.contains("aws_access_key"), "{body}");
    assert!(!body.contains(AWS_KEY), "{body}");
    assert!(mock.requests().is_empty(), "mock-llm saw a blocked prompt");
    audit_records_without(&envoy, &VALUES, 1);
}
