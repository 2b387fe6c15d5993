//! Shared test helpers: the built filter, policies, requests.

#![allow(dead_code)]

use psf_host::envoy::{free_port, Envoy, EnvoyConfig, EnvoyOptions};
use psf_host::host::Host;
use psf_host::mock_llm::{self, MockContext, MockLlm, MockOptions};
use psf_host::{repo_root, HttpRequest};
use serde_json::json;
use std::sync::OnceLock;

/// The real `dist/psf_guard.wasm`, compiled once per test binary.
pub fn filter_host() -> Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let path = psf_host::wasm_path().unwrap_or_else(|e| panic!("{e}"));
        Host::from_file(&path).unwrap_or_else(|e| panic!("loading {}: {e:#}", path.display()))
    })
    .clone()
}

pub fn default_policy() -> String {
    std::fs::read_to_string(repo_root().join("policies/default.json"))
        .expect("policies/default.json")
}

/// A policy with one body-size rule.
pub fn size_policy(mode: &str, max_bytes: u64, action: &str) -> String {
    json!({
        "version": 1, "name": "size-test", "owner": "Ada Lovelace", "mode": mode,
        "rules": [{"id": "body-size", "type": "request_body_size", "max_bytes": max_bytes, "action": action}]
    })
    .to_string()
}

/// A chat-completions request whose user message makes the body exactly `bytes` long
/// (at least the size of the empty request).
pub fn chat_of_size(bytes: usize) -> HttpRequest {
    let empty =
        json!({"model": "gpt-test", "messages": [{"role": "user", "content": ""}]}).to_string();
    let text = "a".repeat(bytes.saturating_sub(empty.len()));
    let body =
        json!({"model": "gpt-test", "messages": [{"role": "user", "content": text}]}).to_string();
    HttpRequest::json("POST", "/v1/chat/completions", body)
}

pub fn chat(text: &str, stream: bool) -> HttpRequest {
    let body = json!({"model": "gpt-test", "stream": stream, "messages": [{"role": "user", "content": text}]});
    HttpRequest::json("POST", "/v1/chat/completions", body.to_string())
}

pub const MIB: usize = 1024 * 1024;

/// An Envoy running the built filter with `policy`, in front of `mock`, on free ports.
pub fn filter_envoy_config(policy: &str, mock: &MockLlm) -> EnvoyConfig {
    EnvoyConfig {
        listener_port: free_port(),
        upstream_port: mock.addr().port(),
        admin_port: free_port(),
        wasm_file: psf_host::wasm_path().unwrap(),
        policy_json: policy.to_string(),
        ..EnvoyConfig::default()
    }
}

/// mock-llm on a free port, with `reply:<file>` read from the repository's
/// `examples/replies/`, and an Envoy with the built filter and `policy` in front of it.
pub fn start_mock_and_envoy(policy: &str) -> (MockLlm, Envoy) {
    let options = MockOptions {
        ctx: MockContext {
            replies_dir: repo_root().join("examples/replies"),
        },
        ..MockOptions::default()
    };
    let mock = mock_llm::spawn(options).unwrap();
    let envoy = Envoy::start(
        &filter_envoy_config(policy, &mock),
        &EnvoyOptions::default(),
    )
    .unwrap();
    (mock, envoy)
}

/// `policy` with the redacted prompt and answer in every audit record, so a test that sends
/// PII checks the redaction on every record, not on a 1 % sample.
pub fn with_audit_text(policy: &str) -> String {
    let mut policy: serde_json::Value = serde_json::from_str(policy).expect("policy");
    policy["audit"] = json!({"include_text": true});
    policy.to_string()
}

/// Waits for `count` audit records in `envoy`'s log, checks each is sealed, and that none
/// holds any of `values` (IG-3: redacted by construction). Returns the records.
pub fn audit_records_without(
    envoy: &Envoy,
    values: &[&str],
    count: usize,
) -> Vec<serde_json::Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let log = envoy.log();
        let lines: Vec<String> = log
            .lines()
            .filter_map(|l| {
                l.find("psf.audit {")
                    .map(|at| l[at + "psf.audit ".len()..].to_string())
            })
            .collect();
        if lines.len() >= count || std::time::Instant::now() > deadline {
            assert_eq!(
                lines.len(),
                count,
                "one record per request:\n{}",
                lines.join("\n")
            );
            return lines
                .iter()
                .map(|line| {
                    psf_engine::audit::chain::check_line(line)
                        .unwrap_or_else(|e| panic!("{e:?}: {line}"));
                    for value in values {
                        assert!(!line.contains(value), "{value} in the audit record {line}");
                    }
                    serde_json::from_str(line).expect("a record is JSON")
                })
                .collect();
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The `psf-guard` CLI (crate `psf-cli`) beside this test binary, as `cargo test
/// --workspace` and `make tools` build it.
pub fn psf_guard_command() -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let debug_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let cli = debug_dir.join(format!("psf-guard{}", std::env::consts::EXE_SUFFIX));
    assert!(
        cli.is_file(),
        "{} is missing: build it with `cargo build -p psf-cli`",
        cli.display()
    );
    std::process::Command::new(cli)
}
