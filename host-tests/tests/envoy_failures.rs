//! What the client got, in the audit record, when Envoy answered instead of the filter:
//! an answer over Envoy's buffer limit, and an upstream that resets mid-body. See: #15
//! (finding 14)

use crate::support::{audit_records_without, chat, default_policy};
use psf_host::envoy::{free_port, Envoy, EnvoyConfig, EnvoyOptions};
use psf_host::http1::{self, SendOptions, Server, ServerBody, ServerResponse};
use std::time::Duration;

fn envoy_in_front_of(server: &Server) -> Envoy {
    let config = EnvoyConfig {
        listener_port: free_port(),
        upstream_port: server.addr().port(),
        admin_port: free_port(),
        wasm_file: psf_host::wasm_path().unwrap(),
        policy_json: default_policy(),
        ..EnvoyConfig::default()
    };
    Envoy::start(&config, &EnvoyOptions::default()).unwrap()
}

fn json_headers() -> Vec<(String, String)> {
    vec![("content-type".into(), "application/json".into())]
}

#[test]
fn the_record_says_what_the_client_got() {
    let server = Server::start(|request| {
        if request.header("x-case") == Some("huge") {
            // Over the 8 MiB Envoy buffers for the filter: Envoy answers itself.
            let text = "a".repeat(20 << 20);
            let body = format!(
                r#"{{"choices":[{{"index":0,"finish_reason":"stop","message":{{"role":"assistant","content":"{text}"}}}}]}}"#
            );
            ServerResponse::full(200, json_headers(), body)
        } else {
            let start = br#"{"choices":[{"index":0,"message":{"role":"assistant","content":"cut"#;
            ServerResponse {
                status: 200,
                headers: json_headers(),
                body: ServerBody::Truncated(vec![(Duration::ZERO, start.to_vec())]),
            }
        }
    })
    .unwrap();
    let envoy = envoy_in_front_of(&server);
    let mut statuses = Vec::new();
    for case in ["huge", "reset"] {
        let mut request = chat("hello", false);
        request.headers.push(("x-case".into(), case.into()));
        let options = SendOptions {
            timeout: Duration::from_secs(20),
            ..SendOptions::default()
        };
        let status = http1::send(envoy.listener_addr(), &request, &options)
            .map(|r| r.status)
            .unwrap_or(0);
        statuses.push(status);
    }
    let records = audit_records_without(&envoy, &[], 2);
    for (record, status) in records.iter().zip(&statuses) {
        assert_ne!(record["status"], 200, "{record}");
        if *status != 0 {
            assert_eq!(record["status"], *status, "{record}");
        }
        assert!(record["status"].as_u64().unwrap_or(0) >= 500, "{record}");
        assert!(record["status_detail"].is_string(), "{record}");
    }
}
