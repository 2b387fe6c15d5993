//! The response headers phase as effects: the plan for the body and every header the filter
//! sets on the answer, decided by the engine and carried out by the filter as given.

use crate::guards::play_bytes;
use psf_engine::{Policy, ResponsePlan};
use serde_json::json;
use std::rc::Rc;

fn policy(route: serde_json::Value) -> Rc<Policy> {
    let mut route = route;
    route["id"] = json!("chat");
    route["path"] = json!("/v1/chat/completions");
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "routes": [route]});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

fn headers<'h>(pairs: &'h [(&'h str, &'h str)]) -> impl Fn(&str) -> Option<&'h str> {
    move |name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
}

#[test]
fn the_records_id_takes_the_sdks_header_and_the_providers_moves_aside() {
    let policy = policy(json!({"format": "openai_chat"}));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let (_, mut exchange) =
        play_bytes(&policy, "/v1/chat/completions", body.to_string().as_bytes());
    let record_id = exchange.record().request_id.clone();
    let upstream = [
        (":status", "200"),
        ("content-type", "application/json"),
        ("x-request-id", "provider-7"),
    ];
    let effects = exchange.on_response_head(&headers(&upstream));
    assert_eq!(effects.plan, ResponsePlan::Buffer);
    assert_eq!(
        &effects.set_headers[..2],
        [
            ("x-upstream-request-id", "provider-7".to_string()),
            ("x-request-id", record_id.clone()),
        ]
    );
    // A provider that echoes the record's own id keeps it where it is.
    let (_, mut exchange) =
        play_bytes(&policy, "/v1/chat/completions", body.to_string().as_bytes());
    let record_id = exchange.record().request_id.clone();
    let echoed = [(":status", "200"), ("x-request-id", record_id.as_str())];
    let effects = exchange.on_response_head(&headers(&echoed));
    assert_eq!(effects.set_headers[0], ("x-request-id", record_id.clone()));
    assert!(!effects
        .set_headers
        .iter()
        .any(|(n, _)| *n == "x-upstream-request-id"));
}

#[test]
fn a_disclosing_route_marks_its_answers() {
    let policy = policy(
        json!({"format": "openai_chat", "disclosure": {"text": "Answers are AI-generated."}}),
    );
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let (_, mut exchange) =
        play_bytes(&policy, "/v1/chat/completions", body.to_string().as_bytes());
    let upstream = [(":status", "200"), ("content-type", "application/json")];
    let effects = exchange.on_response_head(&headers(&upstream));
    let names: Vec<&str> = effects.set_headers.iter().map(|(n, _)| *n).collect();
    assert!(names.contains(&"x-ai-generated"), "{names:?}");
    assert!(effects
        .set_headers
        .contains(&("x-ai-disclosure", "Answers are AI-generated.".to_string())));
}

/// An answer the filter cannot read is refused at its headers: the effects carry the error
/// that replaces it, once.
#[test]
fn an_unreadable_answer_comes_with_its_refusal() {
    let policy = policy(json!({"format": "openai_chat"}));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let (_, mut exchange) =
        play_bytes(&policy, "/v1/chat/completions", body.to_string().as_bytes());
    let upstream = [
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-encoding", "x-unknown"),
    ];
    let effects = exchange.on_response_head(&headers(&upstream));
    assert_eq!(effects.plan, ResponsePlan::Refuse);
    let refusal = effects.refusal.expect("the error");
    assert_eq!(
        refusal.set_headers[0],
        (":status".to_string(), "502".to_string())
    );
    let error: serde_json::Value =
        serde_json::from_slice(refusal.body.as_deref().unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "output_unreadable");
    assert!(exchange.take_refusal().is_none(), "taken once");
}
