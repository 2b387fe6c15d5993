//! One VM (an Envoy worker's instance of the plugin): lifecycle, guest calls and
//! the low-level per-callback steps that [`super::stream`] composes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _, Result};
use wasmtime::{Instance, Store, Val};

use super::abi::set_call_response;
use super::calls::{CallPolicy, HostCall};
use super::cluster::CallResponse;
use super::state::{CallResponseView, LocalReply, StreamCtx, VmState};
use super::types::{Action, Headers, LogEntry, LogLevel};
use super::{ah, lock, HostShared};

/// How a VM is configured, as in Envoy's `envoy.filters.http.wasm` config.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// `configuration` of the plugin (buffer type 7, read during `proxy_on_configure`).
    pub plugin_config: Vec<u8>,
    /// `vm_config.configuration` (buffer type 6).
    pub vm_config: Vec<u8>,
    pub plugin_name: String,
    pub root_id: String,
    /// Shared data and queues are partitioned by vm_id.
    pub vm_id: String,
    /// What `proxy_get_log_level` reports (all logs are captured regardless).
    pub log_level: LogLevel,
    pub node_id: String,
    pub node_cluster: String,
    /// Which host calls are expected; see [`CallPolicy`].
    pub policy: CallPolicy,
    /// Seed for WASI `random_get` (mixed with the VM index).
    pub seed: u64,
    /// Envoy's `PluginConfig.allow_on_headers_stop_iteration` (Envoy >= 1.35, default
    /// false). When false, Envoy turns a pause on headers into StopAllIteration: the
    /// filter sees no body until it resumes the stream itself (proxy-wasm-cpp-host #95).
    pub allow_on_headers_stop_iteration: bool,
}

impl Default for VmConfig {
    fn default() -> Self {
        Self {
            plugin_config: Vec::new(),
            vm_config: Vec::new(),
            plugin_name: "psf-guard".into(),
            root_id: "psf-guard".into(),
            vm_id: "psf-guard".into(),
            log_level: LogLevel::Info,
            node_id: "psf-host".into(),
            node_cluster: "psf-host".into(),
            policy: CallPolicy::default(),
            seed: 0x5eed_0f9a,
            allow_on_headers_stop_iteration: false,
        }
    }
}

/// Envoy numbers a VM's contexts from 1; the root context comes first.
const ROOT_CTX: u32 = 1;

pub(crate) struct VmInner {
    pub store: Store<VmState>,
    instance: Instance,
    pub index: usize,
    pub configured: bool,
    pub allow_on_headers_stop_iteration: bool,
}

impl VmInner {
    /// Envoy's VM start: instantiate, `_initialize` (WASI reactor) or `_start`,
    /// ABI version check, root context, `proxy_on_vm_start`, `proxy_on_configure`.
    pub fn start(host: Arc<HostShared>, index: usize, config: VmConfig) -> Result<Self> {
        let allow_on_headers_stop_iteration = config.allow_on_headers_stop_iteration;
        let seed = config.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let state = VmState {
            host: host.clone(),
            policy: config.policy.clone(),
            config,
            vm_index: index,
            root_ctx: ROOT_CTX,
            next_ctx: ROOT_CTX + 1,
            current_ctx: ROOT_CTX,
            in_configure: false,
            streams: BTreeMap::new(),
            root_props: BTreeMap::new(),
            logs: Vec::new(),
            calls: Vec::new(),
            tick_period_ms: 0,
            next_tick_nanos: None,
            next_call_token: 0,
            pending_calls: VecDeque::new(),
            call_response: None,
            metric_ids: BTreeMap::new(),
            next_metric: 0,
            rng: seed | 1,
            done_called: false,
        };
        let mut store = Store::new(&host.engine, state);
        let instance = host
            .linker
            .instantiate(&mut store, &host.module)
            .map_err(ah)
            .context("instantiating the module")?;
        let mut vm = VmInner {
            store,
            instance,
            index,
            configured: false,
            allow_on_headers_stop_iteration,
        };
        if vm.call(ROOT_CTX, "_initialize", &[])?.is_none() {
            vm.call(ROOT_CTX, "_start", &[])?;
        }
        // proxy-wasm-cpp-host wasm.cc checks the ABI version from the exports.
        if vm
            .instance
            .get_export(&mut vm.store, "proxy_abi_version_0_2_1")
            .is_none()
        {
            bail!("module does not export proxy_abi_version_0_2_1 (only ABI v0.2.1 is supported)");
        }
        vm.call(ROOT_CTX, "proxy_on_context_create", &[ROOT_CTX as i32, 0])?;
        let vm_config_len = vm.store.data().config.vm_config.len() as i32;
        if vm.call(
            ROOT_CTX,
            "proxy_on_vm_start",
            &[ROOT_CTX as i32, vm_config_len],
        )? == Some(0)
        {
            bail!("proxy_on_vm_start returned false (Envoy fails the VM)");
        }
        let plugin_len = vm.store.data().config.plugin_config.len() as i32;
        vm.store.data_mut().in_configure = true;
        let r = vm.call(
            ROOT_CTX,
            "proxy_on_configure",
            &[ROOT_CTX as i32, plugin_len],
        );
        vm.store.data_mut().in_configure = false;
        // A missing export counts as success, like Envoy.
        vm.configured = r? != Some(0);
        Ok(vm)
    }

