//! Output schemas through an exchange (PSF OV-2): conforming answers pass unchanged,
//! non-conforming ones get 502 `output_schema_violation` with the JSON pointer, tools are
//! checked by name, the length limit applies, and `flag` only records.

use crate::guards::{awaiting_answer, play_bytes};
use psf_engine::{ErrorCode, Policy, ResponseStep};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(contract: Value) -> Rc<Policy> {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "weather", "path": "/v1/chat/completions", "output_schema": contract}]});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

fn weather() -> Value {
    json!({"schema": {"type": "object", "required": ["city", "temp_c"], "additionalProperties": false,
        "properties": {"city": {"type": "string"}, "temp_c": {"type": "number", "minimum": -90, "maximum": 60}}}})
}

fn respond(policy: &Rc<Policy>, answer: Value) -> ResponseStep {
    awaiting_answer(policy, "weather?").on_response_body(answer.to_string().as_bytes())
}

fn text_answer(text: &str) -> Value {
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
}

fn violation(step: ResponseStep) -> (String, String) {
    let ResponseStep::Reject(rejection) = step else {
        panic!("passed: {step:?}")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (502, ErrorCode::OutputSchemaViolation)
    );
    (rejection.param.unwrap_or_default(), rejection.message)
}

#[test]
fn conforming_answers_pass_and_others_name_the_pointer() {
    let policy = policy(weather());
    assert_eq!(
        respond(&policy, text_answer(r#"{"city": "Paris", "temp_c": 21}"#)),
        ResponseStep::Continue
    );
    let (pointer, message) = violation(respond(&policy, text_answer(r#"{"city": "Paris"}"#)));
    assert_eq!(pointer, "/choices/0/message/content");
    assert!(message.contains("temp_c"), "{message}");
    let (pointer, _) = violation(respond(
        &policy,
        text_answer(r#"{"city": "Paris", "temp_c": 99}"#),
    ));
    assert_eq!(pointer, "/choices/0/message/content/temp_c");
    let (_, message) = violation(respond(&policy, text_answer("It is warm in Paris.")));
    assert!(message.contains("not JSON"), "{message}");
}

#[test]
fn tool_arguments_and_length_are_checked() {
    let policy = policy(json!({"tools": {"get_weather": weather()["schema"]}, "max_chars": 20}));
    let call = |arguments: &str| {
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}]}}]})
    };
    assert_eq!(
        respond(&policy, call(r#"{"city": "Oslo", "temp_c": -3}"#)),
        ResponseStep::Continue
    );
    let (pointer, _) = violation(respond(&policy, call(r#"{"city": 3, "temp_c": 1}"#)));
    assert_eq!(
        pointer,
        "/choices/0/message/tool_calls/0/function/arguments/city"
    );
    let (_, message) = violation(respond(
        &policy,
        text_answer("far more than twenty characters"),
    ));
    assert!(message.contains("over the limit of 20"), "{message}");
}

#[test]
fn flag_records_and_passes() {
    let mut contract = weather();
    contract["action"] = json!("flag");
    let policy = policy(contract);
    assert_eq!(respond(&policy, text_answer("{}")), ResponseStep::Continue);
}

#[test]
fn schema_errors_name_the_field() {
    for (contract, path) in [
        (
            json!({"schema": {"type": "obj"}}),
            "routes[0].output_schema.schema.type",
        ),
        (
            json!({"tools": {"t": {"anyOf": []}}}),
            "routes[0].output_schema.tools.t.anyOf",
        ),
        (json!({"action": "drop"}), "routes[0].output_schema.action"),
    ] {
        let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
            "routes": [{"id": "weather", "path": "/v1/chat/completions", "output_schema": contract}]});
        let errors = Policy::from_json(document.to_string().as_bytes()).expect_err(path);
        assert!(
            errors.errors().iter().any(|e| e.path() == path),
            "{path}: {errors}"
        );
    }
}

/// A streamed answer is judged whole when the stream ends: one that breaks the schema ends
/// with the protocol's error event instead of `[DONE]`, a conforming one ends normally,
/// and `flag` only records. Its text has streamed on meanwhile (no buffering).
#[test]
fn streamed_answers_are_checked_when_the_stream_ends() {
    let stream = |policy: &Rc<Policy>, text: &str| {
        let request = json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "weather?"}]});
        let (_, mut exchange) = play_bytes(
            policy,
            "/v1/chat/completions",
            request.to_string().as_bytes(),
        );
        exchange.on_response_headers(200, Some("text/event-stream"), None);
        let mut out = String::new();
        for piece in text.as_bytes().chunks(4) {
            let delta = json!({"choices": [{"index": 0, "delta": {"content": std::str::from_utf8(piece).unwrap()}, "finish_reason": null}]});
            let event = format!("data: {delta}\n\n");
            out += &String::from_utf8(exchange.on_response_chunk(event.as_bytes(), false)).unwrap();
        }
        let end = exchange.on_response_chunk(b"data: [DONE]\n\n", true);
        (
            out,
            String::from_utf8(end).unwrap(),
            exchange.record().to_json(policy).to_string(),
        )
    };
    let strict = policy(weather());
    let (_, end, _) = stream(&strict, r#"{"city": "Paris", "temp_c": 21}"#);
    assert_eq!(end, "data: [DONE]\n\n");
    let (before, end, record) = stream(&strict, r#"{"city": "Paris", "temp_c": 99}"#);
    assert!(
        before.matches("data: ").count() >= 5,
        "the text streamed on: {before}"
    );
    assert!(
        end.contains("\"code\":\"output_schema_violation\""),
        "{end}"
    );
    assert!(end.contains("stream:choice:0:content:/temp_c"), "{end}");
    assert!(end.ends_with("data: [DONE]\n\n"), "{end}");
    assert!(record.contains("\"decision\":\"block\""), "{record}");

    let mut flagging = weather();
    flagging["action"] = json!("flag");
    let (_, end, record) = stream(&policy(flagging), "not json");
    assert_eq!(end, "data: [DONE]\n\n");
    assert!(record.contains("output_schema_violation"), "{record}");
}
