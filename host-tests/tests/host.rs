//! The filter in the wasmtime host, which plays Envoy's proxy-wasm semantics, and the mock
//! LLM: no Envoy needed (`cargo test -p psf-host --test host`).

// clippy.toml allows these in #[test] fns only; helpers in test crates need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod filter;
mod header_hold;
mod host_abi;
mod hostile_host;
mod http_mock;
