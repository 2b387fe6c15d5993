//! `make demo`: the whole product on loopback. Starts the mock LLM and a real Envoy running
//! the filter with `policies/default.json`, replays `examples/requests/*`, shows what the
//! client got and what the model saw, then stops everything it started.

use crate::envoy::{free_port, Envoy, EnvoyConfig, EnvoyOptions};
use crate::example::load_examples;
use crate::http1::{self, SendOptions};
use crate::mock_llm::{self, MockContext, MockOptions};
use crate::{repo_root, wasm_path};
use anyhow::Context;

const PREVIEW: usize = 160;

pub fn run() -> anyhow::Result<()> {
    let root = repo_root();
    let work = root.join("target/demo");
    std::fs::create_dir_all(&work)?;
    let mock = mock_llm::spawn(MockOptions {
        port: 0,
        log: Some(work.join("mock-llm.jsonl")),
        ctx: MockContext {
            replies_dir: root.join("examples/replies"),
        },
    })?;
    let policy_file = root.join("policies/default.json");
    let config = EnvoyConfig {
        listener_port: free_port(),
        upstream_port: mock.addr().port(),
        admin_port: free_port(),
        wasm_file: wasm_path()?,
        policy_json: std::fs::read_to_string(&policy_file)
            .context("reading policies/default.json")?,
        access_log: work.join("access.log"),
        passthrough: false,
        stock_hcm: false,
    };
    let envoy = Envoy::start(&config, &EnvoyOptions::default())?;
    println!(
        "mock-llm on {}, Envoy with psf-guard on {} (admin {})",
        mock.addr(),
        envoy.listener_addr(),
        envoy.admin_addr()
    );
    println!("policy: {}\n", policy_file.display());

    for example in load_examples(&root.join("examples/requests"))? {
        let seen_before = mock.requests().len();
        let options = SendOptions {
            chunked: example.chunked,
            ..SendOptions::default()
        };
        let response = http1::send(envoy.listener_addr(), &example.request, &options)
            .with_context(|| format!("sending {}", example.name))?;
        let framing = if example.chunked { ", chunked" } else { "" };
        let code = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(|c| format!(" {c}")))
            .unwrap_or_default();
        println!(
            "{}  {} {} ({} bytes{framing})  -> {}{code}",
            example.name,
            example.request.method,
            example.request.path,
            example.request.body.len(),
            response.status
        );
        println!("   {}", example.description);
        println!("   client got: {}", preview(&response.body));
        if response
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/event-stream"))
        {
            println!(
                "   client read: {}",
                preview(crate::message::streamed_text(&response.body).as_bytes())
            );
        }
        match mock.requests().get(seen_before) {
            Some(seen) => println!("   model saw:  {}", preview(&seen.body)),
            None => println!("   model saw:  nothing (stopped before the model)"),
        }
        println!();
    }
    println!(
        "audit records (psf.audit) and Envoy's log: {}",
        envoy.dir().join("envoy.log").display()
    );
    println!("access log: {}", config.access_log.display());
    drop(envoy);
    drop(mock);
    println!("stopped Envoy and mock-llm");
    Ok(())
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body).replace('\n', "\\n");
    if text.chars().count() > PREVIEW {
        let cut: String = text.chars().take(PREVIEW).collect();
        format!("{cut}… ({} bytes)", body.len())
    } else {
        text
    }
}
