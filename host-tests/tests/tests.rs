//! Integration tests of psf-host, one binary with modules to keep link time down.

mod support;

mod cli;
mod conformance;
mod envoy_e2e;
mod envoy_passthrough;
mod filter;
mod host_abi;
mod http_mock;
