//! A proxy-wasm ABI v0.2.1 host on wasmtime that behaves like Envoy, so the real
//! `psf_guard.wasm` can be tested (and run by the CLI) without Envoy.
//!
//! - [`Host`]: compiles the module once and owns what Envoy shares between worker
//!   VMs: clock, shared data, shared queues, stats, http_call clusters.
//! - [`Vm`]: one instance (one Envoy worker), with its own contexts, logs and
//!   recorded host calls; [`Vm::http_stream`] plays an HTTP exchange the way
//!   Envoy's filter manager does.

mod abi;
mod calls;
mod clock;
mod cluster;
mod memory;
mod metrics;
mod properties;
mod shared_data;
mod state;
mod stream;
mod types;
mod vm;
mod wasi;

pub use abi::PROXY_FUNCTIONS;
pub use calls::{CallPolicy, HostCall};
pub use clock::{Clock, DEFAULT_EPOCH_NANOS};
pub use cluster::{CallRequest, CallResponse};
pub use memory::{decode_pairs, encode_pairs};
pub use metrics::{StatValue, STAT_PREFIX};
pub use state::LocalReply;
pub use stream::{StreamOutcome, StreamRequest, Upstream, UpstreamResponse};
pub use types::{Action, BufferType, Headers, LogEntry, LogLevel, LogSource, MapType, Status};
pub use vm::{Vm, VmConfig};
pub use wasi::WASI_FUNCTIONS;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};
use wasmtime::{Engine, ExternType, Linker, Module};

use cluster::Cluster;
use metrics::Metrics;
use shared_data::{SharedData, SharedQueues};
use state::VmState;
use vm::VmInner;

/// wasmtime 48 has its own error type (no `anyhow` feature enabled here):
/// convert at the boundary, keeping the whole cause chain in the message.
pub(crate) fn ah(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:#}")
}

/// The other direction, for errors returned from host functions (they become traps).
pub(crate) fn wt(e: anyhow::Error) -> wasmtime::Error {
    wasmtime::Error::msg(format!("{e:#}"))
}

/// Locks host state; a poisoned lock means an earlier test thread panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock().map_err(|_| anyhow!("host state lock poisoned"))
}

/// State shared by every VM of a [`Host`].
pub(crate) struct HostShared {
    engine: Engine,
    module: Module,
    linker: Linker<VmState>,
    pub clock: Clock,
    pub shared_data: Mutex<SharedData>,
    pub queues: Mutex<SharedQueues>,
    pub metrics: Mutex<Metrics>,
    pub clusters: Mutex<HashMap<String, Cluster>>,
    vms: Mutex<Vec<Weak<Mutex<VmInner>>>>,
    next_vm: AtomicUsize,
}

/// A compiled filter plus the process-wide state its VMs share. Cheap to clone.
#[derive(Clone)]
pub struct Host {
    shared: Arc<HostShared>,
}

