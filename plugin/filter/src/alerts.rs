//! Alerts leave through three channels: a JSON log line at warn or critical, the counter
//! `psf_alerts_total` tagged by kind, and, when the policy names a webhook, an `http_call`
//! from the root context (a stream's own calls are cancelled when the stream ends).

use crate::host;
use crate::metrics;
use proxy_wasm::types::LogLevel;
use psf_engine::controls::ratelimit::alert::{Alert, AlertLevel};
use std::cell::RefCell;
use std::collections::VecDeque;

/// Alerts waiting for the next tick to be posted, and how often each was tried.
const MAX_PENDING: usize = 256;

thread_local! {
    static PENDING: RefCell<VecDeque<(String, u8)>> = const { RefCell::new(VecDeque::new()) };
}

/// Logs and counts `alert`, and queues it for the webhook when `webhook` is set.
pub fn raise(alert: &Alert, webhook: bool) {
    let json = alert.to_json();
    let level = match alert.level {
        AlertLevel::Warn => LogLevel::Warn,
        AlertLevel::Critical => LogLevel::Critical,
    };
    host::log(level, &format!("psf.alert {json}"));
    metrics::count(&format!("psf_alerts_total.kind.{}", alert.kind), 1);
    if webhook {
        PENDING.with(|pending| {
            let mut pending = pending.borrow_mut();
            if pending.len() >= MAX_PENDING {
                pending.pop_front();
                dropped("queue full");
            }
            pending.push_back((json, 0));
        });
    }
}

/// Alerts to post now, with their attempt number.
pub fn take_pending() -> Vec<(String, u8)> {
    PENDING.with(|p| p.borrow_mut().drain(..).collect())
}

/// A post failed: tried again once on the next tick, then logged and counted.
pub fn failed(body: String, attempt: u8, why: &str) {
    if attempt == 0 {
        PENDING.with(|p| p.borrow_mut().push_back((body, 1)));
        return;
    }
    dropped(why);
}

fn dropped(why: &str) {
    host::event(
        LogLevel::Error,
        "alert_webhook_failed",
        serde_json::json!({"reason": why}),
    );
    metrics::count("psf_alert_webhook_failures_total", 1);
}
