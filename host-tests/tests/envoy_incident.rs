//! The kill switch in a real Envoy with four workers (PSF IR-2, IR-4): a switch through the
//! admin path reaches the very next request on every worker; a wrong token or a source not
//! allowed gets 403 and changes nothing; `degrade` and `isolate` serve the approved messages.

use crate::support::{chat, default_policy, filter_envoy_config};
use psf_host::envoy::{Envoy, EnvoyOptions};
use psf_host::http1::{self, Client, SendOptions};
use psf_host::mock_llm::{self, MockContext, MockOptions};
use psf_host::{repo_root, HttpRequest, HttpResponse};
use serde_json::{json, Value};

const TOKEN: &str = "drill-admin-token-0123456789abcdef";
const ISOLATED: &str = "The assistant is paused while we investigate.";
const DEGRADED: &str = "We are answering from a reduced service.";

fn policy(sources: &[&str]) -> String {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    policy["incident"] = json!({
        "admin": {"token": TOKEN, "sources": sources},
        "templates": {
            "degrade": {"message": DEGRADED, "approved_by": "Jane Doe", "approved_on": "2026-11-01"},
            "isolate": {"message": ISOLATED, "approved_by": "Jane Doe", "approved_on": "2026-11-01"}}});
    policy.to_string()
}

fn start(sources: &[&str]) -> (mock_llm::MockLlm, Envoy) {
    let mock = mock_llm::spawn(MockOptions {
        ctx: MockContext {
            replies_dir: repo_root().join("examples/replies"),
        },
        ..MockOptions::default()
    })
    .unwrap();
    let envoy = Envoy::start(
        &filter_envoy_config(&policy(sources), &mock),
        &EnvoyOptions {
            concurrency: 4,
            ..EnvoyOptions::default()
        },
    )
    .unwrap();
    (mock, envoy)
}

fn switch(envoy: &Envoy, body: Value, token: &str) -> HttpResponse {
    let mut request = HttpRequest::json("POST", "/.psf/v1/mode", body.to_string());
    request
        .headers
        .push(("authorization".into(), format!("Bearer {token}")));
    http1::send(envoy.listener_addr(), &request, &SendOptions::default()).unwrap()
}

fn error(response: &HttpResponse) -> (String, String) {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let field = |name: &str| body["error"][name].as_str().unwrap_or_default().to_string();
    (field("code"), field("message"))
}

#[test]
fn a_switch_reaches_every_worker_on_its_next_request() {
    let (_mock, envoy) = start(&["127.0.0.1/32"]);
    // Connections made first and kept: the kernel spreads them over the four workers, and
    // each keeps its worker, so the requests after the switch cover every worker.
    let mut clients: Vec<Client> = (0..16)
        .map(|_| Client::connect(envoy.listener_addr(), SendOptions::default()).unwrap())
        .collect();
    for client in &mut clients {
        assert_eq!(client.send(&chat("Hello", false)).unwrap().status, 200);
    }
    let answer = switch(&envoy, json!({"mode": "isolate", "reason": "e2e"}), TOKEN);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    for client in &mut clients {
        let response = client.send(&chat("Hello again", false)).unwrap();
        assert_eq!(response.status, 503);
        assert_eq!(
            error(&response),
            ("service_isolated".into(), ISOLATED.into())
        );
    }

    // The filter answered before reading the bodies, so Envoy closed those connections;
    // the rest of the test uses fresh ones.
    let send = |text: &str| {
        http1::send(
            envoy.listener_addr(),
            &chat(text, false),
            &SendOptions::default(),
        )
        .unwrap()
    };
    // A wrong token cannot switch back.
    let refused = switch(
        &envoy,
        json!({"mode": "enforce"}),
        "not-the-token-0123456789abcdef",
    );
    assert_eq!(refused.status, 403);
    assert_eq!(error(&refused).0, "admin_forbidden");
    assert_eq!(send("Still?").status, 503);

    let answer = switch(&envoy, json!({"mode": "degrade"}), TOKEN);
    assert_eq!(answer.status, 200);
    for _ in 0..8 {
        let response = send("And now?");
        assert_eq!(
            error(&response),
            ("service_degraded".into(), DEGRADED.into())
        );
    }
    assert_eq!(switch(&envoy, json!({"mode": "policy"}), TOKEN).status, 200);
    for _ in 0..8 {
        assert_eq!(send("Back?").status, 200);
    }
    // Every switch is an audit record and a metric.
    let log = envoy
        .wait_for_log(
            "\"mode_switch\":{\"mode\":\"policy\"",
            std::time::Duration::from_secs(5),
        )
        .unwrap();
    // Each record is in Envoy's log and, through filter state, in the access log.
    let switches = log
        .lines()
        .filter(|l| l.contains("psf.audit {") && l.contains("\"mode_switch\":{"))
        .count();
    assert_eq!(switches, 3, "three switches, one record each");
    let stats = envoy.admin_get("/stats?filter=psf_mode_switches").unwrap();
    assert!(
        stats.contains("psf_mode_switches_total.mode.isolate: 1"),
        "{stats}"
    );
}

#[test]
fn a_source_not_allowed_is_refused_even_with_the_token() {
    let (_mock, envoy) = start(&["10.0.0.0/8"]);
    let refused = switch(&envoy, json!({"mode": "isolate"}), TOKEN);
    assert_eq!(refused.status, 403);
    assert_eq!(error(&refused).0, "admin_forbidden");
    let response = http1::send(
        envoy.listener_addr(),
        &chat("Hello", false),
        &SendOptions::default(),
    )
    .unwrap();
    assert_eq!(response.status, 200, "nothing changed");
}

#[test]
fn the_default_policy_serves_its_accountability_document() {
    let (_mock, envoy) = crate::support::start_mock_and_envoy(&default_policy());
    let request = HttpRequest {
        method: "GET".into(),
        path: "/.well-known/ai-accountability".into(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let response = http1::send(envoy.listener_addr(), &request, &SendOptions::default()).unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let document: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(document["owner"], "Jane Doe <jane.doe@example.com>");
    assert_eq!(document["policy"]["name"], "default");
    assert!(document["accountability"]["chain"].is_array());
}
