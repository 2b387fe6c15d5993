//! psf-engine: the policy engine of psf-guard, with no proxy-wasm dependency, so it can be
//! tested, fuzzed and benchmarked natively and reused from any host.
//!
//! A policy is parsed and validated once; each HTTP exchange then runs through an
//! [`Exchange`] that tells the host adapter what to do at each step.
//!
//! ```
//! use psf_engine::{Exchange, Policy, RequestHead, Step};
//! use std::rc::Rc;
//!
//! let policy = Policy::from_json(br#"{
//!     "version": 1, "name": "demo", "owner": "Ada Lovelace",
//!     "rules": [{"id": "body-size", "type": "request_body_size", "max_bytes": "1KiB"}]
//! }"#).unwrap();
//! let mut exchange = Exchange::new(Rc::new(policy));
//! let head = RequestHead {
//!     method: "POST", path: "/v1/chat/completions", request_id: "r1",
//!     content_length: Some(4096), content_type: Some("application/json"), end_of_stream: false,
//! };
//! match exchange.on_request_headers(head) {
//!     Step::Reject(rejection) => assert_eq!(rejection.status(), 413),
//!     other => panic!("expected a rejection, got {other:?}"),
//! }
//! ```

pub mod answer_state;
pub mod audit;
pub mod breaker;
mod code;
pub mod confidence;
pub mod content;
pub mod encoding;
mod exchange;
pub mod injection;
mod inspect;
pub mod json_guard;
pub mod json_splice;
pub mod json_strings;
pub mod kill_switch;
pub mod learned;
pub mod llm;
pub mod output;
mod output_guard;
pub mod output_schema;
pub mod path;
pub mod pii;
pub mod policy;
mod policy_regex;
pub mod prompt_leak;
pub mod psf;
pub mod ratelimit;
mod record;
mod rejection;
pub mod review;
mod rewrite;
mod schema;
pub mod sse;
pub mod text;
mod tokens;

pub use code::ErrorCode;
pub use exchange::{Exchange, RequestHead, ResponsePlan, ResponseStep, Step};
pub use policy::{Action, Check, Mode, Policy, PolicyError, PolicyErrorKind, PolicyErrors, Rule};
pub use record::{Decision, DecisionRecord, Finding, FindingAction};
pub use rejection::{request_id_header, Rejection, Reply, ERROR_TYPE, UPSTREAM_REQUEST_ID};
pub use schema::{check_body, Checked};
pub use tokens::estimate_prompt_tokens;
