//! Routes and their IG-2 checks, as tables of named cases.

use psf_engine::{ErrorCode, Exchange, Policy, RequestHead, Step};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(limits: Value, mode: &str) -> Rc<Policy> {
    let document = json!({
        "version": 1, "name": "t", "owner": "Ada Lovelace", "mode": mode,
        "routes": [
            {"id": "chat", "path": "/v1/chat/completions", "methods": ["POST"], "limits": limits},
            {"id": "custom", "path_prefix": "/rag/", "selectors": [{"pointer": "/question", "role": "user"}, {"pointer": "/docs/*", "role": "tool"}],
             "limits": {"max_total_chars": 20}}
        ]
    });
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

/// Plays a request with `body` and returns the final step and the exchange.
fn play(
    policy: Rc<Policy>,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> (Step, Exchange) {
    let mut exchange = Exchange::new(policy);
    let step = exchange.on_request_headers(RequestHead {
        method,
        path,
        request_id: "r",
        content_length: Some(body.len() as u64),
        content_type,
        end_of_stream: body.is_empty(),
    });
    if step != Step::Pause {
        return (step, exchange);
    }
    assert_eq!(
        exchange.on_request_body(body.len() as u64, false),
        Step::Pause
    );
    let step = match exchange.on_request_body(body.len() as u64, true) {
        Step::NeedBody => exchange.inspect_request_body(body),
        other => other,
    };
    (step, exchange)
}

fn chat(extra: Value) -> Vec<u8> {
    let mut body = json!({"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Hello there"}]});
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    body.to_string().into_bytes()
}

fn rejected(step: &Step) -> Option<(ErrorCode, Option<String>)> {
    match step {
        Step::Reject(r) => {
            assert_eq!(r.status(), 400, "{r:?}");
            Some((r.code, r.param.clone()))
        }
        _ => None,
    }
}

