//! A circuit breaker per route in the host's shared data (PSF MS-4): failures within a
//! window open it for a while, during which the route's fallback applies to every request on
//! every worker; then the primary is tried again.

use crate::policy::Fallback;
use crate::ratelimit::store::{SharedStore, StoreError};
use serde::{Deserialize, Serialize};

const MAX_ATTEMPTS: usize = 32;

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

/// Counts one failure of `route`'s upstream; true when it opened the breaker.
pub fn failure(store: &dyn SharedStore, route: &str, fallback: &Fallback) -> bool {
    let key = key(route);
    for _ in 0..MAX_ATTEMPTS {
        let now = store.now_ms();
        let (mut state, cas) = match store.get(&key) {
            Some((bytes, cas)) => (
                serde_json::from_slice::<State>(&bytes).unwrap_or_default(),
                cas,
            ),
            None => (State::default(), 0),
        };
        if state.open_until_ms > now {
            return false;
        }
        if now.saturating_sub(state.window_start_ms) >= fallback.window_ms {
            state = State {
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
        let bytes = serde_json::to_vec(&state).unwrap_or_default();
        match store.set(&key, &bytes, cas) {
            Ok(()) => return opened,
            Err(StoreError::CasMismatch) => continue,
            Err(StoreError::Failed) => return false,
        }
    }
    false
}
