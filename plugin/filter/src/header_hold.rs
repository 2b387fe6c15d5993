//! Whether this host holds HTTP headers while the filter reads the body, learned per VM.
//!
//! Envoy holds paused headers and still delivers the body only when the plugin's
//! `allow_on_headers_stop_iteration` is true (Envoy >= 1.35; Istio's `WasmPlugin` cannot set
//! it). Otherwise a pause on headers becomes StopAllIteration: the body is buffered by the
//! host and never reaches the filter, so a filter that waits for it waits forever.
//!
//! The filter cannot read that setting, so it finds out. The first request with a body
//! holds its headers and sets a timer ([`PROBE_WAIT_MS`]):
//! - the body arrives while the headers are held: the host holds headers ([`Hold::Held`]),
//!   and every later stream keeps its headers until the body is inspected;
//! - the timer fires first: the filter releases the headers itself. When the body then
//!   arrives at once (the host had buffered it), the host does not hold headers
//!   ([`Hold::Released`]); this is logged once at error level. A body that arrives later
//!   (a slow client) proves nothing, and the next request probes again.
//!
//! While the answer is not known, other streams release their headers at once, so no
//! stream ever waits on a body the host will not deliver.

use crate::host;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{LogLevel, MapType};
use std::cell::RefCell;
use std::time::Duration;

/// How long the probing request waits for its body before releasing its headers.
pub const PROBE_WAIT_MS: u64 = 50;
/// The root's tick while a probe waits.
const PROBE_TICK: Duration = Duration::from_millis(10);
/// A body delivered within this long of the release was buffered by the host.
const AT_ONCE_NS: u64 = 2_000_000;

/// What the host does with headers the filter pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Not known yet.
    Unknown,
    /// Held while the body is delivered (`allow_on_headers_stop_iteration: true`).
    Held,
    /// The body is not delivered while headers are paused, so the filter lets headers go
    /// first and holds only the body.
    Released,
}

/// What must change in request headers that leave before their body is read.
#[derive(Debug, Clone, Copy)]
pub struct Leaving {
    /// The body has a `content-encoding`: it goes decoded, so the header goes.
    pub encoded: bool,
    /// The admin path, answered by the filter: its token must not reach the upstream.
    pub admin: bool,
}

/// Readies the current stream's request headers to leave ahead of their body: a body the
/// filter rewrites has another length and the host does not fix `content-length`, so it
/// goes (the protocol frames the body: chunked, or HTTP/2 frames).
pub fn release_request_headers(leaving: Leaving) {
    let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "content-length", None);
    if leaving.encoded {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "content-encoding", None);
    }
    if leaving.admin {
        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, "authorization", None);
    }
}

struct Probe {
    context: u32,
    leaving: Leaving,
    deadline_ns: u64,
    /// When the timer released the headers.
    released_ns: Option<u64>,
}

struct State {
    hold: Hold,
    probe: Option<Probe>,
    /// The root's own tick, restored when a probe ends.
    root_tick: Duration,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State { hold: Hold::Unknown, probe: None, root_tick: Duration::ZERO })
    };
}

pub fn hold() -> Hold {
    STATE.with(|s| s.borrow().hold)
}

/// The tick the root needs for its own work, restored after each probe.
pub fn set_root_tick(tick: Duration) {
    STATE.with(|s| s.borrow_mut().root_tick = tick);
}

/// Whether the stream `context` may hold its request headers: yes once the host is known
/// to hold them, or as the one probe while that is not known.
pub fn may_hold(context: u32, leaving: Leaving) -> bool {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match s.hold {
            Hold::Held => true,
            Hold::Released => false,
            Hold::Unknown if s.probe.is_some() => false,
            Hold::Unknown => {
                s.probe = Some(Probe {
                    context,
                    leaving,
                    deadline_ns: host::now_ns() + PROBE_WAIT_MS * 1_000_000,
                    released_ns: None,
                });
                let _ = hostcalls::set_tick_period(PROBE_TICK);
                true
            }
        }
    })
}

/// The stream `context`, which held its headers, got its first body callback: whether its
/// headers are still held.
pub fn body_arrived(context: u32) -> bool {
    let mut still_held = true;
    let learned = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let probe = s.probe.as_ref().filter(|p| p.context == context)?;
        still_held = probe.released_ns.is_none();
        let learned = match probe.released_ns {
            None => Hold::Held,
            Some(at) if host::now_ns().saturating_sub(at) <= AT_ONCE_NS => Hold::Released,
            Some(_) => Hold::Unknown,
        };
        s.hold = learned;
        s.probe = None;
        let _ = hostcalls::set_tick_period(s.root_tick);
        Some(learned)
    });
    match learned {
        Some(Hold::Held) => host::event(
            LogLevel::Info,
            "headers_held",
            serde_json::json!({"detail": "the host holds request and response headers until their body is inspected"}),
        ),
        Some(Hold::Released) => host::event(
            LogLevel::Error,
            "headers_not_held",
            serde_json::json!({
                "setting": "allow_on_headers_stop_iteration",
                "detail": "this host does not hold headers while the filter reads the body, so headers leave first: the upstream sees a refused request's headers, then a reset; a rewritten request goes without content-length; an answer refused after its headers left keeps its 200 and becomes the API's filtered answer; x-psf-flags and x-psf-low-confidence are not added. Set allow_on_headers_stop_iteration: true (Envoy >= 1.35) for the full behaviour.",
            }),
        ),
        _ => {}
    }
    still_held
}

/// A stream ended: a probe it was running ends without an answer.
pub fn stream_done(context: u32) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        if s.probe.as_ref().is_some_and(|p| p.context == context) {
            s.probe = None;
            let _ = hostcalls::set_tick_period(s.root_tick);
        }
    });
}

/// From the root's tick: a probe whose body has not come is released.
pub fn on_tick() {
    let due = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let now = host::now_ns();
        let probe = s
            .probe
            .as_mut()
            .filter(|p| p.released_ns.is_none() && now >= p.deadline_ns)?;
        probe.released_ns = Some(now);
        Some((probe.context, probe.leaving))
    });
    let Some((context, leaving)) = due else {
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
