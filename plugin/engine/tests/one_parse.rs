//! #18: a request body is parsed once. Limits, detection, masking, clamps, model pinning,
//! the stream-usage request and the system-prompt pin all read the one document, and the
//! forwarded body is written from it once. `json::document::parses()` counts every parse
//! of a document on this thread in a debug build (tests run in one).

use crate::guards::play_bytes;
use psf_engine::json::document::parses;
use psf_engine::{Policy, Step};
use serde_json::{json, Value};
use std::rc::Rc;

/// The body's steps, and how many parses they took.
fn parses_of(policy: &Rc<Policy>, path: &str, body: &Value) -> (Step, u64) {
    let before = parses();
    let (step, _) = play_bytes(policy, path, body.to_string().as_bytes());
    (step, parses() - before)
}

fn forwarded(step: &Step) -> Value {
    match step {
        Step::Replace(body) => serde_json::from_slice(body).expect("a forwarded body is JSON"),
        other => panic!("expected a rewritten body, got {other:?}"),
    }
}

#[test]
fn the_default_policy_parses_each_format_once() {
    let policy =
        Rc::new(Policy::from_json(include_bytes!("../../../policies/default.json")).unwrap());
    let email = "Write to ada@example.org about the invoice.";
    let cases = [
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Summarise the meeting notes."}]}),
        ),
        (
            "/v1/chat/completions",
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": email}]}),
        ),
        (
            "/v1/responses",
            json!({"model": "gpt-4o", "input": [{"role": "user", "content": email}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "claude", "max_tokens": 100, "messages": [{"role": "user", "content": [{"type": "text", "text": email}]}]}),
        ),
        (
            "/v1/completions",
            json!({"model": "m", "prompt": "Hello there"}),
        ),
    ];
    for (path, body) in cases {
        let (step, count) = parses_of(&policy, path, &body);
        assert_eq!(count, 1, "{path} {body}: {step:?}");
        assert!(
            matches!(step, Step::Continue | Step::Replace(_)),
            "{step:?}"
        );
        if body.to_string().contains("ada@") {
            assert!(!forwarded(&step).to_string().contains("ada@example.org"));
        }
    }
}

#[test]
fn every_edit_at_once_is_still_one_parse_and_one_write() {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions", "format": "openai_chat",
            "limits": {"max_tokens": {"max": 500, "action": "clamp"}},
            "approved_models": {"pinned": ["m-1"], "aliases": {"m": "m-1"}},
            "pii": {}, "sanitize": {"hidden_characters": "strip"},
            "system_prompt": {"pinned": "Be brief.", "client_messages": "demote"}}],
        "rate_limits": {"limits": [{"id": "tokens", "key": ["client_ip"], "total_tokens": 100000}]}});
    let policy = Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap());
    let body = json!({"model": "m", "stream": true, "max_tokens": 9000, "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "Mail ada@example.org\u{200b} today."}]});
    let (step, count) = parses_of(&policy, "/v1/chat/completions", &body);
    assert_eq!(count, 1, "{step:?}");
    let sent = forwarded(&step);
    assert_eq!(sent["model"], "m-1", "{sent}");
    assert_eq!(sent["max_tokens"], 500, "{sent}");
    assert_eq!(sent["stream_options"]["include_usage"], true, "{sent}");
    assert_eq!(sent["messages"][0]["content"], "Be brief.", "{sent}");
    assert_eq!(sent["messages"][1]["role"], "user", "{sent}");
    let user = sent["messages"][2]["content"].as_str().unwrap();
    assert!(
        !user.contains("ada@example.org") && !user.contains('\u{200b}'),
        "{sent}"
    );
}
