//! Posts that must outlive the stream that made them (held tool calls for the review queue):
//! queued per VM and sent from the root context on its next tick, since a stream's own
//! calls are cancelled when the stream ends. A failed post is logged and counted.

use crate::host;
use crate::metrics;
use proxy_wasm::types::LogLevel;
use psf_engine::policy::ReviewQueue;
use std::cell::RefCell;
use std::collections::VecDeque;

const MAX_PENDING: usize = 1024;

thread_local! {
    static PENDING: RefCell<VecDeque<(ReviewQueue, String)>> = const { RefCell::new(VecDeque::new()) };
}

/// Queues `body` for `queue`; the oldest is dropped, and counted, past the bound.
pub fn push(queue: ReviewQueue, body: String) {
    PENDING.with(|pending| {
        let mut pending = pending.borrow_mut();
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
            failed("queue full");
        }
        pending.push_back((queue, body));
    });
}

pub fn take() -> Vec<(ReviewQueue, String)> {
    PENDING.with(|p| p.borrow_mut().drain(..).collect())
}

pub fn failed(why: &str) {
    host::event(
        LogLevel::Error,
        "review_queue_failed",
        serde_json::json!({"reason": why}),
    );
    metrics::count("psf_review_queue_failures_total", 1);
}