    /// Calls an export if the module has it (Envoy skips missing callbacks),
    /// with `ctx` as the effective context. Returns the first result, if any.
    pub fn call(&mut self, ctx: u32, name: &str, args: &[i32]) -> Result<Option<i32>> {
        let Some(func) = self.instance.get_func(&mut self.store, name) else {
            return Ok(None);
        };
        self.store.data_mut().current_ctx = ctx;
        let params: Vec<Val> = args.iter().map(|a| Val::I32(*a)).collect();
        let n = func.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        func.call(&mut self.store, &params, &mut results)
            .map_err(ah)
            .with_context(|| format!("{name}{args:?} failed"))?;
        // Void exports report Some(0): "present, nothing returned".
        Ok(Some(results.first().and_then(Val::i32).unwrap_or(0)))
    }

    fn action(&mut self, ctx: u32, name: &str, args: &[i32]) -> Result<Action> {
        Ok(self
            .call(ctx, name, args)?
            .map_or(Action::Continue, Action::from_i32))
    }

    pub fn stream(&mut self, ctx: u32) -> Result<&mut StreamCtx> {
        self.store
            .data_mut()
            .streams
            .get_mut(&ctx)
            .with_context(|| format!("no HTTP context {ctx}"))
    }

    pub fn new_http_context(&mut self, source_address: &str, request_id: &str) -> Result<u32> {
        let st = self.store.data_mut();
        let ctx = st.next_ctx;
        st.next_ctx += 1;
        let start_nanos = st.host.clock.now_nanos();
        st.streams.insert(
            ctx,
            StreamCtx {
                source_address: source_address.to_string(),
                destination_address: "127.0.0.1:10000".into(),
                request_id: request_id.to_string(),
                start_nanos,
                ..StreamCtx::default()
            },
        );
        let root = st.root_ctx;
        self.call(ctx, "proxy_on_context_create", &[ctx as i32, root as i32])?;
        Ok(ctx)
    }

    pub fn on_request_headers(&mut self, ctx: u32, headers: Headers, eos: bool) -> Result<Action> {
        let n = headers.len() as i32;
        self.stream(ctx)?.request_headers = Some(headers);
        self.action(
            ctx,
            "proxy_on_request_headers",
            &[ctx as i32, n, eos as i32],
        )
    }

    /// Appends `chunk` to what the filter has buffered and passes the cumulative size.
    pub fn on_request_body(&mut self, ctx: u32, chunk: &[u8], eos: bool) -> Result<Action> {
        let s = self.stream(ctx)?;
        s.request_body.extend_from_slice(chunk);
        let n = s.request_body.len() as i32;
        self.action(ctx, "proxy_on_request_body", &[ctx as i32, n, eos as i32])
    }

