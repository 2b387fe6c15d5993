//! Custom metrics as Envoy exposes them: one stats store per `Host`, names prefixed
//! `wasmcustom.` (envoy source/extensions/common/wasm/context.cc defineMetric), so
//! every VM defining the same name updates the same stat.

use std::collections::BTreeMap;

use super::types::Status;

/// `proxy_metric_type_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    Counter = 0,
    Gauge = 1,
    Histogram = 2,
}

/// A stat's current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatValue {
    Counter(u64),
    /// Envoy gauges are unsigned; we keep i64 so an over-decrement is visible.
    Gauge(i64),
    /// Every recorded sample, in order.
    Histogram(Vec<u64>),
}

/// The stat prefix Envoy gives metrics defined from Wasm.
pub const STAT_PREFIX: &str = "wasmcustom.";

#[derive(Debug, Default)]
pub struct Metrics {
    stats: BTreeMap<String, StatValue>,
}

impl Metrics {
    /// Creates the stat if needed; an existing stat of another type is a bad argument.
    pub fn define(&mut self, kind: MetricType, name: &str) -> Result<String, Status> {
        let full = format!("{STAT_PREFIX}{name}");
        let fresh = match kind {
            MetricType::Counter => StatValue::Counter(0),
            MetricType::Gauge => StatValue::Gauge(0),
            MetricType::Histogram => StatValue::Histogram(Vec::new()),
        };
        match self.stats.get(&full) {
            Some(v) if std::mem::discriminant(v) != std::mem::discriminant(&fresh) => {
                Err(Status::BadArgument)
            }
            Some(_) => Ok(full),
            None => {
                self.stats.insert(full.clone(), fresh);
                Ok(full)
            }
        }
    }

    /// context.cc incrementMetric: counters only go up (offset > 0, else BadArgument);
    /// gauges add or subtract; histograms cannot be incremented.
    pub fn increment(&mut self, name: &str, offset: i64) -> Result<(), Status> {
        match self.stats.get_mut(name).ok_or(Status::NotFound)? {
            StatValue::Counter(c) if offset > 0 => {
                *c = c.saturating_add(offset as u64);
                Ok(())
            }
            StatValue::Gauge(g) => {
                *g = g.saturating_add(offset);
                Ok(())
            }
            _ => Err(Status::BadArgument),
        }
    }

    /// context.cc recordMetric: counter adds, gauge sets, histogram records.
    pub fn record(&mut self, name: &str, value: u64) -> Result<(), Status> {
        match self.stats.get_mut(name).ok_or(Status::NotFound)? {
            StatValue::Counter(c) => *c = c.saturating_add(value),
            StatValue::Gauge(g) => *g = value as i64,
            StatValue::Histogram(h) => h.push(value),
        }
        Ok(())
    }

    /// context.cc getMetric: histograms have no single value (BadArgument).
    pub fn get(&self, name: &str) -> Result<u64, Status> {
        match self.stats.get(name).ok_or(Status::NotFound)? {
            StatValue::Counter(c) => Ok(*c),
            StatValue::Gauge(g) => Ok(*g as u64),
            StatValue::Histogram(_) => Err(Status::BadArgument),
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, StatValue> {
        self.stats.clone()
    }
}
