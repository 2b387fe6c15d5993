//! Scripted upstream clusters for `proxy_http_call`: tests register a cluster by
//! name and a responder that answers (or times out) each call.

use super::types::Headers;

/// A request the filter sent with `proxy_http_call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRequest {
    pub cluster: String,
    /// Including the pseudo-headers `:method`, `:path`, `:authority`.
    pub headers: Headers,
    pub body: Vec<u8>,
    pub trailers: Headers,
    pub timeout_ms: u32,
    pub token: u32,
    /// The vm_id of the calling VM.
    pub vm: String,
}

impl CallRequest {
    /// The first value of `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::message::find_header(&self.headers, name)
    }
}

/// How a scripted cluster answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResponse {
    Response {
        status: u16,
        headers: Headers,
        body: Vec<u8>,
        trailers: Headers,
    },
    /// Envoy reports timeouts/resets as `proxy_on_http_call_response(ctx, token, 0, 0, 0)`.
    Timeout,
}

impl CallResponse {
    /// A 200-style response with a body and no trailers.
    pub fn ok(status: u16, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) -> Self {
        Self::Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.into(),
            trailers: Vec::new(),
        }
    }
}

/// The function a cluster answers with.
pub type Responder = Box<dyn FnMut(&CallRequest) -> CallResponse + Send>;

/// A registered cluster and what it received.
pub struct Cluster {
    pub responder: Responder,
    pub received: Vec<CallRequest>,
}
