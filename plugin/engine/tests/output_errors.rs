//! Failure states of the output (PSF OV-5): an upstream 5xx, a malformed JSON answer and a
//! stream without its final event each become their documented error, or are flagged or
//! passed when the route says so.

use crate::guards::play_bytes;
use psf_engine::{Decision, ErrorCode, Policy, ResponsePlan, ResponseStep};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(mode: &str, output_errors: Option<Value>) -> Rc<Policy> {
    let mut route = json!({"id": "chat", "path": "/v1/chat/completions"});
    if let Some(section) = output_errors {
        route["output_errors"] = section;
    }
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "mode": mode, "routes": [route]});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

fn user() -> Vec<u8> {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        .to_string()
        .into_bytes()
}

#[test]
fn an_upstream_server_error_is_replaced_by_default() {
    let policy = policy("enforce", None);
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    assert_eq!(
        exchange.on_response_headers(503, Some("text/html"), None),
        ResponsePlan::Refuse
    );
    let rejection = exchange.take_refusal().expect("the error to send");
    assert_eq!(
        (rejection.status(), rejection.code),
        (502, ErrorCode::UpstreamError)
    );
    assert!(rejection.message.contains("503"));
    assert_eq!(exchange.record().status, Some(502));
    // Client errors are the client's to see, read like any body on the route (#15).
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    assert_eq!(
        exchange.on_response_headers(429, Some("application/json"), None),
        ResponsePlan::Buffer
    );
    let clean = br#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#;
    assert_eq!(exchange.on_response_body(clean), ResponseStep::Continue);
}

#[test]
fn flag_and_pass_record_without_replacing() {
    for (action, recorded) in [("flag", "flag"), ("pass", "log")] {
        let policy = policy("enforce", Some(json!({"upstream_error": action})));
        let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
        assert_eq!(
            exchange.on_response_headers(500, Some("application/json"), None),
            ResponsePlan::PassThrough
        );
        let record = exchange.record().to_json(exchange.policy());
        assert!(
            record.contains(&format!(r#""code":"upstream_error","action":"{recorded}""#)),
            "{record}"
        );
    }
    let policy = policy("monitor", None);
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    assert_eq!(
        exchange.on_response_headers(500, Some("application/json"), None),
        ResponsePlan::PassThrough
    );
}

#[test]
fn a_malformed_json_answer_is_replaced() {
    let policy = policy("enforce", None);
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    assert_eq!(
        exchange.on_response_headers(200, Some("application/json"), None),
        ResponsePlan::Buffer
    );
    let ResponseStep::Reject(rejection) =
        exchange.on_response_body(b"{\"id\": \"x\", \"choices\": [{\"message\": ")
    else {
        panic!("malformed output passed")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (502, ErrorCode::MalformedOutput)
    );
    assert_eq!(exchange.record().decision, Decision::Block);
}

#[test]
fn a_stream_without_its_final_event_ends_with_an_error_event() {
    let policy = policy("enforce", None);
    let chunk = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": "Hello there"}}]})
    );
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    let out = String::from_utf8(exchange.on_response_chunk(chunk.as_bytes(), true)).unwrap();
    assert!(out.starts_with(&chunk), "{out}");
    assert!(out.contains("\"code\":\"truncated_stream\""), "{out}");
    assert!(out.ends_with("data: [DONE]\n\n"), "{out}");

    // A complete stream gets nothing added.
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    let complete = format!("{chunk}data: [DONE]\n\n");
    assert_eq!(
        exchange.on_response_chunk(complete.as_bytes(), true),
        complete.as_bytes()
    );

    // A stream the upstream abandoned (reset, no end) is recorded when the stream is done.
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    exchange.on_response_chunk(chunk.as_bytes(), false);
    exchange.on_stream_done();
    assert!(exchange
        .record()
        .to_json(exchange.policy())
        .contains("\"code\":\"truncated_stream\""));
}

#[test]
fn output_errors_errors_name_the_field() {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions",
                    "output_errors": {"upstream_error": "retry", "timeout": "pass"}}]});
    let errors = Policy::from_json(document.to_string().as_bytes())
        .expect_err("refused")
        .to_string();
    assert!(
        errors.contains("routes[0].output_errors.upstream_error"),
        "{errors}"
    );
    assert!(
        errors.contains("routes[0].output_errors.timeout"),
        "{errors}"
    );
}

#[test]
fn answer_edge_states_are_flagged_by_default_and_replaced_when_asked() {
    let answer = |text: &str, finish: &str| {
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]})
            .to_string()
    };
    let policy = policy("enforce", None);
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("application/json"), None);
    let body = answer("I'm sorry, but I can't help with that.", "stop");
    assert_eq!(
        exchange.on_response_body(body.as_bytes()),
        ResponseStep::Continue
    );
    let record = exchange.record().to_json(exchange.policy());
    assert!(
        record.contains(r#""code":"refusal","action":"flag""#),
        "{record}"
    );

    let policy = self::policy(
        "enforce",
        Some(json!({"refusal": "replace", "output_truncated": "replace"})),
    );
    for (body, code) in [
        (
            answer("I cannot assist with that request.", "stop"),
            ErrorCode::Refusal,
        ),
        (answer("Once upon a", "length"), ErrorCode::OutputTruncated),
    ] {
        let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user());
        exchange.on_response_headers(200, Some("application/json"), None);
        let ResponseStep::Reject(rejection) = exchange.on_response_body(body.as_bytes()) else {
            panic!("{code:?} passed")
        };
        assert_eq!((rejection.status(), rejection.code), (502, code));
    }
}

