//! A circuit breaker per route in the host's shared data (PSF MS-4): failures within a
//! window open it for a while, during which the route's fallback applies to every request on
//! every worker; then the primary is tried again.

use crate::controls::ratelimit::store::{update_json, SharedStore};
use crate::policy::Fallback;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
struct State {
    failures: u32,
    window_start_ms: u64,
    open_until_ms: u64,
}

fn key(route: &str) -> String {
    format!("psf.breaker.{route}")
}

/// Whether `route`'s breaker is open now.
pub fn is_open(store: &dyn SharedStore, route: &str) -> bool {
    store
        .get(&key(route))
        .and_then(|(bytes, _)| serde_json::from_slice::<State>(&bytes).ok())
        .is_some_and(|s| s.open_until_ms > store.now_ms())
}

/// Counts one failure of `route`'s upstream; true when it opened the breaker. A count that
/// keeps losing the race is dropped: the next failure counts again.
pub fn failure(store: &dyn SharedStore, route: &str, fallback: &Fallback) -> bool {
    let counted = update_json(store, &key(route), |state: &mut State, now| {
        if state.open_until_ms > now {
            return None;
        }
        if now.saturating_sub(state.window_start_ms) >= fallback.window_ms {
            *state = State {
                failures: 0,
                window_start_ms: now,
                open_until_ms: 0,
            };
        }
        state.failures += 1;
        let opened = state.failures >= fallback.failures;
        if opened {
            state.open_until_ms = now + fallback.open_ms;
            state.failures = 0;
        }
        Some(opened)
    });
    matches!(counted, Ok(Some(true)))
}
