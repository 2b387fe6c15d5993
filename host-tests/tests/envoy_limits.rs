//! Every IG-2 schema and limit check in a real Envoy: a 400 with its stable code and the
//! JSON pointer of the offending field, and the model never sees the request.

use crate::support::filter_envoy_config;
use psf_host::envoy::{Envoy, EnvoyOptions};
use psf_host::http1::{self, SendOptions};
use psf_host::mock_llm::{self, MockOptions};
use psf_host::HttpRequest;
use serde_json::{json, Value};

fn strict_policy() -> String {
    json!({
        "version": 1, "name": "strict", "owner": "Ada Lovelace",
        "routes": [{
            "id": "chat", "path": "/v1/chat/completions", "methods": ["POST"],
            "limits": {
                "max_messages": 3, "max_message_chars": 200, "max_total_chars": 300,
                "max_prompt_tokens": 60, "max_tokens": {"max": 256, "action": "reject"},
                "models": ["gpt-4o-mini", "gpt-4.1*"], "stream": false, "max_n": 1, "tools": ["search"]
            }
        }, {
            "id": "anthropic", "path": "/v1/messages", "methods": ["POST"],
            "limits": {"max_tokens": {"max": 100, "action": "clamp"}}
        }]
    })
    .to_string()
}

fn chat_body(extra: Value) -> String {
    let mut body =
        json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body.to_string()
}

#[test]
fn every_limit_is_enforced_in_envoy() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let envoy = Envoy::start(
        &filter_envoy_config(&strict_policy(), &mock),
        &EnvoyOptions::default(),
    )
    .unwrap();
    let post = |body: String| HttpRequest::json("POST", "/v1/chat/completions", body);
    let half = "word ".repeat(30);
    let cases: Vec<(&str, HttpRequest, &str, Value)> = vec![
        (
            "method",
            HttpRequest {
                method: "GET".into(),
                path: "/v1/chat/completions".into(),
                ..HttpRequest::default()
            },
            "method_not_allowed",
            Value::Null,
        ),
        (
            "content type",
            HttpRequest {
                headers: vec![("content-type".into(), "text/plain".into())],
                ..post(chat_body(json!({})))
            },
            "unsupported_content_type",
            Value::Null,
        ),
        (
            "invalid json",
            post("{\"messages\": [".into()),
            "invalid_json",
            Value::Null,
        ),
        (
            "invalid utf-8",
            HttpRequest {
                body: b"{\"messages\":\"\xff\"}".to_vec(),
                ..post(String::new())
            },
            "invalid_utf8",
            Value::Null,
        ),
        (
            "empty body",
            post(String::new()),
            "invalid_json",
            Value::Null,
        ),
        (
            "required field",
            post(json!({"model": "gpt-4o-mini"}).to_string()),
            "invalid_request",
            json!("/messages"),
        ),
        (
            "messages",
            post(chat_body(
                json!({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}, {"role": "user", "content": "d"}]}),
            )),
            "too_many_messages",
            json!("/messages"),
        ),
        (
            "message chars",
            post(chat_body(
                json!({"messages": [{"role": "user", "content": "x".repeat(201)}]}),
            )),
            "message_too_long",
            json!("/messages/0/content"),
        ),
        (
            "total chars",
            post(chat_body(
                json!({"messages": [{"role": "user", "content": "x".repeat(160)}, {"role": "user", "content": "y".repeat(160)}]}),
            )),
            "prompt_too_long",
            Value::Null,
        ),
        (
            "prompt tokens",
            post(chat_body(
                json!({"messages": [{"role": "user", "content": half}, {"role": "user", "content": half}]}),
            )),
            "too_many_tokens",
            Value::Null,
        ),
        (
            "max_tokens",
            post(chat_body(json!({"max_tokens": 1000}))),
            "max_tokens_exceeded",
            json!("/max_tokens"),
        ),
        (
            "model",
            post(chat_body(json!({"model": "gpt-5"}))),
            "model_not_allowed",
            json!("/model"),
        ),
        (
            "stream",
            post(chat_body(json!({"stream": true}))),
            "stream_not_allowed",
            json!("/stream"),
        ),
        (
            "n",
            post(chat_body(json!({"n": 2}))),
            "too_many_choices",
            json!("/n"),
        ),
        (
            "tools",
            post(chat_body(
                json!({"tools": [{"type": "function", "function": {"name": "shell"}}]}),
            )),
            "tool_not_allowed",
            json!("/tools/0/function/name"),
        ),
    ];
    for (name, request, code, param) in cases {
        let response =
            http1::send(envoy.listener_addr(), &request, &SendOptions::default()).unwrap();
        assert_eq!(
            response.status,
            400,
            "{name}: {}",
            String::from_utf8_lossy(&response.body)
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/json"),
            "{name}"
        );
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{name}");
        assert_eq!(body["error"]["param"], param, "{name}");
        assert_eq!(body["error"]["type"], "psf_policy_violation", "{name}");
    }
    assert!(
        mock.requests().is_empty(),
        "the model saw a refused request: {:?}",
        mock.requests()
    );

    // Within every limit, the request reaches the model byte for byte.
    let fine = post(chat_body(
        json!({"model": "gpt-4.1-mini", "max_tokens": 256, "tools": [{"type": "function", "function": {"name": "search"}}]}),
    ));
    let response = http1::send(envoy.listener_addr(), &fine, &SendOptions::default()).unwrap();
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(mock.requests()[0].body, fine.body);
}

#[test]
fn max_tokens_is_clamped_in_the_forwarded_body_with_a_correct_length() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let envoy = Envoy::start(
        &filter_envoy_config(&strict_policy(), &mock),
        &EnvoyOptions::default(),
    )
    .unwrap();
    let body =
        r#"{"model":"claude-test","max_tokens":4096,"messages":[{"role":"user","content":"Hi"}]}"#;
    for chunked in [false, true] {
        let options = SendOptions {
            chunked,
            ..SendOptions::default()
        };
        let response = http1::send(
            envoy.listener_addr(),
            &HttpRequest::json("POST", "/v1/messages", body),
            &options,
        )
        .unwrap();
        assert_eq!(
            response.status,
            200,
            "chunked={chunked}: {}",
            String::from_utf8_lossy(&response.body)
        );
    }
    let expected = body.replace("4096", "100");
    for seen in mock.requests() {
        assert_eq!(String::from_utf8_lossy(&seen.body), expected);
        if let Some(length) = seen.header("content-length") {
            assert_eq!(length, expected.len().to_string());
        }
    }
    envoy
        .wait_for_log(
            "\"decision\":\"modify\"",
            std::time::Duration::from_secs(15),
        )
        .unwrap();
}
