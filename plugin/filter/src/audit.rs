//! Where audit records go (PSF OM-5, EA-4): sealed into this VM's hash chain, then to Envoy's
//! log behind the fixed prefix `psf.audit `, into filter state for access-log formatters
//! (`%FILTER_STATE(wasm.psf_audit:PLAIN)%`), and, when the policy names a collector, into a
//! bounded queue the root context posts in batches on ticks.

use crate::host;
use crate::metrics;
use proxy_wasm::hostcalls;
use proxy_wasm::types::LogLevel;
use psf_engine::audit::chain::Chain;
use psf_engine::audit::settings::Collector;
use std::cell::RefCell;
use std::collections::VecDeque;

thread_local! {
    /// One chain per VM: a worker thread runs one VM, and its id is drawn when it starts.
    static CHAIN: RefCell<Chain> = RefCell::new(Chain::new(vm_id()));
    static PENDING: RefCell<VecDeque<String>> = const { RefCell::new(VecDeque::new()) };
}

/// Seals `body` and sends it to every sink.
pub fn emit(body: &str, collector: Option<&Collector>) {
    let line = CHAIN.with(|chain| chain.borrow_mut().seal(body));
    host::log(LogLevel::Info, &format!("psf.audit {line}"));
    if hostcalls::set_property(vec!["psf_audit"], Some(line.as_bytes())).is_err() {
        metrics::count("psf_audit_dropped_total.reason.filter_state", 1);
    }
    metrics::count("psf_audit_records_total", 1);
    if let Some(collector) = collector {
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            if pending.len() >= collector.max_pending {
                pending.pop_front();
                metrics::count("psf_audit_dropped_total.reason.queue_full", 1);
            }
            pending.push_back(line);
        });
    }
}

/// The next batch for the collector: up to `batch` records as JSON lines.
pub fn next_batch(batch: usize) -> Option<(String, usize)> {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        if pending.is_empty() {
            return None;
        }
        let take = batch.min(pending.len());
        let lines: Vec<String> = pending.drain(..take).collect();
        Some((lines.join("\n") + "\n", take))
    })
}

/// A batch the collector did not take: its records are dropped and counted.
pub fn batch_failed(records: usize, why: &str) {
    host::event(
        LogLevel::Warn,
        "audit_collector_failed",
        serde_json::json!({"records": records, "reason": why}),
    );
    metrics::count("psf_audit_dropped_total.reason.collector", records as i64);
}

/// 16 random hex digits, or the clock's if the host has no randomness.
fn vm_id() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64);
        bytes = nanos.to_le_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
