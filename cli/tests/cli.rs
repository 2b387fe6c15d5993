//! `psf-guard` as a user runs it: the binary, the real `.wasm`, files on disk.

// clippy.toml allows these in #[test] fns only; helpers in test crates need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod commands;
mod coverage;

use psf_host::repo_root;

/// The policy a new user gets.
pub fn default_policy() -> String {
    std::fs::read_to_string(repo_root().join("policies/default.json"))
        .expect("policies/default.json")
}

pub const MIB: usize = 1024 * 1024;
