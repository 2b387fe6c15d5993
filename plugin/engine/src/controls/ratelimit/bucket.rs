//! Token buckets over a table entry. Each limited dimension (requests, prompt, completion
//! and total tokens) is a bucket of `limit` units refilled continuously at `limit` per
//! window, so a key may burst up to its limit and then gets what the refill allows.
//!
//! Counters hold what is *used*, in thousandths of a unit, so a fresh entry (all zeros) is
//! a full bucket and refilling is a subtraction.

use super::settings::Limit;
use super::table::Entry;

/// Counter indexes in a limit entry.
pub const REQUESTS: usize = 0;
pub const PROMPT: usize = 1;
pub const COMPLETION: usize = 2;
pub const TOTAL: usize = 3;
pub const IN_FLIGHT: usize = 4;

/// One unit, in counter units.
pub const UNIT: i64 = 1000;
/// An in-flight request that never reported back (its VM restarted) stops counting after this.
pub const IN_FLIGHT_TTL_MS: u64 = 60 * 60 * 1000;

/// The limits of each dimension, in units; `None` is unlimited.
pub fn caps(limit: &Limit) -> [Option<u64>; 4] {
    [
        limit.requests,
        limit.prompt_tokens,
        limit.completion_tokens,
        limit.total_tokens,
    ]
}

/// Refills the entry's buckets up to `now`.
pub fn refill(entry: &mut Entry, limit: &Limit, now: u64) {
    let elapsed = now.saturating_sub(entry.updated_ms);
    if elapsed == 0 {
        return;
    }
    for (dim, cap) in caps(limit).into_iter().enumerate() {
        let Some(cap) = cap else { continue };
        let refilled = u128::from(elapsed) * u128::from(cap) * UNIT as u128
            / u128::from(limit.window_ms.max(1));
        let refilled = i64::try_from(refilled).unwrap_or(i64::MAX);
        entry.counters[dim] = entry.counters[dim].saturating_sub(refilled).max(0);
    }
}

/// Units still available in `dim`.
pub fn available(entry: &Entry, limit: &Limit, dim: usize) -> Option<i64> {
    caps(limit)[dim].map(|cap| cap as i64 * UNIT - entry.counters[dim])
}

/// How long until `units` more fit in `dim` (0 when they already do).
pub fn wait_ms(entry: &Entry, limit: &Limit, dim: usize, units: u64) -> u64 {
    let Some(cap) = caps(limit)[dim] else {
        return 0;
    };
    let missing = units as i64 * UNIT - (cap as i64 * UNIT - entry.counters[dim]);
    if missing <= 0 || cap == 0 {
        return 0;
    }
    let per_ms = cap as u128 * UNIT as u128;
    (missing as u128 * u128::from(limit.window_ms)).div_ceil(per_ms) as u64
}

/// How long until `dim`'s bucket is full again.
pub fn reset_ms(entry: &Entry, limit: &Limit, dim: usize) -> u64 {
    match caps(limit)[dim] {
        Some(cap) if cap > 0 => (entry.counters[dim].max(0) as u128 * u128::from(limit.window_ms))
            .div_ceil(cap as u128 * UNIT as u128) as u64,
        _ => 0,
    }
}

/// When the entry holds nothing worth keeping: every bucket full and nothing in flight.
pub fn expiry(entry: &Entry, limit: &Limit, now: u64) -> u64 {
    let full = (0..4).map(|d| reset_ms(entry, limit, d)).max().unwrap_or(0);
    let mut expires = now + full.max(1);
    if entry.counters[IN_FLIGHT] > 0 {
        expires = expires.max(now + IN_FLIGHT_TTL_MS);
    }
    expires
}
