//! Plays one exchange through the real `.wasm` in the embedded host with a given policy:
//! what the CLI's `run` and `eval` and the conformance tests share.

use crate::host::{
    Host, LogEntry, LogLevel, StreamOutcome, StreamRequest, Upstream, UpstreamResponse, Vm,
    VmConfig,
};
use crate::mock_llm::{self, MockContext};
use crate::HttpRequest;
use anyhow::Result;
use serde_json::Value;

/// The prefix of the filter's decision log line.
pub const DECISION_PREFIX: &str = "psf.audit ";

/// A VM configured with one policy, ready to play exchanges.
pub struct Player {
    vm: Vm,
}

/// Why a policy did not load: the filter's error log lines, as `path: reason`.
#[derive(Debug)]
pub struct Refused {
    pub errors: Vec<String>,
}

/// One played exchange.
pub struct Played {
    pub outcome: StreamOutcome,
    /// The filter's decision record for this exchange.
    pub record: Option<Value>,
    pub logs: Vec<LogEntry>,
}

/// The fields of a filter log line `psf.log {…}` whose `event` is `event`.
pub fn log_event(message: &str, event: &str) -> Option<Value> {
    let json: Value = serde_json::from_str(message.strip_prefix("psf.log ")?).ok()?;
    (json["event"] == event).then_some(json)
}

impl Player {
    /// Starts a VM with `policy` as plugin configuration, as Envoy does.
    pub fn start(
        host: &Host,
        policy: &[u8],
    ) -> Result<std::result::Result<(Player, String), Refused>> {
        let mut vm = host.start_vm(VmConfig {
            plugin_config: policy.to_vec(),
            // As in envoy/envoy.template.yaml: psf-guard holds headers while it measures a body.
            allow_on_headers_stop_iteration: true,
            ..VmConfig::default()
        })?;
        let logs = vm.take_logs();
        if vm.configured() {
            let summary = logs
                .iter()
                .find_map(|l| log_event(&l.message, "policy_loaded"))
                .and_then(|e| e["summary"].as_str().map(str::to_string))
                .unwrap_or_else(|| "policy loaded".to_string());
            return Ok(Ok((Player { vm }, summary)));
        }
        let errors = logs
            .iter()
            .filter(|l| l.level >= LogLevel::Error)
            .filter_map(|l| log_event(&l.message, "policy_invalid"))
            .filter_map(|e| e["error"].as_str().map(str::to_string))
            .collect();
        Ok(Err(Refused { errors }))
    }

    pub fn play(&mut self, request: &StreamRequest, upstream: &mut dyn Upstream) -> Result<Played> {
        let outcome = self.vm.http_stream(request, upstream)?;
        let logs = self.vm.take_logs();
        let record = logs
            .iter()
            .rev()
            .find_map(|l| l.message.strip_prefix(DECISION_PREFIX))
            .and_then(|json| serde_json::from_str(json).ok());
        Ok(Played {
            outcome,
            record,
            logs,
        })
    }
}

/// The mock LLM as an in-process upstream: the same replies `mock-llm` sends over a socket.
pub fn mock_upstream(ctx: MockContext) -> impl FnMut(&HttpRequest) -> UpstreamResponse {
    move |request: &HttpRequest| {
        let reply = mock_llm::respond(request, &ctx);
        UpstreamResponse {
            status: reply.status,
            headers: reply.headers,
            chunks: reply.chunks.into_iter().map(|(_, chunk)| chunk).collect(),
            trailers: Vec::new(),
        }
    }
}

/// An upstream that always answers `status` with `content_type` and `body`.
pub fn fixed_upstream(
    status: u16,
    content_type: &str,
    body: Vec<u8>,
) -> impl FnMut(&HttpRequest) -> UpstreamResponse {
    let content_type = content_type.to_string();
    move |_: &HttpRequest| UpstreamResponse {
        status,
        headers: vec![("content-type".to_string(), content_type.clone())],
        chunks: vec![body.clone()],
        trailers: Vec::new(),
    }
}
