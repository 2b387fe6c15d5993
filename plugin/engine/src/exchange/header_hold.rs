//! Whether the host holds HTTP headers while the filter reads the body, learned once per VM.
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
//!   ([`Hold::Released`]), which is announced once at error level. A body that arrives
//!   later (a slow client) proves nothing, and the next request probes again.
//!
//! While the answer is not known, other streams release their headers at once, so no
//! stream ever waits on a body the host will not deliver. This is the state machine; the
//! glue keeps one per VM, passes the clock in and carries out the tick changes.

/// How long the probing request waits for its body before its headers are released.
pub const PROBE_WAIT_MS: u64 = 50;
/// The root's tick while a probe waits.
pub const PROBE_TICK_MS: u64 = 10;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaving {
    /// The body has a `content-encoding`: it goes decoded, so the header goes.
    pub encoded: bool,
    /// The admin path, answered by the filter: its token must not reach the upstream.
    pub admin: bool,
}

impl Leaving {
    /// The request headers to remove: a body the filter rewrites has another length and
    /// the host does not fix `content-length`, so it goes (the protocol frames the body).
    pub fn headers_to_remove(self) -> impl Iterator<Item = &'static str> {
        [
            Some("content-length"),
            self.encoded.then_some("content-encoding"),
            self.admin.then_some("authorization"),
        ]
        .into_iter()
        .flatten()
    }
}

#[derive(Debug)]
struct Probe {
    context: u32,
    leaving: Leaving,
    deadline_ns: u64,
    /// When the timer released the headers.
    released_ns: Option<u64>,
}

/// The per-VM knowledge of the host, and the probe that is finding it out.
#[derive(Debug)]
pub struct HeaderHold {
    hold: Hold,
    probe: Option<Probe>,
    /// The root's own tick in ms, restored when a probe ends.
    root_tick_ms: u64,
}

/// The first body of a stream that held its headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyArrived {
    /// Its headers are still held.
    pub still_held: bool,
    /// What this stream's probe learned, if it was the probe.
    pub learned: Option<Hold>,
}

impl Default for HeaderHold {
    fn default() -> Self {
        Self::new()
    }
}

impl HeaderHold {
    pub const fn new() -> Self {
        Self {
            hold: Hold::Unknown,
            probe: None,
            root_tick_ms: 0,
        }
    }

    pub fn hold(&self) -> Hold {
        self.hold
    }

    /// The tick the root needs for its own work, restored after each probe.
    pub fn set_root_tick(&mut self, ms: u64) {
        self.root_tick_ms = ms;
    }

    /// Whether the stream `context` may hold its request headers: yes once the host is
    /// known to hold them, or as the one probe while that is not known (then the root must
    /// tick every [`PROBE_TICK_MS`]).
    pub fn may_hold(&mut self, context: u32, leaving: Leaving, now_ns: u64) -> bool {
        match self.hold {
            Hold::Held => true,
            Hold::Released => false,
            Hold::Unknown if self.probe.is_some() => false,
            Hold::Unknown => {
                self.probe = Some(Probe {
                    context,
                    leaving,
                    deadline_ns: now_ns + PROBE_WAIT_MS * 1_000_000,
                    released_ns: None,
                });
                true
            }
        }
    }

    /// The tick the root needs now, in ms.
    pub fn tick_ms(&self) -> u64 {
        match self.probe {
            Some(_) => PROBE_TICK_MS,
            None => self.root_tick_ms,
        }
    }

    /// The stream `context`, which held its headers, got its first body callback.
    pub fn body_arrived(&mut self, context: u32, now_ns: u64) -> BodyArrived {
        let Some(probe) = self.probe.as_ref().filter(|p| p.context == context) else {
            return BodyArrived {
                still_held: true,
                learned: None,
            };
        };
        let still_held = probe.released_ns.is_none();
        let learned = match probe.released_ns {
            None => Hold::Held,
            Some(at) if now_ns.saturating_sub(at) <= AT_ONCE_NS => Hold::Released,
            Some(_) => Hold::Unknown,
        };
        self.hold = learned;
        self.probe = None;
        BodyArrived {
            still_held,
            learned: Some(learned),
        }
    }

