//! Per-VM state held in the wasmtime `Store`: contexts, streams, captures.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::calls::{CallPolicy, HostCall};
use super::cluster::CallRequest;
use super::types::{Headers, LogEntry, MapType};
use super::{HostShared, VmConfig};

/// A `proxy_send_local_response` waiting for the current callback to return
/// (Envoy defers it with `addAfterVmCallAction`, context.cc sendLocalResponse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalReply {
    pub status: u16,
    /// Envoy replaces spaces in details with underscores.
    pub details: String,
    pub body: Vec<u8>,
    pub headers: Headers,
    pub grpc_status: i32,
}

/// One HTTP stream context's view of the exchange.
#[derive(Debug, Default)]
pub struct StreamCtx {
    pub request_headers: Option<Headers>,
    pub request_trailers: Option<Headers>,
    pub response_headers: Option<Headers>,
    pub response_trailers: Option<Headers>,
    /// The body the filter currently sees (buffered chunks plus the current one).
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
    pub source_address: String,
    pub destination_address: String,
    pub request_id: String,
    pub start_nanos: u64,
    pub response_code: Option<u16>,
    /// `proxy_set_property` values (Envoy keeps them in the stream's filter state).
    pub props: BTreeMap<String, Vec<u8>>,
    pub local_reply: Option<LocalReply>,
    /// Set by `proxy_continue_stream(0)` / `(1)`; consumed by the stream driver.
    pub continue_request: bool,
    pub continue_response: bool,
    /// Set by `proxy_close_stream`.
    pub closed: bool,
}

impl StreamCtx {
    pub fn map(&self, t: MapType) -> Option<&Headers> {
        match t {
            MapType::RequestHeaders => self.request_headers.as_ref(),
            MapType::RequestTrailers => self.request_trailers.as_ref(),
            MapType::ResponseHeaders => self.response_headers.as_ref(),
            MapType::ResponseTrailers => self.response_trailers.as_ref(),
            _ => None,
        }
    }

    pub fn map_mut(&mut self, t: MapType) -> Option<&mut Headers> {
        match t {
            MapType::RequestHeaders => self.request_headers.as_mut(),
            MapType::RequestTrailers => self.request_trailers.as_mut(),
            MapType::ResponseHeaders => self.response_headers.as_mut(),
            MapType::ResponseTrailers => self.response_trailers.as_mut(),
            _ => None,
        }
    }
}

/// An answered http_call while its `proxy_on_http_call_response` runs.
#[derive(Debug, Clone, Default)]
pub struct CallResponseView {
    pub headers: Headers,
    pub body: Vec<u8>,
    pub trailers: Headers,
}

/// An http_call the filter made and the host has not answered yet.
#[derive(Debug, Clone)]
pub struct PendingCall {
    pub context_id: u32,
    pub request: CallRequest,
}

pub struct VmState {
    pub host: Arc<HostShared>,
    pub config: VmConfig,
    pub vm_index: usize,
    pub root_ctx: u32,
    pub next_ctx: u32,
    /// The context whose callback is running (or the one set by `proxy_set_effective_context`).
    pub current_ctx: u32,
    /// Plugin configuration is only readable during `proxy_on_configure`
    /// (Envoy context.cc getBuffer: `temp_plugin_` is set only then).
    pub in_configure: bool,
    pub streams: BTreeMap<u32, StreamCtx>,
    pub root_props: BTreeMap<String, Vec<u8>>,
    pub logs: Vec<LogEntry>,
    pub calls: Vec<HostCall>,
    pub policy: CallPolicy,
    pub tick_period_ms: u32,
    pub next_tick_nanos: Option<u64>,
    pub next_call_token: u32,
    pub pending_calls: VecDeque<PendingCall>,
    pub call_response: Option<CallResponseView>,
    pub metric_ids: BTreeMap<u32, String>,
    pub next_metric: u32,
    pub rng: u64,
    /// Set by `proxy_done`.
    pub done_called: bool,
}

impl VmState {
    pub fn stream(&self) -> Option<&StreamCtx> {
        self.streams.get(&self.current_ctx)
    }

    pub fn stream_mut(&mut self) -> Option<&mut StreamCtx> {
        self.streams.get_mut(&self.current_ctx)
    }

    /// xorshift64*: deterministic per host and VM so WASI `random_get` replays.
    pub fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
