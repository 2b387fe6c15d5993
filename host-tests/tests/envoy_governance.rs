//! Model governance, residency and disclosure in a real Envoy (PSF MS-3, DG-5, HO-1, HO-3):
//! an unapproved model gets 400 `model_not_approved`, an alias reaches the provider as its
//! pinned version, traffic to a cluster outside the allowed regions gets 403, and the
//! model's answers say they are AI-generated.

use crate::support::{default_policy, start_mock_and_envoy};
use psf_host::http1::{self, SendOptions};
use psf_host::HttpRequest;
use serde_json::{json, Value};

fn chat(model: &str) -> HttpRequest {
    let body = json!({"model": model, "messages": [{"role": "user", "content": "Hello"}]});
    HttpRequest::json("POST", "/v1/chat/completions", body.to_string())
}

fn policy(edit: impl FnOnce(&mut Value)) -> String {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    edit(&mut policy);
    policy.to_string()
}

#[test]
fn only_approved_models_reach_the_provider_pinned_and_answers_are_disclosed() {
    let (mock, envoy) = start_mock_and_envoy(&policy(|p| {
        let route = &mut p["routes"][0];
        route["approved_models"] = json!({"pinned": ["gpt-4o-2024-08-06"],
                                          "aliases": {"gpt-4o": "gpt-4o-2024-08-06"}});
        route["autonomy"] = json!("advisory");
        route["disclosure"] = json!({"text": "This answer was written by an AI model."});
    }));
    let send = |model: &str| {
        http1::send(envoy.listener_addr(), &chat(model), &SendOptions::default()).unwrap()
    };
    let refused = send("gpt-3.5-turbo");
    assert_eq!(refused.status, 400, "{}", envoy.log());
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["error"]["code"], "model_not_approved");
    assert_eq!(body["error"]["param"], "/model");
    assert!(
        refused.header("x-ai-generated").is_none(),
        "the filter wrote that answer"
    );

    let answered = send("gpt-4o");
    assert_eq!(answered.status, 200);
    assert_eq!(answered.header("x-ai-generated"), Some("true"));
    assert_eq!(
        answered.header("x-ai-disclosure"),
        Some("This answer was written by an AI model.")
    );
    assert_eq!(answered.header("x-psf-autonomy"), Some("advisory"));
    let seen: Value = serde_json::from_slice(&mock.requests().last().unwrap().body).unwrap();
    assert_eq!(seen["model"], "gpt-4o-2024-08-06", "the alias is pinned");
    assert_eq!(send("gpt-4o-2024-08-06").status, 200);
    assert_eq!(
        mock.requests().len(),
        2,
        "the refused model never reached the provider"
    );
}

#[test]
fn traffic_to_a_cluster_outside_the_allowed_regions_is_refused() {
    // The shipped Envoy config routes everything to the cluster `llm`.
    for (region, status) in [("us", 403), ("eu", 200)] {
        let (mock, envoy) = start_mock_and_envoy(&policy(|p| {
            p["residency"] = json!({"allowed_regions": ["eu"], "clusters": {"llm": region}});
        }));
        let response = http1::send(
            envoy.listener_addr(),
            &chat("gpt-test"),
            &SendOptions::default(),
        )
        .unwrap();
        assert_eq!(response.status, status, "{region}: {}", envoy.log());
        if status == 403 {
            let body: Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(body["error"]["code"], "data_residency_violation");
            assert!(mock.requests().is_empty());
        }
    }
}

