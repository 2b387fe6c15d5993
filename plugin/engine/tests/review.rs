//! Human review through an exchange (PSF HO-2): a held tool call comes back with the queue
//! its route names, once, so the filter posts it without looking the route up itself.

use crate::guards::awaiting_answer;
use psf_engine::{ErrorCode, Policy, ResponseStep};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(review: Value) -> Rc<Policy> {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "pay", "path": "/v1/chat/completions", "autonomy": "supervised",
            "review": review}]});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

/// Plays a request and an answer that calls `transfer_funds`; the step and the exchange.
fn transfer(policy: &Rc<Policy>) -> (ResponseStep, psf_engine::Exchange) {
    let mut exchange = awaiting_answer(policy, "Pay ACME");
    let answer = json!({"choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
        "function": {"name": "transfer_funds", "arguments": "{\"to\":\"ACME\",\"amount\":5000}"}}]}}]});
    let step = exchange.on_response_body(answer.to_string().as_bytes());
    (step, exchange)
}

#[test]
fn a_held_call_comes_with_its_routes_queue_once() {
    let policy = policy(
        json!({"tools": ["transfer_*"], "key": "review-key-0123456789abcdef",
        "queue": {"cluster": "reviews", "path": "/v1/review"}}),
    );
    let (step, mut exchange) = transfer(&policy);
    let ResponseStep::Reject(rejection) = step else {
        panic!("not held: {step:?}")
    };
    assert_eq!(rejection.code, ErrorCode::PendingHumanReview);
    let (queue, item) = exchange.take_review_item().expect("a queued item");
    assert_eq!(
        (queue.cluster.as_str(), queue.path.as_str()),
        ("reviews", "/v1/review")
    );
    assert!(item.contains("transfer_funds"), "{item}");
    assert!(exchange.take_review_item().is_none());
}

#[test]
fn a_route_without_a_queue_posts_nothing() {
    let policy = policy(json!({"tools": ["transfer_*"], "key": "review-key-0123456789abcdef"}));
    let (step, mut exchange) = transfer(&policy);
    assert!(matches!(step, ResponseStep::Reject(_)), "{step:?}");
    assert!(exchange.take_review_item().is_none());
}
