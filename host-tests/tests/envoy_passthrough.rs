//! A real Envoy without the filter in front of the mock LLM: proves the harness (configs,
//! ports, readiness, logs) before any test blames the filter. Also validates every
//! committed Envoy config. Fails, never skips, when Envoy is not installed.

// Test helpers outside `#[test]` fns are not covered by clippy.toml's test allowances.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use psf_host::envoy::{self, Envoy, EnvoyConfig, EnvoyOptions};
use psf_host::http1::{self, SendOptions};
use psf_host::mock_llm::{self, respond, MockContext, MockLlm, MockOptions};
use psf_host::{repo_root, HttpRequest};
use serde_json::json;

fn passthrough(mock: &MockLlm) -> EnvoyConfig {
    EnvoyConfig {
        listener_port: envoy::free_port(),
        upstream_port: mock.addr().port(),
        admin_port: envoy::free_port(),
        passthrough: true,
        ..EnvoyConfig::default()
    }
}

fn chat_request(stream: bool) -> HttpRequest {
    let body = json!({
        "model": "gpt-test",
        "messages": [{"role": "user", "content": "Say hi through Envoy"}],
        "stream": stream
    });
    HttpRequest::json("POST", "/v1/chat/completions", body.to_string())
}

#[test]
fn passthrough_forwards_chat_bodies_exactly() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let proxy = Envoy::start(&passthrough(&mock), &EnvoyOptions::default()).unwrap();
    assert_eq!(proxy.admin_get("/ready").unwrap().trim(), "LIVE");

    let req = chat_request(false);
    let resp = http1::send(proxy.listener_addr(), &req, &SendOptions::default()).unwrap();
    assert_eq!(resp.status, 200, "{}", proxy.log());
    assert_eq!(resp.body, respond(&req, &MockContext::default()).body());
    assert_eq!(resp.header("server"), Some("envoy"));

    // A chunked client body reaches the model byte for byte too.
    let chunked = SendOptions {
        chunked: true,
        ..SendOptions::default()
    };
    let resp = http1::send(proxy.listener_addr(), &req, &chunked).unwrap();
    assert_eq!(resp.status, 200);

    let seen = mock.requests();
    assert_eq!(seen.len(), 2);
    for upstream in &seen {
        assert_eq!(upstream.method, "POST");
        assert_eq!(upstream.path, "/v1/chat/completions");
        assert_eq!(upstream.body, req.body);
        assert_eq!(upstream.header("content-type"), Some("application/json"));
    }
    assert!(proxy
        .admin_get("/stats?filter=ingress_http.downstream_rq_2xx")
        .unwrap()
        .contains(": 2"));
}

#[test]
fn passthrough_streams_sse_without_buffering() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let proxy = Envoy::start(&passthrough(&mock), &EnvoyOptions::default()).unwrap();
    let mut req = chat_request(true);
    req.headers
        .push(("x-mock-scenario".into(), "slow-stream".into()));
    let s = http1::send_streaming(proxy.listener_addr(), &req, &SendOptions::default()).unwrap();
    assert!(s.complete);
    assert_eq!(s.response.header("content-type"), Some("text/event-stream"));
    assert_eq!(
        s.response.body,
        respond(&req, &MockContext::default()).body()
    );
    let first = s.first_byte().unwrap();
    let last = s.chunks.last().unwrap().0;
    assert!(
        first + mock_llm::SLOW_STREAM_DELAY * 2 < last,
        "first {first:?}, last {last:?}"
    );

    // A truncated upstream stream stays truncated for the client.
    req.headers.pop();
    req.headers
        .push(("x-mock-scenario".into(), "truncated-stream".into()));
    let s = http1::send_streaming(proxy.listener_addr(), &req, &SendOptions::default()).unwrap();
    assert!(
        !s.complete,
        "{:?}",
        String::from_utf8_lossy(&s.response.body)
    );
}

#[test]
fn committed_envoy_yaml_matches_template_and_default_policy() {
    let committed = std::fs::read_to_string(repo_root().join("envoy/envoy.yaml")).unwrap();
    let rendered = envoy::render_default_envoy_yaml().unwrap();
    assert!(
        committed == rendered,
        "envoy/envoy.yaml is stale: regenerate it with render_default_envoy_yaml()"
    );
}

