//! The `fallback` section of a route (PSF MS-4): what happens when the provider fails, and
//! the circuit breaker that keeps failing providers out of the way.

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackAction {
    /// Answer with the approved degrade message (503 `service_degraded`), defined, not silent.
    Degrade,
    /// Mark requests for the fallback route (a request header the route table matches) while
    /// the breaker is open.
    Reroute,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallback {
    pub action: FallbackAction,
    /// Upstream outcomes that count as failures: `5xx`, `timeout`, `429`.
    pub on: Vec<String>,
    /// The request header set on rerouted requests.
    pub header: String,
    /// Failures within `window_ms` that open the breaker.
    pub failures: u32,
    pub window_ms: u64,
    /// How long the breaker stays open before the primary is tried again.
    pub open_ms: u64,
}

const OUTCOMES: [&str; 3] = ["5xx", "timeout", "429"];
const ACTIONS: [(&str, FallbackAction); 2] = [
    ("degrade", FallbackAction::Degrade),
    ("reroute", FallbackAction::Reroute),
];

pub(super) fn read_fallback(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<Fallback> {
    let value = fields.value("fallback")?;
    let mut section = Fields::open(value, &fields.path_of("fallback"), errors)?;
    let action = section
        .required("action", errors)
        .and_then(|_| section.choice("action", &ACTIONS, errors));
    let on = section
        .strings("on", errors)
        .unwrap_or_else(|| OUTCOMES.iter().map(|o| o.to_string()).collect());
    for (i, outcome) in on.iter().enumerate() {
        if !OUTCOMES.contains(&outcome.as_str()) {
            errors.push(
                &format!("{}[{i}]", section.path_of("on")),
                PolicyErrorKind::UnknownValue {
                    what: "on",
                    found: outcome.clone(),
                    expected: OUTCOMES.to_vec(),
                },
            );
        }
    }
    let header = section
        .string("header", errors)
        .unwrap_or("x-psf-fallback")
        .to_ascii_lowercase();
    let mut failures = 3;
    let mut window_ms = 30_000;
    let mut open_ms = 30_000;
    if let Some(value) = section.value("breaker") {
        if let Some(mut breaker) = Fields::open(value, &section.path_of("breaker"), errors) {
            failures = breaker
                .count("failures", errors)
                .unwrap_or(3)
                .clamp(1, 1_000) as u32;
            window_ms = breaker.count("window_seconds", errors).unwrap_or(30).max(1) * 1000;
            open_ms = breaker.count("open_seconds", errors).unwrap_or(30).max(1) * 1000;
            breaker.finish(errors);
        }
    }
    section.finish(errors);
    Some(Fallback {
        action: action?,
        on,
        header,
        failures,
        window_ms,
        open_ms,
    })
}

impl Fallback {
    /// Whether an upstream answer with `status` counts as a failure.
    pub fn counts(&self, status: u16) -> bool {
        let outcome = match status {
            429 => "429",
            408 | 504 => "timeout",
            500..=599 => "5xx",
            _ => return false,
        };
        self.on.iter().any(|o| o == outcome)
    }
}
