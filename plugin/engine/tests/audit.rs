//! The audit record through whole exchanges (PSF IG-3, OM-2, OM-5, DG-2, DG-3): sampling,
//! redaction, subjects, hashes and retention, and the policy's `audit` section.

use psf_engine::audit::chain::{hmac_hex, sha256_hex};
use psf_engine::{Exchange, Policy, RequestHead, Step};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(audit: Value) -> Rc<Policy> {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions",
                    "pii": {"request": {"contact": "allow"}, "response": {"contact": "allow"}}}],
        "audit": audit});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap())
}

/// One chat exchange with `text`, answered with `answer`; its record.
fn record(policy: Rc<Policy>, request_id: &str, text: &str, answer: &str) -> Value {
    let mut exchange = Exchange::new(policy);
    exchange.set_client(&|h| (h == "x-user").then_some("user-7"), None);
    let body = json!({"model": "m", "messages": [{"role": "user", "content": text}]}).to_string();
    let step = exchange.on_request_headers(RequestHead {
        method: "POST",
        path: "/v1/chat/completions",
        request_id,
        content_length: Some(body.len() as u64),
        content_type: Some("application/json"),
        end_of_stream: false,
    });
    assert_eq!(step, Step::Pause);
    exchange.on_request_body(body.len() as u64, true);
    assert!(!matches!(
        exchange.inspect_request_body(body.as_bytes()),
        Step::Reject(_)
    ));
    exchange.on_response_headers(200, Some("application/json"), None);
    let reply = json!({"choices": [{"message": {"role": "assistant", "content": answer},
        "finish_reason": "stop"}]})
    .to_string();
    exchange.on_response_body(reply.as_bytes());
    let line = exchange.finish().expect("one record");
    assert_eq!(exchange.finish(), None, "only one");
    let record: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(record["prompt_sha256"], sha256_hex(body.as_bytes()));
    assert_eq!(record["response_sha256"], sha256_hex(reply.as_bytes()));
    record
}

#[test]
fn sampled_records_carry_text_with_every_entity_redacted_even_ones_the_route_allows() {
    let text = "Write to ada@example.org or +44 20 7946 0958.";
    let all = record(
        policy(json!({"sample_rate": 1.0})),
        "r1",
        text,
        "Done: ada@example.org.",
    );
    assert_eq!(all["sample"], true);
    let prompt = all["redacted"]["prompt"].as_str().unwrap();
    assert!(
        prompt.contains("[EMAIL]") && !prompt.contains("ada@"),
        "{prompt}"
    );
    assert!(!all["redacted"]["response"]
        .as_str()
        .unwrap()
        .contains("ada@"));
    let none = record(policy(json!({"sample_rate": 0.0})), "r1", text, "Done.");
    assert_eq!(none["sample"], false);
    assert!(none.get("redacted").is_none());
    // 1 %, chosen from the request id: about 1 in 100 ids.
    let default = policy(json!({}));
    let sampled = (0..2000)
        .filter(|i| record(Rc::clone(&default), &format!("req-{i}"), "hi", "ok")["sample"] == true)
        .count();
    assert!((5..=40).contains(&sampled), "{sampled} of 2000");
}

#[test]
fn subjects_are_kept_only_as_their_hmac_and_retention_follows_the_policy() {
    let key = "a-subject-key-of-16+";
    let policy =
        policy(json!({"subject_header": "x-user", "subject_key": key, "retention_days": 90}));
    let record = record(policy, "r", "hi", "ok");
    assert_eq!(record["subject"], hmac_hex(key.as_bytes(), b"user-7"));
    let (start, until) = (
        record["timestamp"].as_str().unwrap(),
        record["retention_until"].as_str().unwrap(),
    );
    assert!(until > start, "{start} → {until}");
    assert_eq!(record["policy"]["digest"].as_str().unwrap().len(), 12);
}

#[test]
fn bad_audit_settings_are_refused_with_their_paths() {
    for (audit, path) in [
        (json!({"retention_days": 7}), "audit.retention_days"),
        (json!({"subject_header": "x-user"}), "audit.subject_key"),
        (json!({"sample_rate": 2}), "audit.sample_rate"),
        (
            json!({"collector": {"path": "/x"}}),
            "audit.collector.cluster",
        ),
        (
            json!({"collector": {"cluster": "c", "batch": 0}}),
            "audit.collector.batch",
        ),
        (json!({"retain": 30}), "audit.retain"),
    ] {
        let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "audit": audit});
        let errors = Policy::from_json(document.to_string().as_bytes()).unwrap_err();
        assert!(errors.to_string().contains(path), "{path} not in {errors}");
    }
    let short = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "audit": {"retention_days": 7, "allow_short_retention": true}});
    assert!(Policy::from_json(short.to_string().as_bytes()).is_ok());
}