    pub fn on_request_trailers(&mut self, ctx: u32, trailers: Headers) -> Result<Action> {
        let n = trailers.len() as i32;
        self.stream(ctx)?.request_trailers = Some(trailers);
        self.action(ctx, "proxy_on_request_trailers", &[ctx as i32, n])
    }

    pub fn on_response_headers(&mut self, ctx: u32, headers: Headers, eos: bool) -> Result<Action> {
        let n = headers.len() as i32;
        let s = self.stream(ctx)?;
        s.response_code =
            crate::message::find_header(&headers, ":status").and_then(|v| v.parse().ok());
        s.response_headers = Some(headers);
        self.action(
            ctx,
            "proxy_on_response_headers",
            &[ctx as i32, n, eos as i32],
        )
    }

    pub fn on_response_body(&mut self, ctx: u32, chunk: &[u8], eos: bool) -> Result<Action> {
        let s = self.stream(ctx)?;
        s.response_body.extend_from_slice(chunk);
        let n = s.response_body.len() as i32;
        self.action(ctx, "proxy_on_response_body", &[ctx as i32, n, eos as i32])
    }

    pub fn on_response_trailers(&mut self, ctx: u32, trailers: Headers) -> Result<Action> {
        let n = trailers.len() as i32;
        self.stream(ctx)?.response_trailers = Some(trailers);
        self.action(ctx, "proxy_on_response_trailers", &[ctx as i32, n])
    }

    /// Stream end as the brief's Envoy model has it: log, done, delete. In-flight
    /// http_calls of the context are cancelled (Envoy context.cc onDestroy).
    pub fn finish_stream(&mut self, ctx: u32) -> Result<()> {
        self.call(ctx, "proxy_on_log", &[ctx as i32])?;
        self.call(ctx, "proxy_on_done", &[ctx as i32])?;
        self.call(ctx, "proxy_on_delete", &[ctx as i32])?;
        let st = self.store.data_mut();
        st.streams.remove(&ctx);
        st.pending_calls.retain(|p| p.context_id != ctx);
        Ok(())
    }

    /// Answers every pending http_call through its cluster's responder and calls
    /// `proxy_on_http_call_response` on the context that made it. Calls made from
    /// inside those callbacks are answered too. Returns how many were delivered.
    pub fn dispatch_http_calls(&mut self) -> Result<usize> {
        let mut delivered = 0;
        while let Some(p) = self.store.data_mut().pending_calls.pop_front() {
            let host = self.store.data().host.clone();
            let response = {
                let mut clusters = lock(&host.clusters)?;
                let cluster = clusters
                    .get_mut(&p.request.cluster)
                    .with_context(|| format!("cluster {} vanished", p.request.cluster))?;
                cluster.received.push(p.request.clone());
                (cluster.responder)(&p.request)
            };
            let (view, nh, nb, nt) = match response {
                CallResponse::Response {
                    status,
                    headers,
                    body,
                    trailers,
                } => {
                    let mut h = vec![(":status".to_string(), status.to_string())];
                    h.extend(
                        headers
                            .into_iter()
                            .map(|(k, v)| (k.to_ascii_lowercase(), v)),
                    );
                    let (nh, nb, nt) = (h.len(), body.len(), trailers.len());
                    let view = CallResponseView {
                        headers: h,
                        body,
                        trailers,
                    };
                    (Some(view), nh, nb, nt)
                }
                // Envoy onFailure: onHttpCallResponse(token, 0, 0, 0), nothing to read.
                CallResponse::Timeout => (None, 0, 0, 0),
            };
            let st = self.store.data_mut();
            let ctx = p.context_id;
            if ctx != st.root_ctx && !st.streams.contains_key(&ctx) {
                continue;
            }
            set_call_response(st, view);
            let args = [
                ctx as i32,
                p.request.token as i32,
                nh as i32,
                nb as i32,
                nt as i32,
            ];
            let r = self.call(ctx, "proxy_on_http_call_response", &args);
            set_call_response(self.store.data_mut(), None);
            r?;
            delivered += 1;
        }
        Ok(delivered)
    }

