//! Engine tests, one binary: policy parsing as a table of named cases, then exchanges.

// clippy.toml allows these in #[test] fns only; helpers in test crates need them too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Table-driven cases are tuples by design.
#![allow(clippy::type_complexity)]

mod audit;
mod content;
mod deliver;
mod exchange;
mod guards;
mod hostile;
mod incident;
mod injection;
mod learned;
// The parse counter counts in debug builds only.
#[cfg(debug_assertions)]
mod one_parse;
mod output_errors;
mod output_schema;
mod pii;
mod policy_docs;
mod policy_parsing;
mod proxy;
mod ratelimit;
mod request_body;
mod request_head;
mod response_head;
mod review;
mod routes;