    /// A stream ended: a probe it was running ends without an answer.
    pub fn stream_done(&mut self, context: u32) {
        if self.probe.as_ref().is_some_and(|p| p.context == context) {
            self.probe = None;
        }
    }

    /// From the root's tick: the probing stream whose body has not come by its deadline,
    /// and what its headers need to leave. The glue releases them.
    pub fn due(&mut self, now_ns: u64) -> Option<(u32, Leaving)> {
        let probe = self
            .probe
            .as_mut()
            .filter(|p| p.released_ns.is_none() && now_ns >= p.deadline_ns)?;
        probe.released_ns = Some(now_ns);
        Some((probe.context, probe.leaving))
    }
}

impl Hold {
    /// The log event announcing what a probe learned, and whether it is an error.
    pub fn announcement(self) -> Option<(bool, &'static str, serde_json::Value)> {
        match self {
            Hold::Held => Some((
                false,
                "headers_held",
                serde_json::json!({"detail": "the host holds request and response headers until their body is inspected"}),
            )),
            Hold::Released => Some((
                true,
                "headers_not_held",
                serde_json::json!({
                    "setting": "allow_on_headers_stop_iteration",
                    "detail": "this host does not hold headers while the filter reads the body, so headers leave first: the upstream sees a refused request's headers, then a reset; a rewritten request goes without content-length; an answer refused after its headers left keeps its 200 and becomes the API's filtered answer; x-psf-flags and x-psf-low-confidence are not added. Set allow_on_headers_stop_iteration: true (Envoy >= 1.35) for the full behaviour.",
                }),
            )),
            Hold::Unknown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const PLAIN: Leaving = Leaving {
        encoded: false,
        admin: false,
    };

    #[test]
    fn a_body_while_held_teaches_held() {
        let mut hold = HeaderHold::new();
        hold.set_root_tick(1000);
        assert!(hold.may_hold(1, PLAIN, 0));
        assert_eq!(hold.tick_ms(), PROBE_TICK_MS);
        // A second stream does not wait while the probe runs.
        assert!(!hold.may_hold(2, PLAIN, MS));
        assert_eq!(hold.due(10 * MS), None);
        let arrived = hold.body_arrived(1, 20 * MS);
        assert_eq!(
            arrived,
            BodyArrived {
                still_held: true,
                learned: Some(Hold::Held)
            }
        );
        assert_eq!((hold.hold(), hold.tick_ms()), (Hold::Held, 1000));
        assert!(hold.may_hold(3, PLAIN, 30 * MS));
    }

    #[test]
    fn a_body_at_once_after_the_release_teaches_released() {
        let mut hold = HeaderHold::new();
        let leaving = Leaving {
            encoded: true,
            admin: true,
        };
        assert!(hold.may_hold(7, leaving, 0));
        assert_eq!(hold.due(PROBE_WAIT_MS * MS), Some((7, leaving)));
        assert_eq!(hold.due(PROBE_WAIT_MS * MS + 1), None, "released once");
        let arrived = hold.body_arrived(7, PROBE_WAIT_MS * MS + MS);
        assert_eq!(
            arrived,
            BodyArrived {
                still_held: false,
                learned: Some(Hold::Released)
            }
        );
        assert!(!hold.may_hold(8, PLAIN, 0));
        assert_eq!(
            leaving.headers_to_remove().collect::<Vec<_>>(),
            ["content-length", "content-encoding", "authorization"]
        );
        assert!(Hold::Released
            .announcement()
            .is_some_and(|(error, ..)| error));
    }

    #[test]
    fn a_late_body_or_an_ended_stream_proves_nothing() {
        let mut hold = HeaderHold::new();
        assert!(hold.may_hold(1, PLAIN, 0));
        hold.due(PROBE_WAIT_MS * MS);
        let late = hold.body_arrived(1, PROBE_WAIT_MS * MS + 10 * MS);
        assert_eq!(late.learned, Some(Hold::Unknown));
        assert!(!late.still_held);
        // The next request probes again; its stream ends before its body.
        assert!(hold.may_hold(2, PLAIN, 0));
        hold.stream_done(2);
        assert_eq!(hold.hold(), Hold::Unknown);
        assert!(hold.may_hold(3, PLAIN, 0));
        // Another stream's body is not the probe's.
        assert_eq!(hold.body_arrived(9, 0).learned, None);
    }
}
