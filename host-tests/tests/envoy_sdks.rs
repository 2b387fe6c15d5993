//! See: #16. The official `openai` and `anthropic` Python SDKs (installed into `.venv` by
//! `make sdks`) against real Envoy with the default policy: every API, JSON and streamed,
//! with tool calls; every refusal class as each SDK raises it, with its default retries;
//! request ids that match the audit records; and rate-limit buckets per API key.

use crate::support::{default_policy, start_mock_and_envoy};
use psf_host::envoy::Envoy;
use psf_host::mock_llm::MockLlm;
use psf_host::repo_root;
use serde_json::Value;
use std::process::Command;

fn run_suite(suite: &str, envoy: &Envoy) -> Value {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run `make sdks`",
        python.display()
    );
    let out = Command::new(python)
        .arg(repo_root().join("host-tests/sdk/sdk_e2e.py"))
        .arg(suite)
        .arg(format!("http://{}", envoy.listener_addr()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sdk_e2e.py {suite} failed:\n{}\nenvoy log tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        envoy
            .log()
            .lines()
            .rev()
            .take(30)
            .collect::<Vec<_>>()
            .join("\n")
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// How many requests of `case` the model received.
fn model_calls(mock: &MockLlm, case: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.header("x-case") == Some(case))
        .count()
}

fn audit_ids(envoy: &Envoy) -> Vec<String> {
    envoy
        .log()
        .lines()
        .filter_map(|l| {
            l.find("psf.audit {")
                .map(|at| &l[at + "psf.audit ".len()..])
        })
        .filter_map(|record| serde_json::from_str::<Value>(record).ok())
        .filter_map(|r| r["request_id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn both_sdks_get_answers_refusals_and_ids_they_understand() {
    let (mock, envoy) = start_mock_and_envoy(&default_policy());
    let out = run_suite("main", &envoy);
    // Answers, JSON and streamed, with tool calls; PII restored on the way back.
    assert_eq!(out["chat"]["text"], "What is 2 + 2?");
    assert_eq!(out["chat_tool"], "get_weather");
    assert!(
        out["chat_stream_text"]
            .as_str()
            .unwrap()
            .contains("jane.doe@example.com"),
        "{out}"
    );
    assert_eq!(out["responses"]["text"], "What is 2 + 2?");
    assert!(!out["responses_stream_text"].as_str().unwrap().is_empty());
    assert_eq!(out["messages"]["text"], "What is 2 + 2?");
    assert!(!out["messages_stream_text"].as_str().unwrap().is_empty());
    let seen = mock.requests();
    let stream_seen = seen
        .iter()
        .find(|r| r.header("x-case") == Some("chat-stream"))
        .unwrap();
    assert!(!String::from_utf8_lossy(&stream_seen.body).contains("jane.doe@example.com"));

    // The id each SDK reads is the audit record's.
    let ids = audit_ids(&envoy);
    for case in ["chat", "responses", "messages"] {
        let id = out[case]["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{case}: no request id: {out}"));
        assert!(
            ids.iter().any(|r| r == id),
            "{case}: {id} is not an audit record id"
        );
    }
    for refusal in [
        "chat_injection",
        "messages_injection",
        "chat_blocked",
        "messages_blocked",
        "chat_invalid",
    ] {
        let id = out[refusal]["request_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{refusal}: no request id: {out}"));
        assert!(
            ids.iter().any(|r| r == id),
            "{refusal}: {id} is not an audit record id"
        );
    }

    // Each refusal as each SDK raises it, with the filter's code.
    let refusal = |name: &str| out[name].clone();
    assert_eq!(
        refusal("chat_injection")["class"],
        "openai.PermissionDeniedError"
    );
    assert_eq!(
        refusal("chat_injection")["body"]["code"],
        "prompt_injection"
    );
    let anthropic = refusal("messages_injection");
    assert_eq!(anthropic["class"], "anthropic.PermissionDeniedError");
    assert_eq!(anthropic["body"]["type"], "error");
    assert_eq!(anthropic["body"]["error"]["type"], "permission_error");
    assert_eq!(anthropic["body"]["error"]["code"], "prompt_injection");
    assert_eq!(
        refusal("chat_blocked")["class"],
        "openai.InternalServerError"
    );
    assert_eq!(refusal("chat_blocked")["body"]["code"], "content_filtered");
    assert_eq!(refusal("messages_blocked")["body"]["type"], "error");
    assert_eq!(
        refusal("messages_blocked")["body"]["error"]["code"],
        "content_filtered"
    );
    assert_eq!(refusal("chat_invalid")["class"], "openai.BadRequestError");
    assert_eq!(refusal("chat_stream_blocked")["class"], "openai.APIError");
    let cut = refusal("responses_stream_blocked");
    assert_eq!(
        cut["is_openai_api_error"], true,
        "a cut Responses stream raises: {out}"
    );
    assert_eq!(cut["body"]["code"], "content_filtered");
    let cut = refusal("messages_stream_blocked");
    assert_eq!(cut["is_anthropic_api_error"], true, "{out}");
    assert_eq!(cut["body"]["error"]["code"], "content_filtered");

    // Refusals retrying cannot change are not retried: the model is asked once.
    for case in [
        "chat-blocked",
        "messages-blocked",
        "chat-stream-blocked",
        "responses-stream-blocked",
    ] {
        assert_eq!(model_calls(&mock, case), 1, "{case}");
    }
    for case in ["chat-injection", "messages-injection", "chat-invalid"] {
        assert_eq!(model_calls(&mock, case), 0, "{case}");
    }
    // A provider failure can pass, so the SDK retries it (max_retries=1 here).
    assert_eq!(
        refusal("chat_provider_500")["body"]["code"],
        "upstream_error"
    );
    assert_eq!(model_calls(&mock, "chat-provider-500"), 2);
}

#[test]
fn two_sdk_api_keys_have_separate_rate_limit_buckets() {
    let policy = std::fs::read_to_string(repo_root().join("policies/ratelimit-demo.json")).unwrap();
    let (_mock, envoy) = start_mock_and_envoy(&policy);
    let out = run_suite("ratelimit", &envoy);
    assert_eq!(out["first_ok"], 10);
    assert_eq!(out["first_over"]["class"], "openai.RateLimitError", "{out}");
    assert_eq!(out["first_over"]["body"]["code"], "rate_limit_exceeded");
    assert!(
        out["second"].is_null(),
        "the Anthropic key has its own bucket: {out}"
    );
    assert!(
        out["third"].is_null(),
        "a second OpenAI key has its own bucket: {out}"
    );
}