#[test]
fn a_supervised_route_holds_a_transfer_until_a_person_approves_it() {
    const KEY: &str = "review-key-0123456789abcdef";
    let (mock, envoy) = start_mock_and_envoy(&policy(|p| {
        let route = &mut p["routes"][0];
        route["autonomy"] = json!("supervised");
        route["review"] = json!({"tools": ["transfer_*", "delete_*"], "key": KEY,
            "conditions": [{"pointer": "/amount", "above": 1000}],
            "queue": {"cluster": "moderation", "path": "/v1/review"}});
    }));
    let request = |amount: u64, approval: Option<&str>| {
        let mut request = chat("Pay the invoice from ACME");
        let call = format!("tool:transfer_funds:{{\"to\":\"ACME\",\"amount\":{amount}}}");
        request.headers.push(("x-mock-scenario".into(), call));
        if let Some(approval) = approval {
            request
                .headers
                .push(("x-psf-approval".into(), approval.into()));
        }
        http1::send(envoy.listener_addr(), &request, &SendOptions::default()).unwrap()
    };
    // Under the condition's threshold: not held.
    assert_eq!(request(50, None).status, 200, "{}", envoy.log());

    let held = request(5000, None);
    assert_eq!(held.status, 202, "{}", envoy.log());
    let body: Value = serde_json::from_slice(&held.body).unwrap();
    assert_eq!(body["error"]["code"], "pending_human_review");
    let ticket = body["error"]["param"].as_str().unwrap().to_string();
    assert!(
        !String::from_utf8_lossy(&held.body).contains("ACME"),
        "the call is not released"
    );

    // The reviewers get the held call from the queue.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let queued = loop {
        let queued: Vec<_> = mock
            .requests()
            .into_iter()
            .filter(|r| r.path == "/v1/review")
            .collect();
        if !queued.is_empty() || std::time::Instant::now() > deadline {
            break queued;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(queued.len(), 1, "{}", envoy.log());
    let item: Value = serde_json::from_slice(&queued[0].body).unwrap();
    assert_eq!(
        (item["ticket"].as_str(), item["tool"].as_str()),
        (Some(ticket.as_str()), Some("transfer_funds"))
    );

    // A reviewer approves; the client replays the same request with the approval.
    let out = crate::support::psf_guard_command()
        .args(["approve", "--ticket", &ticket, "--key", KEY])
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let approval = printed
        .trim()
        .strip_prefix("x-psf-approval: ")
        .unwrap()
        .to_string();
    let released = request(5000, Some(&approval));
    assert_eq!(
        released.status,
        200,
        "{}",
        String::from_utf8_lossy(&released.body)
    );
    let body: Value = serde_json::from_slice(&released.body).unwrap();
    assert_eq!(
        body["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "transfer_funds"
    );

    // A forged or foreign approval is refused.
    let forged = approval.replacen(|c: char| c.is_ascii_hexdigit() && c != '0', "0", 1);
    let refused = request(5000, Some(&forged));
    assert_eq!(refused.status, 403);
    let body: Value = serde_json::from_slice(&refused.body).unwrap();
    assert_eq!(body["error"]["code"], "approval_invalid");
}

/// The shipped Envoy config with a second upstream, `fallback`, and a route that sends
/// requests carrying `x-psf-fallback` to it; the primary (`llm`) fails every request.
fn with_fallback_route(yaml: &str, fallback_port: u16) -> String {
    let routes = "              routes:\n              - match:\n                  prefix: \"/\"\n                route:\n                  cluster: llm\n";
    assert!(yaml.contains(routes), "the template's route changed");
    let rerouted = "              routes:\n              - match:\n                  prefix: \"/\"\n                  headers:\n                  - name: x-psf-fallback\n                    present_match: true\n                route:\n                  cluster: fallback\n              - match:\n                  prefix: \"/\"\n                request_headers_to_add:\n                - header: {key: x-mock-scenario, value: \"status:503\"}\n                route:\n                  cluster: llm\n";
    let cluster = format!(
        "  clusters:\n  - name: fallback\n    type: STATIC\n    connect_timeout: 5s\n    load_assignment:\n      cluster_name: fallback\n      endpoints:\n      - lb_endpoints:\n        - endpoint:\n            address:\n              socket_address:\n                address: 127.0.0.1\n                port_value: {fallback_port}\n"
    );
    yaml.replace(routes, rerouted)
        .replace("  clusters:\n", &cluster)
}

#[test]
fn a_failing_upstream_falls_back_once_its_breaker_opens() {
    use psf_host::envoy::{Envoy, EnvoyOptions};
    use psf_host::mock_llm::{self, MockOptions};
    let primary = mock_llm::spawn(MockOptions::default()).unwrap();
    let fallback = mock_llm::spawn(MockOptions::default()).unwrap();
    let policy = policy(|p| {
        p["routes"][0]["fallback"] = json!({"action": "reroute", "on": ["5xx", "timeout"],
            "breaker": {"failures": 2, "window_seconds": 60, "open_seconds": 60}});
    });
    let config = crate::support::filter_envoy_config(&policy, &primary);
    let yaml = with_fallback_route(&config.render().unwrap(), fallback.addr().port());
    let envoy = Envoy::start_yaml(&yaml, &config, &EnvoyOptions::default()).unwrap();
    let send = || {
        http1::send(
            envoy.listener_addr(),
            &chat("gpt-test"),
            &SendOptions::default(),
        )
        .unwrap()
    };
    // A client cannot pick the fallback itself: the filter removes the header, so this goes
    // to the failing primary (and counts as its first failure).
    let mut forced = chat("gpt-test");
    forced.headers.push(("x-psf-fallback".into(), "1".into()));
    let failed = http1::send(envoy.listener_addr(), &forced, &SendOptions::default()).unwrap();
    assert_eq!(failed.status, 502, "{}", envoy.log());
    // The second failure opens the breaker; each is answered as the upstream error it is.
    assert_eq!(send().status, 502);
    // From now on requests go to the fallback upstream, and succeed.
    for _ in 0..3 {
        let answered = send();
        assert_eq!(answered.status, 200, "{}", envoy.log());
    }
    assert_eq!(primary.requests().len(), 2);
    assert_eq!(fallback.requests().len(), 3);
    let stats = envoy.admin_get("/stats?filter=psf_").unwrap();
    assert!(
        stats.contains("psf_breaker_opened_total.route.openai-chat: 1"),
        "{stats}"
    );
    assert!(
        stats.contains("psf_fallbacks_total.route.openai-chat.action.reroute: 3"),
        "{stats}"
    );
}
