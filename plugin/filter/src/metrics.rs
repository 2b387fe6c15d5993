//! Defines and updates the filter's metrics in the host (PSF OM-1, OM-4). The metrics of an
//! exchange are named by the engine ([`psf_engine::audit::metrics`]); the few the filter
//! itself counts (audit sinks, alerts, the review queue) use the same `.label.value` names.

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use psf_engine::audit::metrics::{Metric, MetricKind};
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    static IDS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// The counters and histograms of one finished exchange.
pub fn update(metrics: &[Metric]) {
    for metric in metrics {
        match metric.kind {
            MetricKind::Counter => count(
                &metric.name,
                i64::try_from(metric.value).unwrap_or(i64::MAX),
            ),
            MetricKind::Histogram => observe(&metric.name, metric.value),
        }
    }
}

/// Adds `by` to the counter `name`, defining it on first use.
pub fn count(name: &str, by: i64) {
    if let Some(id) = id(name, MetricType::Counter) {
        let _ = hostcalls::increment_metric(id, by);
    }
}

/// Records `value` in the histogram `name`.
pub fn observe(name: &str, value: u64) {
    if let Some(id) = id(name, MetricType::Histogram) {
        let _ = hostcalls::record_metric(id, value);
    }
}

fn id(name: &str, kind: MetricType) -> Option<u32> {
    IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, name).ok()?;
        ids.insert(name.to_string(), id);
        Some(id)
    })
}
