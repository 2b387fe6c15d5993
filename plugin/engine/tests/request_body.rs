//! The request body as effects: the engine reads the body when it needs it and says what
//! the host does to the request, as far as the headers can still change.

use psf_engine::{Delivery, Exchange, Policy, RequestHead, Step};
use serde_json::json;
use std::cell::Cell;
use std::rc::Rc;

fn exchange() -> Exchange {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions", "format": "openai_chat",
            "limits": {"max_tokens": {"max": 100, "action": "clamp"}}}]});
    let policy = Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap());
    let mut exchange = Exchange::new(policy);
    let step = exchange.on_request_headers(RequestHead {
        method: "POST",
        path: "/v1/chat/completions",
        request_id: "r",
        content_length: None,
        content_type: Some("application/json"),
        end_of_stream: false,
    });
    assert_eq!(step, Step::Pause);
    exchange
}

fn body(max_tokens: u64) -> Vec<u8> {
    json!({"model": "m", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .into_bytes()
}

const HELD: Delivery = Delivery {
    headers_held: true,
    encoded: false,
    goes_decoded: false,
};

#[test]
fn the_body_is_read_once_at_its_end_and_a_clamp_rewrites_it() {
    let mut exchange = exchange();
    let sent = body(5000);
    let reads = Cell::new(0);
    let read = || {
        reads.set(reads.get() + 1);
        sent.clone()
    };
    let partial = exchange.on_request_body_read(10, false, &read, HELD);
    assert_eq!((partial.step, reads.get()), (Step::Pause, 0));
    let done = exchange.on_request_body_read(sent.len() as u64, true, &read, HELD);
    assert_eq!(reads.get(), 1);
    assert_eq!(done.step, Step::Continue);
    assert!(done.set_length && done.consult.is_none());
    let forwarded: serde_json::Value =
        serde_json::from_slice(done.body.as_deref().unwrap()).unwrap();
    assert_eq!(forwarded["max_tokens"], 100);
}

#[test]
fn after_the_headers_left_nothing_is_set_on_them() {
    let mut exchange = exchange();
    let sent = body(5000);
    let left = Delivery {
        headers_held: false,
        encoded: true,
        ..HELD
    };
    let done = exchange.on_request_body_read(sent.len() as u64, true, &|| sent.clone(), left);
    assert!(done.body.is_some() && !done.set_length);
    assert!(done.remove_headers.is_empty() && done.set_headers.is_empty());
}

#[test]
fn an_unchanged_body_is_left_alone() {
    let mut exchange = exchange();
    let sent = body(50);
    let done = exchange.on_request_body_read(sent.len() as u64, true, &|| sent.clone(), HELD);
    assert_eq!(done.step, Step::Continue);
    assert_eq!(done.body, None);
}