impl Host {
    /// Compiles a `.wasm` (or `.wat`) file.
    pub fn from_file(path: &Path) -> Result<Host> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))
    }

    /// Compiles a module from binary wasm or WAT text.
    pub fn from_bytes(wasm: &[u8]) -> Result<Host> {
        let engine = Engine::default();
        let module = Module::new(&engine, wasm)
            .map_err(ah)
            .context("compiling the wasm module")?;
        let mut linker = Linker::new(&engine);
        abi::add_to_linker(&mut linker)?;
        wasi::add_to_linker(&mut linker)?;
        stub_unknown_imports(&mut linker, &module)?;
        Ok(Host {
            shared: Arc::new(HostShared {
                engine,
                module,
                linker,
                clock: Clock::default(),
                shared_data: Mutex::default(),
                queues: Mutex::default(),
                metrics: Mutex::default(),
                clusters: Mutex::default(),
                vms: Mutex::default(),
                next_vm: AtomicUsize::new(0),
            }),
        })
    }

    /// Instantiates a new VM (one Envoy worker) and runs it up to `proxy_on_configure`.
    pub fn start_vm(&self, config: VmConfig) -> Result<Vm> {
        let index = self.shared.next_vm.fetch_add(1, Ordering::SeqCst);
        let inner = VmInner::start(self.shared.clone(), index, config)?;
        let configured = inner.configured;
        let inner = Arc::new(Mutex::new(inner));
        let mut vms = lock(&self.shared.vms)?;
        vms.retain(|w| w.strong_count() > 0);
        vms.push(Arc::downgrade(&inner));
        Ok(Vm::new(inner, configured))
    }

    /// The clock every VM reads. Moving it does not fire ticks; see [`Host::advance_time`].
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// Moves the clock forward by `d`, firing `proxy_on_tick` on every live VM each
    /// time its period elapses (in time order), then answering any http_calls the
    /// ticks made and delivering queue notifications.
    pub fn advance_time(&self, d: Duration) -> Result<()> {
        let clock = &self.shared.clock;
        let target = clock.monotonic_nanos() + d.as_nanos() as u64;
        loop {
            let live = self.live_vms()?;
            let mut due: Option<u64> = None;
            for vm in &live {
                if let Some(t) = lock(vm)?.store.data().next_tick_nanos {
                    due = Some(due.map_or(t, |d: u64| d.min(t)));
                }
            }
            let Some(t) = due.filter(|t| *t <= target) else {
                break;
            };
            clock.advance(Duration::from_nanos(
                t.saturating_sub(clock.monotonic_nanos()),
            ));
            for vm in &live {
                let mut vm = lock(vm)?;
                if vm.store.data().next_tick_nanos == Some(t) {
                    vm.tick()?;
                }
            }
            self.deliver_queue_ready()?;
        }
        clock.advance(Duration::from_nanos(
            target.saturating_sub(clock.monotonic_nanos()),
        ));
        self.deliver_queue_ready()
    }

    /// Calls `proxy_on_queue_ready` for every enqueue since the last delivery, on
    /// the VM and context that registered the queue. Must not be called while a
    /// VM method is running.
    pub fn deliver_queue_ready(&self) -> Result<()> {
        loop {
            let next = lock(&self.shared.queues)?.ready.pop_front();
            let Some((index, ctx, token)) = next else {
                return Ok(());
            };
            for vm in self.live_vms()? {
                let mut vm = lock(&vm)?;
                if vm.index == index {
                    vm.call(ctx, "proxy_on_queue_ready", &[ctx as i32, token as i32])?;
                    vm.dispatch_http_calls()?;
                }
            }
        }
    }

    /// Every stat, keyed `wasmcustom.<name>` as Envoy names them.
    pub fn stats(&self) -> BTreeMap<String, StatValue> {
        lock(&self.shared.metrics)
            .map(|m| m.snapshot())
            .unwrap_or_default()
    }

    /// A counter or gauge value (None if undefined or a histogram).
    pub fn stat(&self, name: &str) -> Option<i64> {
        match self.stats().get(name)? {
            StatValue::Counter(c) => Some(*c as i64),
            StatValue::Gauge(g) => Some(*g),
            StatValue::Histogram(_) => None,
        }
    }

    /// Shared data of one vm_id: key → (value, cas).
    pub fn shared_data(&self, vm_id: &str) -> BTreeMap<String, (Vec<u8>, u32)> {
        lock(&self.shared.shared_data)
            .map(|d| d.snapshot(vm_id))
            .unwrap_or_default()
    }

    /// Registers (or replaces) a cluster `proxy_http_call` may target.
    pub fn register_cluster(
        &self,
        name: &str,
        responder: impl FnMut(&CallRequest) -> CallResponse + Send + 'static,
    ) {
        if let Ok(mut c) = lock(&self.shared.clusters) {
            c.insert(
                name.to_string(),
                Cluster {
                    responder: Box::new(responder),
                    received: Vec::new(),
                },
            );
        }
    }

    /// Requests a cluster received, in order.
    pub fn cluster_requests(&self, name: &str) -> Vec<CallRequest> {
        lock(&self.shared.clusters)
            .ok()
            .and_then(|c| c.get(name).map(|c| c.received.clone()))
            .unwrap_or_default()
    }

    fn live_vms(&self) -> Result<Vec<Arc<Mutex<VmInner>>>> {
        Ok(lock(&self.shared.vms)?
            .iter()
            .filter_map(Weak::upgrade)
            .collect())
    }
}

/// Defines every import this host does not implement as a function that traps
/// ("unexpected import m.n") when called, so instantiation never fails on an
/// unused import but an actual call fails the test.
fn stub_unknown_imports(linker: &mut Linker<VmState>, module: &Module) -> Result<()> {
    for import in module.imports() {
        let (m, n) = (import.module(), import.name());
        let known = (m == "env" && PROXY_FUNCTIONS.contains(&n))
            || (m == "wasi_snapshot_preview1" && WASI_FUNCTIONS.contains(&n));
        if known {
            continue;
        }
        let ExternType::Func(ty) = import.ty() else {
            anyhow::bail!("module imports non-function {m}.{n}, which this host cannot provide");
        };
        let label = format!("{m}.{n}");
        linker
            .func_new(m, n, ty, move |mut caller, _params, _results| {
                let st = caller.data_mut();
                let context_id = st.current_ctx;
                st.calls.push(HostCall {
                    name: label.clone(),
                    args: String::new(),
                    context_id,
                });
                Err(wasmtime::Error::msg(format!("unexpected import {label}")))
            })
            .map_err(ah)?;
    }
    Ok(())
}
