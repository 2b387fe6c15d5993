//! Admission: every limit that applies must pass, and tokens are reserved before the model
//! is called, not charged after it answered, so a key cannot overshoot its budget with a
//! burst of long answers. Reservations are settled with the usage the provider reports.

use super::bucket::{
    available, caps, expiry, refill, reset_ms, wait_ms, COMPLETION, IN_FLIGHT, PROMPT, REQUESTS,
    TOTAL, UNIT,
};
use super::key::KeyHash;
use super::settings::{Limit, OverBudget};
use super::store::SharedStore;
use super::table::{Change, Table, Updated};

/// What a request asks of its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Demand {
    /// Estimated prompt tokens.
    pub prompt: u64,
    /// Completion tokens to reserve: the request's `max_tokens`, or the policy default.
    pub completion: u64,
}

/// What an admitted request took from one limit, to settle when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub limit: usize,
    pub key: KeyHash,
    pub prompt: u64,
    pub completion: u64,
    pub in_flight: bool,
}

/// Where a limit stands after a decision, for the `x-ratelimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Standing {
    /// `(limit, remaining, ms until full)` of requests and of tokens.
    pub requests: Option<(u64, u64, u64)>,
    pub tokens: Option<(u64, u64, u64)>,
}

/// Why a limit refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Over the limit now; it fits again after `wait_ms`.
    Over {
        dimension: &'static str,
        wait_ms: u64,
    },
    /// The request alone needs more than the limit allows in a window.
    TooLarge {
        dimension: &'static str,
        needed: u64,
        cap: u64,
    },
    /// The shared counters stayed contended past the retry bound.
    Contended,
}

/// One limit's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decided {
    /// Admitted, reserving `completion` tokens (lower than asked when clamped).
    Admit { completion: u64, standing: Standing },
    Refuse {
        refusal: Refusal,
        standing: Standing,
    },
}

/// Checks `limit` for `key` and, when it passes, takes its share in the same write.
pub fn admit(
    store: &dyn SharedStore,
    table: &Table,
    limit: &Limit,
    key: KeyHash,
    demand: Demand,
) -> Decided {
    let updated = table.update(store, key, |entry, now| {
        refill(entry, limit, now);
        let decided = decide(entry, limit, demand);
        if let Decided::Admit { completion, .. } = decided {
            let taken = [1, demand.prompt, completion, demand.prompt + completion];
            for (dim, cap) in caps(limit).into_iter().enumerate() {
                if cap.is_some() {
                    entry.counters[dim] += taken[dim] as i64 * UNIT;
                }
            }
            if limit.concurrent.is_some() {
                entry.counters[IN_FLIGHT] += 1;
            }
            entry.expires_ms = expiry(entry, limit, now);
            let standing = standing(entry, limit);
            return Change::Write(Decided::Admit {
                completion,
                standing,
            });
        }
        Change::Keep(decided)
    });
    match updated {
        Updated::Done(decided) => decided,
        Updated::Contended | Updated::Failed => Decided::Refuse {
            refusal: Refusal::Contended,
            standing: Standing::default(),
        },
    }
}