#[test]
fn every_envoy_config_validates() {
    let dir = repo_root().join("envoy");
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.ends_with(".template.yaml") || !name.ends_with(".yaml") {
            continue;
        }
        envoy::validate(&path).unwrap();
        checked.push(name);
    }
    assert!(
        checked.contains(&"envoy.yaml".to_string()),
        "checked {checked:?}"
    );

    // Templates hold placeholders: validate them rendered (with the default policy).
    for passthrough in [false, true] {
        let config = EnvoyConfig {
            passthrough,
            ..EnvoyConfig::default()
        };
        let path = write_rendered(&config, &format!("rendered-{passthrough}"));
        envoy::validate(&path).unwrap();
    }
}

fn write_rendered(config: &EnvoyConfig, name: &str) -> std::path::PathBuf {
    let out = repo_root().join("target/envoy-runs/validate");
    std::fs::create_dir_all(&out).unwrap();
    let path = out.join(format!("{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, config.render().unwrap()).unwrap();
    path
}

/// Surprise worth pinning: Envoy 1.40's `--mode validate` loads the wasm and runs its
/// `on_configure`, so a refused policy fails validation, and so does starting Envoy.
#[test]
fn refused_policy_fails_validation_and_startup() {
    let config = EnvoyConfig {
        listener_port: envoy::free_port(),
        admin_port: envoy::free_port(),
        wasm_file: psf_host::wasm_path().unwrap(),
        policy_json: r#"{"not": "a policy"}"#.into(),
        ..EnvoyConfig::default()
    };
    let err = envoy::validate(&write_rendered(&config, "refused")).unwrap_err();
    assert!(
        format!("{err:#}").contains("Unable to create Wasm plugin"),
        "{err:#}"
    );
    let log = Envoy::start_expect_failure(&config).unwrap();
    assert!(log.contains("psf_guard"), "{log}");
}

#[test]
fn policy_json_becomes_an_indented_block_scalar() {
    let config = EnvoyConfig {
        policy_json: "\n  {\n  \"a\": \"${not a placeholder}\",\n\n\t\"b\": [1]\n}\n".into(),
        ..EnvoyConfig::default()
    };
    let yaml = config.render().unwrap();
    let at = yaml.find("value: |\n").unwrap();
    let block: Vec<&str> = yaml[at..].lines().skip(1).take(5).collect();
    let indent = " ".repeat(20);
    assert_eq!(block[0], format!("{indent}{{"));
    assert_eq!(
        block[1],
        format!("{indent}  \"a\": \"${{not a placeholder}}\",")
    );
    assert_eq!(block[2], "");
    assert_eq!(block[3], format!("{indent}\t\"b\": [1]"));
    assert_eq!(block[4], format!("{indent}}}"));
    let pt = EnvoyConfig {
        passthrough: true,
        ..config
    }
    .render()
    .unwrap();
    assert!(!pt.contains("wasm") && !pt.contains("${"));
}

/// The fleet example (docs/fleet-rate-limits.md): psf-guard, then Envoy's global ratelimit
/// filter and its gRPC cluster. Validation loads the wasm and runs its configure, so this
/// also checks that the filter accepts the example's policy with `rate_limits`.
#[test]
fn global_ratelimit_example_validates() {
    envoy::validate(&repo_root().join("examples/envoy-global-ratelimit.yaml")).unwrap();
}

/// Parallel tests race for free ports: a listener port taken between `free_port` and
/// Envoy's bind makes the harness start again on fresh ports, not fail the test.
#[test]
fn a_port_taken_before_envoy_binds_it_is_replaced() {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = EnvoyConfig {
        listener_port: taken.local_addr().unwrap().port(),
        ..passthrough(&mock)
    };
    let proxy = Envoy::start(&config, &EnvoyOptions::default()).unwrap();
    assert_ne!(proxy.listener_addr().port(), config.listener_port);
    let resp = http1::send(
        proxy.listener_addr(),
        &chat_request(false),
        &SendOptions::default(),
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    drop(taken);
}
