//! Stable error codes: what clients and dashboards key on. Never renamed once shipped.

/// Why the filter answered instead of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request body is over the policy's size limit (PSF IG-2).
    RequestTooLarge,
    /// The filter has no valid policy; it fails closed rather than pass traffic unchecked.
    PolicyUnavailable,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 2] = [ErrorCode::RequestTooLarge, ErrorCode::PolicyUnavailable];

    /// The code as it appears in error bodies, headers, metrics and records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::RequestTooLarge => "request_too_large",
            ErrorCode::PolicyUnavailable => "policy_unavailable",
        }
    }

    /// The HTTP status a rejection with this code gets.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::RequestTooLarge => 413,
            ErrorCode::PolicyUnavailable => 503,
        }
    }
}