/// The decision on a refilled entry, without changing it.
fn decide(entry: &super::table::Entry, limit: &Limit, demand: Demand) -> Decided {
    let refuse = |refusal| Decided::Refuse {
        refusal,
        standing: standing(entry, limit),
    };
    if limit.requests.is_some() && available(entry, limit, REQUESTS).unwrap_or(0) < UNIT {
        let wait_ms = wait_ms(entry, limit, REQUESTS, 1);
        return refuse(Refusal::Over {
            dimension: "requests",
            wait_ms,
        });
    }
    if let Some(max) = limit.concurrent {
        if entry.counters[IN_FLIGHT] >= max as i64 {
            return refuse(Refusal::Over {
                dimension: "concurrent",
                wait_ms: 1000,
            });
        }
    }
    // The prompt must fit whole; the completion may be clamped to what is left.
    for (dim, name, needed) in [
        (PROMPT, "prompt_tokens", demand.prompt),
        (TOTAL, "total_tokens", demand.prompt + 1),
        (COMPLETION, "completion_tokens", 1),
    ] {
        let Some(cap) = caps(limit)[dim] else {
            continue;
        };
        if needed > cap {
            return refuse(Refusal::TooLarge {
                dimension: name,
                needed,
                cap,
            });
        }
    }
    let mut completion = demand.completion;
    for (dim, name, base) in [
        (PROMPT, "prompt_tokens", demand.prompt),
        (COMPLETION, "completion_tokens", 0),
        (TOTAL, "total_tokens", demand.prompt),
    ] {
        let Some(free) = available(entry, limit, dim) else {
            continue;
        };
        let free_units = (free.max(0) / UNIT) as u64;
        let fits = if dim == PROMPT {
            // Prompt tokens have nothing to clamp: they fit or wait.
            if base <= free_units {
                continue;
            }
            0
        } else {
            free_units.saturating_sub(base)
        };
        if dim != PROMPT && fits >= completion {
            continue;
        }
        if dim != PROMPT && limit.over_budget == OverBudget::Clamp && fits >= 1 {
            completion = fits;
            continue;
        }
        let wanted = if dim == PROMPT {
            base
        } else {
            base + match limit.over_budget {
                OverBudget::Clamp => 1,
                OverBudget::Reject => completion,
            }
        };
        let wait_ms = wait_ms(entry, limit, dim, wanted);
        return refuse(Refusal::Over {
            dimension: name,
            wait_ms,
        });
    }
    Decided::Admit {
        completion,
        standing: standing(entry, limit),
    }
}

/// Settles a hold once the request is over: what it really used replaces what it reserved,
/// and it stops counting as in flight. `used` is `(prompt, completion)` tokens.
pub fn settle(
    store: &dyn SharedStore,
    table: &Table,
    limit: &Limit,
    hold: &Hold,
    used: (u64, u64),
) {
    if !limit.counts_tokens() && !hold.in_flight {
        return;
    }
    let delta = |used: u64, reserved: u64| (used as i64 - reserved as i64) * UNIT;
    let deltas = [
        0,
        delta(used.0, hold.prompt),
        delta(used.1, hold.completion),
        delta(used.0 + used.1, hold.prompt + hold.completion),
    ];
    // A settle that keeps losing the race is dropped: the bucket then refills on its own,
    // which errs on the side of the client by at most one reservation.
    let _ = table.update(store, hold.key, |entry, now| {
        refill(entry, limit, now);
        for (dim, cap) in caps(limit).into_iter().enumerate() {
            if cap.is_some() {
                entry.counters[dim] = (entry.counters[dim] + deltas[dim]).max(0);
            }
        }
        if hold.in_flight {
            entry.counters[IN_FLIGHT] = (entry.counters[IN_FLIGHT] - 1).max(0);
        }
        entry.expires_ms = expiry(entry, limit, now);
        Change::Write(())
    });
}

/// Gives back everything a hold took, the request too: for a request refused by a later
/// limit, so that only requests that were admitted count.
pub fn release(store: &dyn SharedStore, table: &Table, limit: &Limit, hold: &Hold) {
    let _ = table.update(store, hold.key, |entry, now| {
        refill(entry, limit, now);
        let taken = [
            1,
            hold.prompt,
            hold.completion,
            hold.prompt + hold.completion,
        ];
        for (dim, cap) in caps(limit).into_iter().enumerate() {
            if cap.is_some() {
                entry.counters[dim] = (entry.counters[dim] - taken[dim] as i64 * UNIT).max(0);
            }
        }
        if hold.in_flight {
            entry.counters[IN_FLIGHT] = (entry.counters[IN_FLIGHT] - 1).max(0);
        }
        entry.expires_ms = expiry(entry, limit, now);
        Change::Write(())
    });
}

fn standing(entry: &super::table::Entry, limit: &Limit) -> Standing {
    let at = |dim: usize| {
        caps(limit)[dim].map(|cap| {
            let remaining = (available(entry, limit, dim).unwrap_or(0).max(0) / UNIT) as u64;
            (cap, remaining, reset_ms(entry, limit, dim))
        })
    };
    Standing {
        requests: at(REQUESTS),
        tokens: at(TOTAL).or_else(|| at(COMPLETION)).or_else(|| at(PROMPT)),
    }
}
