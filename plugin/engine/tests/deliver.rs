//! A complete answer's delivery as effects: what the host does to the response for each
//! step, given whether the headers are still held.

use crate::guards::awaiting_answer;
use psf_engine::{Delivery, ErrorCode, Policy, Rejection, ResponseStep};
use serde_json::json;
use std::rc::Rc;

fn exchange() -> psf_engine::Exchange {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions", "format": "openai_chat"}]});
    let policy = Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap());
    awaiting_answer(&policy, "hi")
}

const HELD: Delivery = Delivery {
    headers_held: true,
    encoded: false,
    goes_decoded: false,
};
const LEFT: Delivery = Delivery {
    headers_held: false,
    ..HELD
};

fn refusal() -> ResponseStep {
    ResponseStep::Reject(Rejection::new(
        ErrorCode::ContentFiltered,
        "chat.content_filter.weapons",
        "the answer was withheld",
    ))
}

#[test]
fn an_unchanged_answer_is_left_alone() {
    let effects = exchange().deliver(ResponseStep::Continue, b"{}", HELD);
    assert_eq!(effects, psf_engine::AnswerEffects::default());
}

#[test]
fn a_refusal_is_the_error_while_the_headers_are_held_and_a_filtered_answer_after() {
    let exchange = exchange();
    let held = exchange.deliver(refusal(), b"{}", HELD);
    assert_eq!(
        held.set_headers[0],
        (":status".to_string(), "502".to_string())
    );
    assert_eq!(held.remove_headers, ["content-encoding"]);
    assert!(held.set_length);
    let error: serde_json::Value = serde_json::from_slice(held.body.as_deref().unwrap()).unwrap();
    assert_eq!(error["error"]["code"], "content_filtered");

    let left = exchange.deliver(refusal(), b"{}", LEFT);
    assert!(left.set_headers.is_empty() && !left.set_length);
    let answer: serde_json::Value = serde_json::from_slice(left.body.as_deref().unwrap()).unwrap();
    assert_eq!(
        answer["choices"][0]["finish_reason"], "content_filter",
        "{answer}"
    );
}

#[test]
fn a_replacement_drops_a_held_encoding_and_sets_the_length() {
    let encoded = Delivery {
        encoded: true,
        ..HELD
    };
    let effects = exchange().deliver(ResponseStep::Replace(b"{\"a\":1}".to_vec()), b"{}", encoded);
    assert_eq!(effects.remove_headers, ["content-encoding"]);
    assert_eq!(effects.body.as_deref(), Some(&b"{\"a\":1}"[..]));
    assert!(effects.set_length);
}
