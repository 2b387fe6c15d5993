//! psf-engine: the policy engine of psf-guard, with no proxy-wasm dependency, so it can be
//! tested, fuzzed and benchmarked natively and reused from any host.
//!
//! A policy is parsed and validated once; each HTTP exchange then runs through an
//! [`Exchange`] that tells the host adapter what to do at each step.
//!
//! The modules, by what they are: [`policy`] (the document and its checks), [`request`]
//! and [`response`] (each side of an exchange), [`detect`] (what is looked for in text),
//! [`controls`] (limits, kill switch, breaker, review), [`audit`] (the decision record and
//! its trail), [`llm`] (the three APIs' formats), [`json`] (shared JSON plumbing) and
//! [`psf`] (the framework's competencies and where a policy stands on them).
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

pub mod audit;
mod code;
pub mod controls;
pub mod detect;
mod exchange;
pub mod json;
pub mod llm;
pub mod policy;
pub mod proxy;
pub mod psf;
mod rejection;
pub mod request;
pub mod response;

pub use audit::record::{Decision, DecisionRecord, Finding, FindingAction};
pub use code::ErrorCode;
pub use exchange::{
    AnswerEffects, Concluded, Delivery, Exchange, RequestBodyEffects, RequestFacts, RequestHead,
    RequestHeadEffects, ResponseHeadEffects, ResponsePlan, ResponseStep, Step,
};
pub use policy::{Action, Check, Mode, Policy, PolicyError, PolicyErrorKind, PolicyErrors, Rule};
pub use rejection::{request_id_header, Rejection, Reply, ERROR_TYPE, UPSTREAM_REQUEST_ID};
pub use request::schema::{check_body, Checked};
pub use request::tokens::estimate_prompt_tokens;
