//! Abuse patterns (PSF OM-3): blocked requests are strikes against their key; enough
//! strikes in a window suspend the key, and the suspension raises an alert.

use super::alert::AlertLevel;
use super::key::KeyHash;
use super::settings::{Abuse, Strike};
use super::store::SharedStore;
use super::table::{Change, Table, Updated};

/// Strikes in the current window, one 16-bit count per kind.
const STRIKES: usize = 0;
const WINDOW_START: usize = 1;
const SUSPENDED_UNTIL: usize = 2;
/// Requests the key sent while suspended.
const SUSPENDED_HITS: usize = 3;
/// Suspensions within [`MEMORY_MS`]: a second one is escalated.
const SUSPENSIONS: usize = 4;

/// How long a key's past suspensions are remembered, for escalation.
const MEMORY_MS: u64 = 24 * 60 * 60 * 1000;

/// What a strike or a suspended request led to, for an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub kind: &'static str,
    pub level: AlertLevel,
    pub count: u64,
    pub suspended_for_ms: Option<u64>,
}

/// A suspended key's state when it sends a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suspended {
    pub remaining_ms: u64,
    pub raised: Option<Raised>,
}

/// Whether `key` is suspended now. Requests during a suspension are counted: a key that
/// sends as many of them as its lowest threshold is still attacking, which is raised once, at critical.
pub fn suspended(
    store: &dyn SharedStore,
    table: &Table,
    abuse: &Abuse,
    key: KeyHash,
) -> Option<Suspended> {
    let now = store.now_ms();
    let entry = table.read(store, key);
    if entry.counters[SUSPENDED_UNTIL] as u64 <= now {
        return None;
    }
    let updated = table.update(store, key, |entry, now| {
        let until = entry.counters[SUSPENDED_UNTIL] as u64;
        if until <= now {
            return Change::Keep(None);
        }
        entry.counters[SUSPENDED_HITS] += 1;
        let hits = entry.counters[SUSPENDED_HITS] as u64;
        let raised = (hits == abuse.persisting_after()).then_some(Raised {
            kind: "abuse_persisting",
            level: AlertLevel::Critical,
            count: hits,
            suspended_for_ms: Some(until - now),
        });
        Change::Write(Some(Suspended {
            remaining_ms: until - now,
            raised,
        }))
    });
    match updated {
        Updated::Done(found) => found,
        // The read above already saw the suspension; it holds even if counting failed.
        Updated::Contended | Updated::Failed => Some(Suspended {
            remaining_ms: entry.counters[SUSPENDED_UNTIL] as u64 - now,
            raised: None,
        }),
    }
}

/// Counts one strike of `kind` against `key`; the alert to raise when it suspends the key.
pub fn strike(
    store: &dyn SharedStore,
    table: &Table,
    abuse: &Abuse,
    key: KeyHash,
    kind: Strike,
) -> Option<Raised> {
    let threshold = abuse.threshold(kind)?;
    let shift = 16 * kind.index();
    let updated = table.update(store, key, |entry, now| {
        if entry.counters[SUSPENDED_UNTIL] as u64 > now {
            // Already suspended: the request was refused before it could strike.
            return Change::Keep(None);
        }
        if now.saturating_sub(entry.counters[WINDOW_START] as u64) >= abuse.window_ms {
            entry.counters[WINDOW_START] = now as i64;
            entry.counters[STRIKES] = 0;
        }
        let packed = entry.counters[STRIKES] as u64;
        let strikes = ((packed >> shift) & 0xffff) + 1;
        entry.counters[STRIKES] =
            ((packed & !(0xffff << shift)) | (strikes.min(0xffff) << shift)) as i64;
        let mut raised = None;
        if strikes >= threshold {
            let until = now + abuse.suspend_ms;
            entry.counters[SUSPENDED_UNTIL] = until as i64;
            entry.counters[SUSPENDED_HITS] = 0;
            entry.counters[STRIKES] = 0;
            entry.counters[SUSPENSIONS] += 1;
            let again = entry.counters[SUSPENSIONS] > 1;
            raised = Some(Raised {
                kind: "abuse_suspended",
                level: if again {
                    AlertLevel::Critical
                } else {
                    AlertLevel::Warn
                },
                count: strikes,
                suspended_for_ms: Some(abuse.suspend_ms),
            });
        }
        let until = entry.counters[SUSPENDED_UNTIL] as u64;
        let window_end = entry.counters[WINDOW_START] as u64 + abuse.window_ms;
        let remembered = if entry.counters[SUSPENSIONS] > 0 {
            until + MEMORY_MS
        } else {
            0
        };
        entry.expires_ms = window_end.max(until).max(remembered);
        Change::Write(raised)
    });
    match updated {
        Updated::Done(raised) => raised,
        Updated::Contended | Updated::Failed => Some(Raised {
            kind: "rate_limit_contention",
            level: AlertLevel::Warn,
            count: 1,
            suspended_for_ms: None,
        }),
    }
}
