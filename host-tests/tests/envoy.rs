//! The filter in a real Envoy (`ENVOY_BIN`, else `.venv/bin/envoy`; `make envoy` installs
//! it), with the mock LLM and the official SDKs as clients.

// clippy.toml allows these in #[test] fns only; helpers in test crates need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod conformance;
mod envoy_audit;
mod envoy_content;
mod envoy_e2e;
mod envoy_failures;
mod envoy_findings;
mod envoy_governance;
mod envoy_guards;
mod envoy_hostile;
mod envoy_incident;
mod envoy_indirect;
mod envoy_limits;
mod envoy_moderation;
mod envoy_output_errors;
mod envoy_passthrough;
mod envoy_pii;
mod envoy_ratelimit;
mod envoy_sdks;
mod envoy_versions;
