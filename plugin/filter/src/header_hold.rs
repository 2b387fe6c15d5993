//! The VM's [`HeaderHold`]: whether this host holds HTTP headers while the filter reads
//! the body (the engine's `exchange/header_hold.rs` says how that is learned). Here it is
//! kept per VM, given the clock, and its tick changes and releases carried out.

use crate::host;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType};
use psf_engine::HeaderHold;
pub use psf_engine::{Hold, Leaving};
use std::cell::RefCell;
use std::time::Duration;

thread_local! {
    static STATE: RefCell<HeaderHold> = const { RefCell::new(HeaderHold::new()) };
}

/// Runs `f` on the VM's state, then sets the root's tick if the probe started or ended.
fn with<T>(f: impl FnOnce(&mut HeaderHold) -> T) -> T {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        let before = s.tick_ms();
        let out = f(&mut s);
        if s.tick_ms() != before {
            let _ = hostcalls::set_tick_period(Duration::from_millis(s.tick_ms()));
        }
        out
    })
}

pub fn hold() -> Hold {
    with(|s| s.hold())
}

/// The tick the root needs for its own work, restored after each probe.
pub fn set_root_tick(tick: Duration) {
    with(|s| s.set_root_tick(u64::try_from(tick.as_millis()).unwrap_or(u64::MAX)));
}

/// Readies the current stream's request headers to leave ahead of their body.
pub fn release_request_headers(leaving: Leaving) {
    for name in leaving.headers_to_remove() {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
    }
}

/// Whether the stream `context` may hold its request headers.
pub fn may_hold(context: u32, leaving: Leaving) -> bool {
    with(|s| s.may_hold(context, leaving, host::now_ns()))
}

/// The stream `context`, which held its headers, got its first body callback: whether its
/// headers are still held. What a probe learned is logged.
pub fn body_arrived(context: u32) -> bool {
    let arrived = with(|s| s.body_arrived(context, host::now_ns()));
    if let Some((error, event, fields)) = arrived.learned.and_then(Hold::announcement) {
        let level = if error {
            LogLevel::Error
        } else {
            LogLevel::Info
        };
        host::event(level, event, fields);
    }
    arrived.still_held
}

/// A stream ended: a probe it was running ends without an answer.
pub fn stream_done(context: u32) {
    with(|s| s.stream_done(context));
}

/// From the root's tick: a probe whose body has not come is released.
pub fn on_tick() {
    let Some((context, leaving)) = with(|s| s.due(host::now_ns())) else {
        return;
    };
    if hostcalls::set_effective_context(context).is_err() {
        stream_done(context);
        return;
    }
    release_request_headers(leaving);
    if hostcalls::resume_http_request().is_err() {
        stream_done(context);
    }
}