    /// Fires `proxy_on_tick` and schedules the next one.
    pub fn tick(&mut self) -> Result<()> {
        let st = self.store.data_mut();
        let period = u64::from(st.tick_period_ms) * 1_000_000;
        st.next_tick_nanos = st
            .next_tick_nanos
            .map(|t| t + period)
            .filter(|_| period > 0);
        let root = st.root_ctx;
        self.call(root, "proxy_on_tick", &[root as i32])?;
        self.dispatch_http_calls()?;
        Ok(())
    }
}

/// A running VM. Methods lock the VM, so a `Vm` can be shared with the `Host`
/// (which fires ticks on it) without `&mut` juggling.
pub struct Vm {
    inner: Arc<Mutex<VmInner>>,
    configured: bool,
}

impl Vm {
    pub(crate) fn new(inner: Arc<Mutex<VmInner>>, configured: bool) -> Self {
        Self { inner, configured }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut VmInner) -> Result<R>) -> Result<R> {
        f(&mut *lock(&self.inner)?)
    }

    /// What `proxy_on_configure` returned; false means Envoy would reject the config.
    pub fn configured(&self) -> bool {
        self.configured
    }

    /// The root context id.
    pub fn root_context(&self) -> u32 {
        ROOT_CTX
    }

    /// Every captured log line of this VM (proxy_log and WASI stdout/stderr).
    pub fn logs(&self) -> Vec<LogEntry> {
        self.with(|v| Ok(v.store.data().logs.clone()))
            .unwrap_or_default()
    }

    pub fn take_logs(&mut self) -> Vec<LogEntry> {
        self.with(|v| Ok(std::mem::take(&mut v.store.data_mut().logs)))
            .unwrap_or_default()
    }

    /// Every host call this VM made, in order.
    pub fn calls(&self) -> Vec<HostCall> {
        self.with(|v| Ok(v.store.data().calls.clone()))
            .unwrap_or_default()
    }

    /// Recorded calls to one host function.
    pub fn calls_to(&self, name: &str) -> Vec<HostCall> {
        self.calls()
            .into_iter()
            .filter(|c| c.name == name)
            .collect()
    }

    pub fn clear_calls(&mut self) {
        let _ = self.with(|v| {
            v.store.data_mut().calls.clear();
            Ok(())
        });
    }

    /// From now on only these `proxy_*` functions may be called; anything else traps.
    pub fn allow_only(&mut self, names: &[&str]) {
        self.set_policy(CallPolicy::allow_only(names));
    }

    pub fn set_policy(&mut self, policy: CallPolicy) {
        let _ = self.with(|v| {
            v.store.data_mut().policy = policy;
            Ok(())
        });
    }

    /// Reads guest memory (for WAT tests and debugging).
    pub fn read_memory(&self, ptr: u32, len: u32) -> Result<Vec<u8>> {
        self.with(|v| {
            let mem = v
                .instance
                .get_memory(&mut v.store, "memory")
                .context("guest exports no memory")?;
            let (start, end) = (ptr as usize, ptr as usize + len as usize);
            mem.data(&v.store)
                .get(start..end)
                .map(<[u8]>::to_vec)
                .context("read outside guest memory")
        })
    }

    /// Writes guest memory (for WAT tests).
    pub fn write_memory(&mut self, ptr: u32, bytes: &[u8]) -> Result<()> {
        self.with(|v| {
            let mem = v
                .instance
                .get_memory(&mut v.store, "memory")
                .context("guest exports no memory")?;
            let start = ptr as usize;
            mem.data_mut(&mut v.store)
                .get_mut(start..start + bytes.len())
                .context("write outside guest memory")?
                .copy_from_slice(bytes);
            Ok(())
        })
    }

    /// Calls an exported function directly (for WAT tests): returns its first result.
    pub fn call_export(&mut self, ctx: u32, name: &str, args: &[i32]) -> Result<Option<i32>> {
        self.with(|v| v.call(ctx, name, args))
    }

    pub fn new_http_context(&mut self, source_address: &str, request_id: &str) -> Result<u32> {
        self.with(|v| v.new_http_context(source_address, request_id))
    }

    /// Sets the request header map (pseudo-headers included) and calls the filter.
    pub fn on_request_headers(&mut self, ctx: u32, headers: Headers, eos: bool) -> Result<Action> {
        self.with(|v| v.on_request_headers(ctx, headers, eos))
    }

    pub fn on_request_body(&mut self, ctx: u32, chunk: &[u8], eos: bool) -> Result<Action> {
        self.with(|v| v.on_request_body(ctx, chunk, eos))
    }

    pub fn on_request_trailers(&mut self, ctx: u32, trailers: Headers) -> Result<Action> {
        self.with(|v| v.on_request_trailers(ctx, trailers))
    }

    pub fn on_response_headers(&mut self, ctx: u32, headers: Headers, eos: bool) -> Result<Action> {
        self.with(|v| v.on_response_headers(ctx, headers, eos))
    }

    pub fn on_response_body(&mut self, ctx: u32, chunk: &[u8], eos: bool) -> Result<Action> {
        self.with(|v| v.on_response_body(ctx, chunk, eos))
    }

    pub fn on_response_trailers(&mut self, ctx: u32, trailers: Headers) -> Result<Action> {
        self.with(|v| v.on_response_trailers(ctx, trailers))
    }

    /// `proxy_on_log`, `proxy_on_done`, `proxy_on_delete`.
    pub fn finish_stream(&mut self, ctx: u32) -> Result<()> {
        self.with(|v| v.finish_stream(ctx))
    }

    /// The request headers as the filter has left them.
    pub fn request_headers(&self, ctx: u32) -> Result<Headers> {
        self.with(|v| Ok(v.stream(ctx)?.request_headers.clone().unwrap_or_default()))
    }

    pub fn response_headers(&self, ctx: u32) -> Result<Headers> {
        self.with(|v| Ok(v.stream(ctx)?.response_headers.clone().unwrap_or_default()))
    }

    /// The body currently buffered for the filter.
    pub fn request_body(&self, ctx: u32) -> Result<Vec<u8>> {
        self.with(|v| Ok(v.stream(ctx)?.request_body.clone()))
    }

    pub fn response_body(&self, ctx: u32) -> Result<Vec<u8>> {
        self.with(|v| Ok(v.stream(ctx)?.response_body.clone()))
    }

    /// A pending `proxy_send_local_response`, taken.
    pub fn take_local_reply(&mut self, ctx: u32) -> Result<Option<LocalReply>> {
        self.with(|v| Ok(v.stream(ctx)?.local_reply.take()))
    }

    /// Whether the filter called `proxy_continue_stream` for the request (0) or
    /// response (1) since the last check; clears the flag.
    pub fn take_continue(&mut self, ctx: u32, response: bool) -> Result<bool> {
        self.with(|v| {
            let s = v.stream(ctx)?;
            let f = if response {
                &mut s.continue_response
            } else {
                &mut s.continue_request
            };
            Ok(std::mem::take(f))
        })
    }

    /// Answers pending http_calls now; returns how many.
    pub fn dispatch_http_calls(&mut self) -> Result<usize> {
        self.with(|v| v.dispatch_http_calls())
    }

    /// The tick period the root context asked for (0 = none).
    pub fn tick_period_ms(&self) -> u32 {
        self.with(|v| Ok(v.store.data().tick_period_ms))
            .unwrap_or(0)
    }

    /// Whether the guest called `proxy_done`.
    pub fn done_called(&self) -> bool {
        self.with(|v| Ok(v.store.data().done_called))
            .unwrap_or(false)
    }
}
