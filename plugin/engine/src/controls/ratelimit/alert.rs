//! Alerts: abuse and limiter trouble raised loudly, never as silent failures (PSF IG-4,
//! OM-3). The engine makes them; the host logs each as one JSON line, counts it in
//! `psf_alerts_total` by kind, and posts it to the webhook when one is configured.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertLevel {
    Warn,
    Critical,
}

/// What happened, in a shape log shippers and webhooks can route on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    #[serde(rename = "type")]
    pub kind_tag: &'static str,
    pub level: AlertLevel,
    /// `abuse_suspended`, `abuse_persisting` or `rate_limit_contention`.
    pub kind: &'static str,
    /// The key's hash; the key itself is never logged.
    pub key: String,
    /// The policy part that raised it (`abuse`, or a limit id).
    pub rule: String,
    pub policy: String,
    pub request_id: String,
    /// How many strikes or requests led here.
    pub count: u64,
    /// Seconds the key stays suspended, for suspensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended_for_s: Option<u64>,
    pub message: String,
    pub timestamp_ms: u64,
}

impl Alert {
    pub const TYPE: &'static str = "psf.alert";

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}