#[test]
fn each_limit_rejects_with_its_code_and_pointer() {
    let long = "x".repeat(50);
    let cases: Vec<(
        &str,
        Value,
        &str,
        &str,
        Option<&str>,
        Vec<u8>,
        ErrorCode,
        Option<&str>,
    )> = vec![
        (
            "method",
            json!({}),
            "GET",
            "/v1/chat/completions",
            None,
            Vec::new(),
            ErrorCode::MethodNotAllowed,
            None,
        ),
        (
            "content type",
            json!({}),
            "POST",
            "/v1/chat/completions",
            Some("text/plain"),
            chat(json!({})),
            ErrorCode::UnsupportedContentType,
            None,
        ),
        (
            "no content type",
            json!({}),
            "POST",
            "/v1/chat/completions",
            None,
            chat(json!({})),
            ErrorCode::UnsupportedContentType,
            None,
        ),
        (
            "empty body",
            json!({}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            Vec::new(),
            ErrorCode::InvalidJson,
            None,
        ),
        (
            "truncated json",
            json!({}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            b"{\"messages\": [".to_vec(),
            ErrorCode::InvalidJson,
            None,
        ),
        (
            "invalid utf-8",
            json!({}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            b"{\"a\":\"\xff\"}".to_vec(),
            ErrorCode::InvalidUtf8,
            None,
        ),
        (
            "missing messages",
            json!({}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            br#"{"model":"m"}"#.to_vec(),
            ErrorCode::InvalidRequest,
            Some("/messages"),
        ),
        (
            "deep nesting",
            json!({}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            "[".repeat(100_000).into_bytes(),
            ErrorCode::InvalidJson,
            None,
        ),
        (
            "messages",
            json!({"max_messages": 1}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({})),
            ErrorCode::TooManyMessages,
            Some("/messages"),
        ),
        (
            "message chars",
            json!({"max_message_chars": 10}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({})),
            ErrorCode::MessageTooLong,
            Some("/messages/1/content"),
        ),
        (
            "total chars",
            json!({"max_total_chars": 15}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({})),
            ErrorCode::PromptTooLong,
            None,
        ),
        (
            "prompt tokens",
            json!({"max_prompt_tokens": 10}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({})),
            ErrorCode::TooManyTokens,
            None,
        ),
        (
            "max_tokens reject",
            json!({"max_tokens": {"max": 100}}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({"max_tokens": 101})),
            ErrorCode::MaxTokensExceeded,
            Some("/max_tokens"),
        ),
        (
            "model",
            json!({"models": ["gpt-4o*"]}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({"model": "o1"})),
            ErrorCode::ModelNotAllowed,
            Some("/model"),
        ),
        (
            "stream",
            json!({"stream": false}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({"stream": true})),
            ErrorCode::StreamNotAllowed,
            Some("/stream"),
        ),
        (
            "n",
            json!({"max_n": 1}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(json!({"n": 3})),
            ErrorCode::TooManyChoices,
            Some("/n"),
        ),
        (
            "tools",
            json!({"tools": ["search"]}),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            chat(
                json!({"tools": [{"type": "function", "function": {"name": "search"}}, {"type": "function", "function": {"name": "rm_rf"}}]}),
            ),
            ErrorCode::ToolNotAllowed,
            Some("/tools/1/function/name"),
        ),
        (
            "custom route chars",
            json!({}),
            "POST",
            "/rag/ask",
            Some("application/json"),
            json!({"question": "q", "docs": [long]})
                .to_string()
                .into_bytes(),
            ErrorCode::PromptTooLong,
            None,
        ),
    ];
    for (name, limits, method, path, content_type, body, code, pointer) in cases {
        let (step, exchange) = play(
            policy(limits.clone(), "enforce"),
            method,
            path,
            content_type,
            &body,
        );
        assert_eq!(
            rejected(&step),
            Some((code, pointer.map(str::to_string))),
            "{name}"
        );
        let record = &exchange.record().findings[0];
        assert!(
            record.rule.starts_with("chat.") || record.rule.starts_with("custom."),
            "{name}: {}",
            record.rule
        );

        // Monitor mode records the same finding and lets the request through.
        let (step, exchange) = play(policy(limits, "monitor"), method, path, content_type, &body);
        assert!(
            matches!(step, Step::Continue | Step::Pause),
            "{name} in monitor mode: {step:?}"
        );
        assert_eq!(
            exchange.record().findings[0].code,
            code,
            "{name} in monitor mode"
        );
        assert!(!exchange.record().findings[0].enforced);
    }
}

#[test]
fn requests_within_limits_pass_unchanged() {
    let limits = json!({"max_messages": 2, "max_message_chars": 11, "max_total_chars": 19, "max_prompt_tokens": 100,
        "max_tokens": {"max": 100, "action": "clamp"}, "models": ["gpt-4o-mini"], "stream": true, "max_n": 1, "tools": []});
    let (step, exchange) = play(
        policy(limits, "enforce"),
        "POST",
        "/v1/chat/completions",
        Some("application/json; charset=utf-8"),
        &chat(json!({"max_tokens": 100})),
    );
    assert_eq!(step, Step::Continue);
    assert!(exchange.record().findings.is_empty());
    assert_eq!(exchange.record().route.as_deref(), Some("chat"));
}

#[test]
fn max_tokens_over_the_cap_is_clamped_in_place() {
    let body =
        br#"{"model": "m",  "max_tokens": 9000, "messages": [{"role": "user", "content": "hi"}]}"#;
    let (step, exchange) = play(
        policy(
            json!({"max_tokens": {"max": 512, "action": "clamp"}}),
            "enforce",
        ),
        "POST",
        "/v1/chat/completions",
        Some("application/json"),
        body,
    );
    assert_eq!(step, Step::Replace(br#"{"model": "m",  "max_tokens": 512, "messages": [{"role": "user", "content": "hi"}]}"#.to_vec()));
    assert_eq!(exchange.record().decision, psf_engine::Decision::Modify);
}

#[test]
fn unrouted_paths_are_not_inspected() {
    let (step, exchange) = play(
        policy(json!({"max_messages": 0}), "enforce"),
        "POST",
        "/v1/embeddings",
        None,
        b"not json",
    );
    assert_eq!(step, Step::Continue);
    assert!(exchange.record().route.is_none());
}

#[test]
fn route_config_errors_name_the_field() {
    let cases = [
        (json!([{"id": "r"}]), "routes[0].path: give exactly one of"),
        (
            json!([{"id": "r", "path": "/a", "path_prefix": "/b"}]),
            "routes[0].path: give exactly one of",
        ),
        (
            json!([{"id": "r", "path": "/a", "format": "soap"}]),
            "routes[0].format: unknown format \"soap\"",
        ),
        (
            json!([{"id": "r", "path": "/a", "selectors": [{"pointer": "question"}]}]),
            "routes[0].selectors[0].pointer: \"question\" is not a JSON pointer",
        ),
        (
            json!([{"id": "r", "path": "/a", "limits": {"max_messages": -1}}]),
            "routes[0].limits.max_messages: expected a non-negative whole number",
        ),
        (
            json!([{"id": "r", "path": "/a", "limits": {"max_tokens": {"max": 5, "action": "trim"}}}]),
            "routes[0].limits.max_tokens.action: unknown action \"trim\"",
        ),
        (
            json!([{"id": "r", "path": "/a", "limits": {"max_tokens": {}}}]),
            "routes[0].limits.max_tokens.max: required field is missing",
        ),
        (
            json!([{"id": "r", "path": "/a", "limits": {"stream": "no"}}]),
            "routes[0].limits.stream: expected true or false",
        ),
        (
            json!([{"id": "r", "path": "/a", "limits": {"modles": []}}]),
            "routes[0].limits.modles: unknown field",
        ),
        (
            json!([{"id": "r", "path": "/a"}, {"id": "r", "path": "/b"}]),
            "routes[1].id: duplicate id",
        ),
    ];
    for (routes, expected) in cases {
        let document =
            json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "routes": routes});
        let errors = Policy::from_json(document.to_string().as_bytes())
            .expect_err(expected)
            .to_string();
        assert!(errors.contains(expected), "{expected:?} not in {errors:?}");
    }
}

// Item 8 of #3: hostile bodies get a defined error or pass by policy, never a panic.
#[test]
fn hostile_bodies_never_panic() {
    let open = policy(json!({}), "enforce");
    let capped = policy(
        json!({"max_messages": 1000, "max_message_chars": 1_000_000}),
        "enforce",
    );
    let huge_token = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "A".repeat(10 * 1024 * 1024)
    );
    let many: Vec<Value> = (0..100_000)
        .map(|_| json!({"role": "user", "content": "hi"}))
        .collect();
    let many = json!({"model": "m", "messages": many}).to_string();
    let nested = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":{}"x"{}}}]}}"#,
        "[".repeat(120),
        "]".repeat(120)
    );
    let cases: Vec<(&str, &Rc<Policy>, Vec<u8>, Option<ErrorCode>)> = vec![
        (
            "10 MB single token, no limits",
            &open,
            huge_token.clone().into_bytes(),
            None,
        ),
        (
            "10 MB single token, capped",
            &capped,
            huge_token.into_bytes(),
            Some(ErrorCode::MessageTooLong),
        ),
        (
            "100k messages, no limits",
            &open,
            many.clone().into_bytes(),
            None,
        ),
        (
            "100k messages, capped",
            &capped,
            many.into_bytes(),
            Some(ErrorCode::TooManyMessages),
        ),
        (
            "nested content parts",
            &open,
            nested.into_bytes(),
            Some(ErrorCode::InvalidRequest),
        ),
        (
            "truncated",
            &open,
            br#"{"model":"m","messages":[{"role":"us"#.to_vec(),
            Some(ErrorCode::InvalidJson),
        ),
        (
            "lone surrogate escape",
            &open,
            br#"{"messages":[{"role":"user","content":"\ud800"}]}"#.to_vec(),
            Some(ErrorCode::InvalidJson),
        ),
        (
            "NUL bytes",
            &open,
            vec![0; 64],
            Some(ErrorCode::InvalidJson),
        ),
        (
            "top-level string",
            &open,
            br#""hello""#.to_vec(),
            Some(ErrorCode::InvalidRequest),
        ),
    ];
    for (name, policy, body, expected) in cases {
        let (step, _) = play(
            Rc::clone(policy),
            "POST",
            "/v1/chat/completions",
            Some("application/json"),
            &body,
        );
        let code = match &step {
            Step::Reject(r) => Some(r.code),
            Step::Continue => None,
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(code, expected, "{name}");
    }
}
