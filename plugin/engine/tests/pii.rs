//! PII and secrets through an exchange (PSF DG-1): masking in requests with correct JSON,
//! restoring in JSON and streamed responses split anywhere, response-side masking, the
//! actions, monitor mode, and the policy errors of the `pii` section.

use crate::guards::play_bytes;
use psf_engine::{Decision, ErrorCode, Exchange, Policy, ResponsePlan, ResponseStep, Step};
use serde_json::{json, Value};
use std::rc::Rc;

const EMAIL: &str = "ada.lovelace@example.org";
const CARD: &str = "4111 1111 1111 1111";
const IBAN: &str = "DE89 3704 0044 0532 0130 00";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn policy_with(mode: &str, pii: Value) -> Rc<Policy> {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "mode": mode,
    "routes": [
        {"id": "chat", "path": "/v1/chat/completions", "pii": pii},
        {"id": "claude", "path": "/v1/messages", "pii": pii}
    ]});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

fn default_pii() -> Rc<Policy> {
    policy_with("enforce", json!({}))
}

fn user(text: &str) -> Vec<u8> {
    json!({"model": "m", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

fn forwarded(step: Step) -> Value {
    let Step::Replace(body) = step else {
        panic!("expected a rewritten body, got {step:?}")
    };
    serde_json::from_slice(&body).expect("the rewritten body is JSON")
}

fn prompt() -> String {
    format!("Write to {EMAIL}; card {CARD}, IBAN {IBAN}, key {AWS_KEY}.")
}

#[test]
fn requests_are_masked_with_stable_placeholders() {
    let text = format!("{} Again: {EMAIL}, and bob@example.net.", prompt());
    let (step, exchange) = play_bytes(&default_pii(), "/v1/chat/completions", &user(&text));
    let sent = forwarded(step)["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        sent,
        "Write to [EMAIL_1]; card [PAYMENT_CARD_1], IBAN [IBAN_1], key [AWS_ACCESS_KEY_1]. Again: [EMAIL_1], and [EMAIL_2]."
    );
    let record = exchange.record().to_json(exchange.policy());
    assert!(record.contains(r#"{"type":"email","class":"contact","sensitivity":"medium","direction":"request","action":"placeholder","count":3}"#), "{record}");
    assert_eq!(exchange.record().decision, Decision::Modify);
    for value in [EMAIL, CARD, IBAN, AWS_KEY] {
        assert!(!record.contains(value));
    }
}

#[test]
fn rewriting_keeps_json_valid_and_other_bytes_unchanged() {
    // An escaped @, multi-byte text around the entity, and formatting the client chose.
    let body = "{\"model\" : \"m\",\n \"messages\": [{\"role\":\"user\",\"content\":\"Grüße 🦀 ada\\u0040example.com \\\"quoted\\\"\"}], \"temperature\": 0.50}";
    let (step, _) = play_bytes(&default_pii(), "/v1/chat/completions", body.as_bytes());
    let Step::Replace(out) = step else {
        panic!("{step:?}")
    };
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        "{\"model\" : \"m\",\n \"messages\": [{\"role\":\"user\",\"content\":\"Grüße 🦀 [EMAIL_1] \\\"quoted\\\"\"}], \"temperature\": 0.50}"
    );
}

#[test]
fn untouched_requests_are_not_rewritten() {
    let (step, exchange) = play_bytes(
        &default_pii(),
        "/v1/chat/completions",
        &user("card 4111 1111 1111 1112, order 1234-5678-9012"),
    );
    assert_eq!(step, Step::Continue);
    assert!(exchange.record().entities.is_empty());
}

#[test]
fn tool_arguments_and_anthropic_tool_inputs_are_masked() {
    let body = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "mail", "input": {"to": EMAIL, "n": 2}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": format!("sent to {EMAIL}")}]}
    ]});
    let (step, _) = play_bytes(&default_pii(), "/v1/messages", body.to_string().as_bytes());
    let out = forwarded(step);
    assert_eq!(
        out["messages"][1]["content"][0]["input"],
        json!({"to": "[EMAIL_1]", "n": 2})
    );
    assert_eq!(
        out["messages"][2]["content"][0]["content"],
        "sent to [EMAIL_1]"
    );
}

fn respond_json(exchange: &mut Exchange, body: &Value) -> Value {
    assert_eq!(
        exchange.on_response_headers(200, Some("application/json"), None),
        ResponsePlan::Buffer
    );
    match exchange.on_response_body(body.to_string().as_bytes()) {
        ResponseStep::Replace(out) => serde_json::from_slice(&out).unwrap(),
        ResponseStep::Continue => body.clone(),
        other => panic!("{other:?}"),
    }
}

fn chat_reply(text: &str) -> Value {
    json!({"id": "c", "object": "chat.completion", "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
}

#[test]
fn json_responses_get_placeholders_restored_and_model_secrets_masked() {
    let (step, mut exchange) = play_bytes(&default_pii(), "/v1/chat/completions", &user(&prompt()));
    let sent = forwarded(step)["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let token = format!("ghp_{}", "a1B2c3D4".repeat(4) + "e5F6");
    let reply = format!("{sent} Also use {token}.");
    let out = respond_json(&mut exchange, &chat_reply(&reply));
    assert_eq!(
        out["choices"][0]["message"]["content"],
        format!("{} Also use [GITHUB_TOKEN].", prompt())
    );
    let record = exchange.record().to_json(exchange.policy());
    assert!(record.contains(r#""type":"github_token","class":"credential","sensitivity":"critical","direction":"response","action":"redact""#), "{record}");
    assert!(!record.contains(&token));
}

/// An OpenAI chat stream of `text` in pieces of `size` characters.
fn chat_stream(text: &str, size: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for piece in chars.chunks(size) {
        let piece: String = piece.iter().collect();
        out += &format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]})
        );
    }
    out += &format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    );
    out + "data: [DONE]\n\n"
}

fn stream_text(out: &[u8]) -> String {
    String::from_utf8(out.to_vec())
        .expect("the stream stays UTF-8")
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn streams_split_anywhere_are_restored() {
    let policy = default_pii();
    let (step, _) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
    let sent = forwarded(step)["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let reply = format!("Grüße 🦀 {sent}");
    let stream = chat_stream(&reply, 3);
    let bytes = stream.as_bytes();
    for cut in (0..bytes.len()).step_by(7) {
        let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
        assert_eq!(
            exchange.on_response_headers(200, Some("text/event-stream"), None),
            ResponsePlan::Stream
        );
        let mut out = exchange.on_response_chunk(&bytes[..cut], false);
        out.extend(exchange.on_response_chunk(&bytes[cut..], true));
        assert_eq!(
            stream_text(&out),
            format!("Grüße 🦀 {}", prompt()),
            "cut at {cut}"
        );
    }
}

#[test]
fn stream_hold_back_is_small() {
    let policy = default_pii();
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    let first = chat_stream("Hello there, how are you", 6);
    let first_event = first.split_inclusive("\n\n").next().unwrap();
    let out = exchange.on_response_chunk(first_event.as_bytes(), false);
    // "Hello " goes out at once: only a word in progress or a possible mask waits.
    assert_eq!(stream_text(&out), "Hello ");
}

#[test]
fn a_blocked_type_refuses_the_request_and_names_only_types() {
    let policy = policy_with("enforce", json!({"request": {"credential": "block"}}));
    let (step, exchange) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
    let Step::Reject(rejection) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (403, ErrorCode::PiiDetected)
    );
    assert!(rejection.message.contains("aws_access_key"));
    assert!(!rejection.message.contains(AWS_KEY));
    assert_eq!(exchange.record().decision, Decision::Block);
}

#[test]
fn a_blocked_type_in_a_stream_ends_it_with_an_error_event() {
    let policy = policy_with("enforce", json!({"response": {"email": "block"}}));
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hello"));
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    let out = exchange.on_response_chunk(
        chat_stream("mail eve@example.com now please", 4).as_bytes(),
        true,
    );
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("\"code\":\"pii_in_output\""), "{out}");
    assert!(!out.contains("eve@"), "{out}");
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn actions_render_as_documented() {
    let policy = policy_with(
        "enforce",
        json!({"pseudonym_key": "correct horse battery staple",
               "request": {"email": "pseudonymize", "payment_card": "partial", "iban": "redact", "credential": "allow"}}),
    );
    let (step, _) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
    let sent = forwarded(step)["messages"][0]["content"]
        .as_str()
        .unwrap()
        .to_string();
    let pseudonym = sent
        .split_whitespace()
        .nth(2)
        .unwrap()
        .trim_end_matches(';');
    assert!(
        pseudonym.starts_with("<EMAIL:") && pseudonym.len() == 16,
        "{sent}"
    );
    assert!(sent.contains("card ************1111,"), "{sent}");
    assert!(sent.contains("IBAN [IBAN],"), "{sent}");
    assert!(sent.contains(AWS_KEY), "{sent}");
    // The same key and value give the same pseudonym in another request.
    let (again, _) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
    assert!(forwarded(again)["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains(pseudonym));
}

#[test]
fn monitor_mode_counts_and_changes_nothing() {
    let policy = policy_with("monitor", json!({}));
    let (step, exchange) = play_bytes(&policy, "/v1/chat/completions", &user(&prompt()));
    assert_eq!(step, Step::Continue);
    assert_eq!(exchange.record().entities.len(), 4);
}

#[test]
fn custom_entities_follow_their_pattern_validator_and_context() {
    let policy = policy_with(
        "enforce",
        json!({"custom": [{"name": "employee_id", "pattern": "EMP-[0-9]{6}", "context": ["employee"], "score": 0.4}]}),
    );
    let (step, _) = play_bytes(
        &policy,
        "/v1/chat/completions",
        &user("employee EMP-123456 joined"),
    );
    assert_eq!(
        forwarded(step)["messages"][0]["content"],
        "employee [EMPLOYEE_ID_1] joined"
    );
    // Below the default min_score without its context word.
    let (step, _) = play_bytes(
        &policy,
        "/v1/chat/completions",
        &user("ticket EMP-123456 closed"),
    );
    assert_eq!(step, Step::Continue);
}

#[test]
fn pii_policy_errors_name_the_field() {
    let cases: [(Value, &str); 6] = [
        (
            json!({"request": {"email": "pseudonymize"}}),
            "routes[0].pii.pseudonym_key",
        ),
        (
            json!({"pseudonym_key": "short"}),
            "routes[0].pii.pseudonym_key",
        ),
        (
            json!({"request": {"emial": "redact"}}),
            "routes[0].pii.request.emial",
        ),
        (
            json!({"response": {"contact": "hide"}}),
            "routes[0].pii.response.contact",
        ),
        (
            json!({"custom": [{"name": "x", "pattern": "("}]}),
            "routes[0].pii.custom[0].pattern",
        ),
        (
            json!({"custom": [{"name": "email", "pattern": "x"}]}),
            "routes[0].pii.custom[0].name",
        ),
    ];
    for (pii, path) in cases {
        let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
            "routes": [{"id": "chat", "path": "/v1/chat/completions", "pii": pii}]});
        let errors = Policy::from_json(document.to_string().as_bytes()).expect_err(path);
        assert!(
            errors.errors().iter().any(|e| e.path() == path),
            "{path}: {errors}"
        );
    }
}

/// Model tokens carry their leading space, so a word is known to be over only when the
/// next event starts: clean words go out one event behind, not at the next punctuation,
/// and a keyword sent earlier still makes the value after it a secret.
#[test]
fn word_streams_flow_one_word_behind_and_keep_their_context() {
    let policy = default_pii();
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hello"));
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    let event = |text: &str| {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
        )
    };
    let words = [
        "The",
        " committee",
        " met",
        " on",
        " Monday",
        " and",
        " my",
        " password:",
        " Tr0ub4dor&3x",
        " stays",
        " private",
    ];
    let mut client = String::new();
    for (index, word) in words.iter().enumerate() {
        client += &stream_text(&exchange.on_response_chunk(event(word).as_bytes(), false));
        if (1..7).contains(&index) {
            let before: String = words[..index].concat();
            assert_eq!(client, before, "one word behind after {word:?}");
        }
    }
    client += &stream_text(&exchange.on_response_chunk(b"data: [DONE]\n\n", true));
    assert!(!client.contains("Tr0ub4dor"), "{client}");
    assert!(
        client.starts_with("The committee met on Monday and my password:"),
        "{client}"
    );
    assert!(client.ends_with(" stays private"), "{client}");
}
