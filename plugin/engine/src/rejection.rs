//! A runtime outcome: the filter answers in place of the model, in one error shape.
//!
//! The body is OpenAI-compatible, so OpenAI SDKs surface `message` and `code`:
//! `{"error":{"message":…,"type":"psf_policy_violation","code":…,"param":…,"psf":{"rule":…,"request_id":…}}}`.

use crate::code::ErrorCode;
use serde_json::json;

/// The `type` of every error body the filter writes.
pub const ERROR_TYPE: &str = "psf_policy_violation";

/// A decision to answer the client with an error instead of forwarding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: ErrorCode,
    /// Human-readable reason; never contains request content.
    pub message: String,
    /// The rule that decided.
    pub rule: String,
    /// JSON pointer of the offending field, when there is one.
    pub param: Option<String>,
}

impl Rejection {
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The error body for the client.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        let body = json!({
            "error": {
                "message": self.message,
                "type": ERROR_TYPE,
                "code": self.code.as_str(),
                "param": self.param,
                "psf": {"rule": self.rule, "request_id": request_id},
            }
        });
        body.to_string().into_bytes()
    }

    /// Response headers besides `:status`.
    pub fn headers(&self) -> [(&'static str, &'static str); 2] {
        [
            ("content-type", "application/json"),
            ("x-psf-code", self.code.as_str()),
        ]
    }
}