#[test]
fn confidence_is_recorded_and_low_confidence_flagged_or_blocked() {
    let answer = |logprobs: &[f64]| {
        let content: Vec<Value> = logprobs
            .iter()
            .map(|l| json!({"token": "x", "logprob": l}))
            .collect();
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "Paris."},
            "logprobs": {"content": content}, "finish_reason": "stop"}]})
        .to_string()
    };
    let document = |action: &str| {
        json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "routes": [{"id": "chat",
            "path": "/v1/chat/completions", "confidence": {"min_mean_logprob": -1.0, "action": action}}]})
        .to_string()
    };
    let flag = Rc::new(Policy::from_json(document("flag").as_bytes()).unwrap());
    let (_, mut exchange) = play_bytes(&flag, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("application/json"), None);
    assert_eq!(
        exchange.on_response_body(answer(&[-0.1, -0.3]).as_bytes()),
        ResponseStep::Continue
    );
    assert_eq!(exchange.low_confidence(), None);
    let record = exchange.record().to_json(exchange.policy());
    assert!(
        record.contains(r#""confidence":{"mean_logprob":-0.2"#),
        "{record}"
    );

    let (_, mut exchange) = play_bytes(&flag, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("application/json"), None);
    assert_eq!(
        exchange.on_response_body(answer(&[-2.0, -3.0]).as_bytes()),
        ResponseStep::Continue
    );
    assert_eq!(exchange.low_confidence(), Some("mean_logprob=-2.500"));

    let block = Rc::new(Policy::from_json(document("block").as_bytes()).unwrap());
    let (_, mut exchange) = play_bytes(&block, "/v1/chat/completions", &user());
    exchange.on_response_headers(200, Some("application/json"), None);
    let ResponseStep::Reject(rejection) =
        exchange.on_response_body(answer(&[-2.0, -3.0]).as_bytes())
    else {
        panic!("low confidence passed")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (502, ErrorCode::LowConfidence)
    );

    let bad = json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "routes": [{"id": "chat",
        "path": "/v1/chat/completions", "confidence": {"min_mean_logprob": 0.5}}]});
    let errors = Policy::from_json(bad.to_string().as_bytes())
        .expect_err("refused")
        .to_string();
    assert!(
        errors.contains("routes[0].confidence.min_mean_logprob"),
        "{errors}"
    );
}

/// Streams have the same edge states, judged when they end: a streamed refusal is flagged
/// by default, a stream stopped at the token limit is replaced by the error event when the
/// route says so (instead of `[DONE]`), and Anthropic's `max_tokens` stop counts too.
#[test]
fn streamed_edge_states_are_judged_at_the_end() {
    let chat_event = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let run = |policy: &Rc<Policy>, path: &str, events: &[String]| {
        let body = json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
        let (_, mut exchange) = play_bytes(policy, path, body.to_string().as_bytes());
        exchange.on_response_headers(200, Some("text/event-stream"), None);
        let mut out = String::new();
        for event in events {
            out += &String::from_utf8(exchange.on_response_chunk(event.as_bytes(), false)).unwrap();
        }
        out += &String::from_utf8(exchange.on_response_chunk(b"", true)).unwrap();
        (out, exchange.record().to_json(policy).to_string())
    };
    let refusal = [
        chat_event(json!({"content": "I'm sorry, but I can't "}), Value::Null),
        chat_event(json!({"content": "help with that."}), Value::Null),
        chat_event(json!({}), json!("stop")),
        "data: [DONE]\n\n".to_string(),
    ];
    let (out, record) = run(&policy("enforce", None), "/v1/chat/completions", &refusal);
    assert!(
        out.ends_with("data: [DONE]\n\n") && !out.contains("\"error\""),
        "{out}"
    );
    assert!(record.contains("chat.output_errors.refusal"), "{record}");

    let cut = [
        chat_event(json!({"content": "The first three steps are"}), Value::Null),
        chat_event(json!({}), json!("length")),
        "data: [DONE]\n\n".to_string(),
    ];
    let replace = policy("enforce", Some(json!({"output_truncated": "replace"})));
    let (out, record) = run(&replace, "/v1/chat/completions", &cut);
    assert!(out.contains("\"code\":\"output_truncated\""), "{out}");
    assert!(
        out.contains("first three steps"),
        "the text went out first: {out}"
    );
    assert!(record.contains("\"decision\":\"block\""), "{record}");

    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "messages", "path": "/v1/messages"}]});
    let anthropic = Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap());
    let events = [
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Once upon\"}}\n\n".to_string(),
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"max_tokens\"},\"usage\":{\"output_tokens\":2}}\n\n".to_string(),
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n".to_string(),
    ];
    let (_, record) = run(&anthropic, "/v1/messages", &events);
    assert!(
        record.contains("output_errors.output_truncated"),
        "{record}"
    );
}
