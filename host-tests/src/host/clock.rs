//! The test-controlled clock behind `proxy_get_current_time_nanoseconds`, WASI
//! `clock_time_get`, `request.time` and ticks, so time-dependent policies are
//! deterministic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// 2026-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const DEFAULT_EPOCH_NANOS: u64 = 1_767_225_600 * 1_000_000_000;

/// Wall clock plus a monotonic clock; both only move when the test says so.
#[derive(Debug)]
pub struct Clock {
    wall_nanos: AtomicU64,
    mono_nanos: AtomicU64,
}

impl Default for Clock {
    fn default() -> Self {
        Self {
            wall_nanos: AtomicU64::new(DEFAULT_EPOCH_NANOS),
            mono_nanos: AtomicU64::new(0),
        }
    }
}

impl Clock {
    /// Nanoseconds since the Unix epoch.
    pub fn now_nanos(&self) -> u64 {
        self.wall_nanos.load(Ordering::SeqCst)
    }

    /// Monotonic nanoseconds since the host was created.
    pub fn monotonic_nanos(&self) -> u64 {
        self.mono_nanos.load(Ordering::SeqCst)
    }

    /// The wall clock as a `SystemTime`.
    pub fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_nanos(self.now_nanos())
    }

    /// Jumps the wall clock (the monotonic clock is unaffected, as on a real host).
    /// Does not fire ticks: use `Host::advance_time` for that.
    pub fn set(&self, t: SystemTime) {
        let nanos = t
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        self.wall_nanos.store(nanos, Ordering::SeqCst);
    }

    /// Moves both clocks forward. Does not fire ticks: use `Host::advance_time`.
    pub fn advance(&self, d: Duration) {
        let n = d.as_nanos() as u64;
        self.wall_nanos.fetch_add(n, Ordering::SeqCst);
        self.mono_nanos.fetch_add(n, Ordering::SeqCst);
    }
}
