//! Integration tests of psf-host, one binary with modules to keep link time down.

// clippy.toml allows these in #[test] fns only; helpers in test crates need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod cli;
mod cli_audit;
mod cli_coverage;
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
mod filter;
mod header_hold;
mod host_abi;
mod hostile_host;
mod http_mock;
