//! Conformance: the same scenarios through the wasmtime host and through a real Envoy.
//! Both must give the same status, the same bytes to the client and the same bytes to
//! the upstream; where Envoy differs from what we expected, a test says so.

use crate::support::{chat, chat_of_size, default_policy, filter_envoy_config, size_policy, MIB};
use psf_host::envoy::{Envoy, EnvoyOptions};
use psf_host::host::StreamRequest;
use psf_host::http1::{self, SendOptions};
use psf_host::mock_llm::{self, MockContext, MockOptions};
use psf_host::play::{mock_upstream, Player};
use psf_host::HttpRequest;
use serde_json::json;

struct Scenario {
    name: &'static str,
    request: HttpRequest,
    chunked: bool,
}

/// What one side observed, reduced to what must agree.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    status: u16,
    client_body: Vec<u8>,
    content_type: Option<String>,
    psf_code: Option<String>,
    /// Method, path, content-length and body as the upstream received them.
    upstream: Option<(String, String, Option<String>, Vec<u8>)>,
}

fn with_header(mut request: HttpRequest, name: &str, value: &str) -> HttpRequest {
    request.headers.push((name.into(), value.into()));
    request
}

fn scenarios() -> Vec<Scenario> {
    let plain = |name, request| Scenario {
        name,
        request,
        chunked: false,
    };
    vec![
        plain("chat json", chat("What is the capital of France?", false)),
        plain("chat sse", chat("Count to three", true)),
        plain(
            "anthropic messages",
            HttpRequest::json(
                "POST",
                "/v1/messages",
                json!({"model": "claude-test", "max_tokens": 64, "system": "Be brief.",
                       "messages": [{"role": "user", "content": "Name a prime"}]})
                .to_string(),
            ),
        ),
        plain(
            "responses api",
            HttpRequest::json(
                "POST",
                "/v1/responses",
                json!({"model": "gpt-test", "input": "Hello"}).to_string(),
            ),
        ),
        Scenario {
            name: "chat chunked",
            request: chat("sent chunked", false),
            chunked: true,
        },
        plain(
            "upstream 503",
            with_header(chat("x", false), "x-mock-scenario", "status:503"),
        ),
        plain(
            "upstream malformed json",
            with_header(chat("x", false), "x-mock-scenario", "malformed-json"),
        ),
        plain(
            "body without json content",
            HttpRequest {
                method: "GET".into(),
                path: "/v1/models".into(),
                ..HttpRequest::default()
            },
        ),
        plain("2 MiB with content-length", chat_of_size(2 * MIB)),
        Scenario {
            name: "2 MiB chunked",
            request: chat_of_size(2 * MIB),
            chunked: true,
        },
        plain("exactly 1 MiB", chat_of_size(MIB)),
    ]
}

fn via_host(policy: &str, scenario: &Scenario, request_id: &str) -> Observed {
    let host = crate::support::filter_host();
    let Ok((mut player, _)) = Player::start(&host, policy.as_bytes()).unwrap() else {
        panic!("policy refused")
    };
    let mut request = scenario.request.clone();
    let mut stream = StreamRequest::new(request.clone());
    if scenario.chunked {
        request
            .headers
            .push(("transfer-encoding".into(), "chunked".into()));
        stream = StreamRequest {
            chunks: vec![64 * 1024; request.body.len() / (64 * 1024)],
            ..StreamRequest::new(request)
        };
    }
    stream.request_id = request_id.to_string();
    let played = player
        .play(&stream, &mut mock_upstream(MockContext::default()))
        .unwrap();
    let response = played.outcome.response;
    Observed {
        status: response.status,
        client_body: response.body.clone(),
        content_type: response.header("content-type").map(str::to_string),
        psf_code: response.header("x-psf-code").map(str::to_string),
        upstream: played.outcome.upstream_request.map(|r| {
            let length = r.header("content-length").map(str::to_string);
            (r.method, r.path, length, r.body)
        }),
    }
}

fn via_envoy(
    envoy: &Envoy,
    mock: &mock_llm::MockLlm,
    scenario: &Scenario,
    request_id: &str,
) -> Observed {
    let before = mock.requests().len();
    let request = with_header(scenario.request.clone(), "x-request-id", request_id);
    let options = SendOptions {
        chunked: scenario.chunked,
        ..SendOptions::default()
    };
    let response = http1::send(envoy.listener_addr(), &request, &options)
        .unwrap_or_else(|e| panic!("{}: {e:#}\n{}", scenario.name, envoy.log()));
    let seen = mock.requests();
    assert!(
        seen.len() <= before + 1,
        "{}: one request at most reaches the model",
        scenario.name
    );
    Observed {
        status: response.status,
        client_body: response.body.clone(),
        content_type: response.header("content-type").map(str::to_string),
        psf_code: response.header("x-psf-code").map(str::to_string),
        upstream: seen.get(before).map(|r| {
            let length = r.header("content-length").map(str::to_string);
            (r.method.clone(), r.path.clone(), length, r.body.clone())
        }),
    }
}

fn start_envoy(policy: &str, mock: &mock_llm::MockLlm) -> Envoy {
    Envoy::start(&filter_envoy_config(policy, mock), &EnvoyOptions::default()).unwrap()
}

fn assert_agree(policy: &str, scenarios: &[Scenario]) {
    let mock = mock_llm::spawn(MockOptions::default()).unwrap();
    let envoy = start_envoy(policy, &mock);
    for (i, scenario) in scenarios.iter().enumerate() {
        let request_id = format!("conformance-{i}");
        let host = via_host(policy, scenario, &request_id);
        let real = via_envoy(&envoy, &mock, scenario, &request_id);
        let show = |o: &Observed| {
            format!(
                "status {} type {:?} code {:?} upstream {:?}\nbody {}",
                o.status,
                o.content_type,
                o.psf_code,
                o.upstream.as_ref().map(|u| (&u.0, &u.1, &u.2, u.3.len())),
                String::from_utf8_lossy(&o.client_body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            )
        };
        assert!(
            host == real,
            "{}: host and Envoy disagree\nhost:  {}\nenvoy: {}",
            scenario.name,
            show(&host),
            show(&real)
        );
    }
}

#[test]
fn default_policy_scenarios_agree_between_host_and_envoy() {
    assert_agree(&default_policy(), &scenarios());
}

#[test]
fn monitor_mode_scenarios_agree_between_host_and_envoy() {
    let oversized = vec![
        Scenario {
            name: "monitor: 2 KiB over a 1 KiB limit",
            request: chat_of_size(2048),
            chunked: false,
        },
        Scenario {
            name: "monitor: chunked, over the limit",
            request: chat_of_size(2048),
            chunked: true,
        },
    ];
    assert_agree(&size_policy("monitor", 1024, "block"), &oversized);
}
