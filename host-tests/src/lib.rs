//! Everything psf-guard needs around the `.wasm` to test and run it without a proxy,
//! and to drive a real Envoy when it is there.
//!
//! - [`host`]: a proxy-wasm ABI v0.2.1 host on wasmtime with Envoy's semantics.
//! - [`mock_llm`]: the scripted LLM upstream (also the `mock-llm` binary).
//! - [`http1`]: a minimal HTTP/1.1 client and server for loopback tests.
//! - [`play`]: one exchange through the real `.wasm` with a policy (CLI and conformance).
//! - [`placement`]: where a labelled row's text goes in each API's request or answer.
//! - [`envoy`]: renders Envoy configs and runs a real Envoy on free loopback ports.

pub mod demo;
pub mod envoy;
pub mod example;
pub mod host;
pub mod http1;
pub mod message;
pub mod mock_llm;
pub mod placement;
pub mod play;

pub use message::{HttpRequest, HttpResponse};

use std::path::PathBuf;

/// The repository root (where `Cargo.toml`, `dist/` and `policies/` live).
pub fn repo_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// The built filter: `$PSF_GUARD_WASM`, else `dist/psf_guard.wasm` in the repository.
/// Says how to build it when it is missing.
pub fn wasm_path() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PSF_GUARD_WASM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("dist/psf_guard.wasm"));
    if path.is_file() {
        Ok(path)
    } else {
        anyhow::bail!(
            "filter not found at {}: run `make build` (or set PSF_GUARD_WASM)",
            path.display()
        )
    }
}
