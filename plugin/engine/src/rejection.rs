//! A runtime outcome: the filter answers in place of the model, in the error shape of the
//! route's API, so each official SDK raises its own error class with the filter's code.
//!
//! - OpenAI routes (and routes without a format): `{"error":{"message","type":"psf_policy_violation","code","param","psf"}}`.
//! - Anthropic routes: `{"type":"error","error":{"type":<Anthropic's type>,"message","code","param","psf"},"request_id"}`.
//!
//! `code` is the filter's stable [`ErrorCode`] in every shape; `psf` carries the rule and
//! the audit record's id.

use crate::code::ErrorCode;
use crate::llm::ApiFormat;
use serde_json::{json, Value};

/// The `type` of every OpenAI-shaped error body the filter writes.
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
    /// A rejection with `code`, decided by `rule`, explained by `message` (which never
    /// holds request content); [`Rejection::at`] names the offending field.
    pub fn new(code: ErrorCode, rule: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            rule: rule.into(),
            param: None,
        }
    }

    /// The JSON pointer of the offending field, when there is one.
    pub fn at(mut self, param: impl Into<Option<String>>) -> Self {
        self.param = param.into();
        self
    }

    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The OpenAI-shaped error body, for answers outside any route.
    pub fn body(&self, request_id: &str) -> Vec<u8> {
        self.body_for(None, request_id)
    }

    /// The whole answer outside any exchange (a stream without a policy): the error's
    /// headers, the request id in `x-request-id`, the OpenAI-shaped body.
    pub fn reply(&self, request_id: &str) -> Reply {
        let mut headers: Vec<(&'static str, String)> = self
            .headers()
            .into_iter()
            .map(|(n, v)| (n, v.to_string()))
            .collect();
        headers.push(("x-request-id", request_id.to_string()));
        Reply {
            status: self.status(),
            headers,
            body: self.body(request_id),
        }
    }

    /// The error body for a client of `format`.
    pub fn body_for(&self, format: Option<ApiFormat>, request_id: &str) -> Vec<u8> {
        self.error_value(format, request_id)
            .to_string()
            .into_bytes()
    }

    fn psf(&self, request_id: &str) -> Value {
        json!({"rule": self.rule, "request_id": request_id})
    }

    /// The `error` object in the OpenAI shape.
    fn openai_error(&self, request_id: &str) -> Value {
        json!({
            "message": self.message,
            "type": ERROR_TYPE,
            "code": self.code.as_str(),
            "param": self.param,
            "psf": self.psf(request_id),
        })
    }

    fn error_value(&self, format: Option<ApiFormat>, request_id: &str) -> Value {
        match format {
            Some(ApiFormat::AnthropicMessages) => json!({
                "type": "error",
                "error": {
                    "type": anthropic_error_type(self.status()),
                    "message": self.message,
                    "code": self.code.as_str(),
                    "param": self.param,
                    "psf": self.psf(request_id),
                },
                "request_id": request_id,
            }),
            _ => json!({"error": self.openai_error(request_id)}),
        }
    }

    /// The event(s) that end a stream of `format` cut by this rejection, the way the API
    /// ends a failed stream, so the SDK raises:
    /// - Chat completions: a `data:` event with `error` (the SDK raises `APIError`), then `[DONE]`.
    /// - Responses: `response.failed` with `response.status: "failed"` and its `error`; the
    ///   event also carries the OpenAI `error` object, which makes the SDK raise `APIError`.
    /// - Messages: Anthropic's `event: error` (the SDK raises `APIStatusError`).
    pub fn stream_end(&self, format: Option<ApiFormat>, request_id: &str) -> Vec<u8> {
        match format {
            Some(ApiFormat::AnthropicMessages) => {
                let data = self.error_value(format, request_id);
                format!("event: error\ndata: {data}\n\n").into_bytes()
            }
            Some(ApiFormat::OpenAiResponses) => {
                let data = json!({
                    "type": "response.failed",
                    "sequence_number": 0,
                    "response": self.failed_response(request_id),
                    "error": self.openai_error(request_id),
                });
                format!("event: response.failed\ndata: {data}\n\n").into_bytes()
            }
            _ => {
                let data = json!({"error": self.openai_error(request_id)});
                format!("data: {data}\n\ndata: [DONE]\n\n").into_bytes()
            }
        }
    }

    /// A Responses API response object that failed with this rejection.
    fn failed_response(&self, request_id: &str) -> Value {
        json!({
            "id": format!("resp_psf_{request_id}"),
            "object": "response",
            "status": "failed",
            "error": {"code": self.code.as_str(), "message": self.message},
            "incomplete_details": null,
            "output": [],
            "psf": self.psf(request_id),
        })
    }

    /// The answer withheld in the API's own "filtered" shape, for when the answer's status
    /// line has already left (a host that cannot hold response headers): a 200 that the SDK
    /// parses, saying the answer was filtered, with nothing of the withheld text.
    pub fn filtered_answer(&self, format: Option<ApiFormat>, request_id: &str) -> Vec<u8> {
        let psf = json!({"code": self.code.as_str(), "message": self.message, "rule": self.rule, "request_id": request_id});
        let body = match format {
            Some(ApiFormat::OpenAiChat) => json!({
                "id": format!("chatcmpl-psf-{request_id}"),
                "object": "chat.completion",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": null, "refusal": self.message},
                    "finish_reason": "content_filter",
                }],
                "psf": psf,
            }),
            Some(ApiFormat::Completions) => json!({
                "id": format!("cmpl-psf-{request_id}"),
                "object": "text_completion",
                "choices": [{"index": 0, "text": "", "finish_reason": "content_filter"}],
                "psf": psf,
            }),
            Some(ApiFormat::OpenAiResponses) => {
                let mut response = self.failed_response(request_id);
                response["psf"] = psf;
                response
            }
            Some(ApiFormat::AnthropicMessages) => json!({
                "id": format!("msg_psf_{request_id}"),
                "type": "message",
                "role": "assistant",
                "content": [],
                "stop_reason": "refusal",
                "stop_sequence": null,
                "psf": psf,
            }),
            None => json!({"error": self.openai_error(request_id)}),
        };
        body.to_string().into_bytes()
    }

    /// Response headers besides `:status`: the code, and `x-should-retry: false` when
    /// sending the same request again cannot change the outcome (both SDKs honour it).
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let mut headers = vec![
            ("content-type", "application/json"),
            ("x-psf-code", self.code.as_str()),
        ];
        if !self.code.retryable() {
            headers.push(("x-should-retry", "false"));
        }
        headers
    }
}

/// Anthropic's error `type` for an HTTP status (docs.anthropic.com, "Errors").
fn anthropic_error_type(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

/// The response header each API's SDK reads the request id from: `request-id` for
/// Anthropic, `x-request-id` for OpenAI (and anything else).
pub fn request_id_header(format: Option<ApiFormat>) -> &'static str {
    match format {
        Some(ApiFormat::AnthropicMessages) => "request-id",
        _ => "x-request-id",
    }
}

/// A complete answer the filter makes: status, headers besides `:status`, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

/// Where the provider's own request id goes when the filter's id takes its header.
pub const UPSTREAM_REQUEST_ID: &str = "x-upstream-request-id";

#[cfg(test)]
mod tests {
    use super::*;

    fn rejection(code: ErrorCode) -> Rejection {
        Rejection::new(code, "r", "m")
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    // See: #16
    #[test]
    fn anthropic_routes_answer_in_anthropic_shape_with_the_filters_code() {
        let body = parse(
            &rejection(ErrorCode::PromptInjection)
                .body_for(Some(ApiFormat::AnthropicMessages), "id-1"),
        );
        assert_eq!(body["type"], "error");
        assert_eq!(body["error"]["type"], "permission_error");
        assert_eq!(body["error"]["code"], "prompt_injection");
        assert_eq!(body["request_id"], "id-1");
        let limited = parse(
            &rejection(ErrorCode::RateLimitExceeded)
                .body_for(Some(ApiFormat::AnthropicMessages), "i"),
        );
        assert_eq!(limited["error"]["type"], "rate_limit_error");
        let bad = parse(
            &rejection(ErrorCode::InvalidJson).body_for(Some(ApiFormat::AnthropicMessages), "i"),
        );
        assert_eq!(bad["error"]["type"], "invalid_request_error");
        let withheld = parse(
            &rejection(ErrorCode::ContentFiltered)
                .body_for(Some(ApiFormat::AnthropicMessages), "i"),
        );
        assert_eq!(withheld["error"]["type"], "api_error");
    }

    #[test]
    fn openai_routes_keep_the_openai_shape() {
        for format in [
            None,
            Some(ApiFormat::OpenAiChat),
            Some(ApiFormat::OpenAiResponses),
        ] {
            let body = parse(&rejection(ErrorCode::PiiDetected).body_for(format, "id-2"));
            assert_eq!(body["error"]["type"], ERROR_TYPE);
            assert_eq!(body["error"]["code"], "pii_detected");
            assert_eq!(body["error"]["psf"]["request_id"], "id-2");
        }
    }

    #[test]
    fn a_cut_responses_stream_ends_with_response_failed() {
        let end = rejection(ErrorCode::ContentFiltered)
            .stream_end(Some(ApiFormat::OpenAiResponses), "id-3");
        let text = String::from_utf8(end).unwrap();
        assert!(text.starts_with("event: response.failed\ndata: "), "{text}");
        let data = parse(
            text.trim_end()
                .strip_prefix("event: response.failed\ndata: ")
                .unwrap()
                .as_bytes(),
        );
        assert_eq!(data["type"], "response.failed");
        assert_eq!(data["response"]["status"], "failed");
        assert_eq!(data["response"]["error"]["code"], "content_filtered");
        assert_eq!(data["error"]["code"], "content_filtered");
    }

    #[test]
    fn anthropic_stream_errors_match_the_json_shape() {
        let r = rejection(ErrorCode::PiiInOutput);
        let end = String::from_utf8(r.stream_end(Some(ApiFormat::AnthropicMessages), "x")).unwrap();
        let data = end.trim_end().strip_prefix("event: error\ndata: ").unwrap();
        assert_eq!(
            parse(data.as_bytes()),
            parse(&r.body_for(Some(ApiFormat::AnthropicMessages), "x"))
        );
    }

    #[test]
    fn only_outcomes_that_can_change_on_retry_omit_should_retry_false() {
        let no_retry = |code| {
            rejection(code)
                .headers()
                .contains(&("x-should-retry", "false"))
        };
        assert!(no_retry(ErrorCode::ContentFiltered));
        assert!(no_retry(ErrorCode::PromptInjection));
        assert!(no_retry(ErrorCode::ServiceIsolated));
        assert!(!no_retry(ErrorCode::RateLimitExceeded));
        assert!(!no_retry(ErrorCode::UpstreamError));
        assert!(!no_retry(ErrorCode::ModerationUnavailable));
    }

    #[test]
    fn filtered_answers_parse_as_each_apis_answer() {
        let r = rejection(ErrorCode::ContentFiltered);
        let chat = parse(&r.filtered_answer(Some(ApiFormat::OpenAiChat), "i"));
        assert_eq!(chat["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(chat["psf"]["code"], "content_filtered");
        let messages = parse(&r.filtered_answer(Some(ApiFormat::AnthropicMessages), "i"));
        assert_eq!(messages["stop_reason"], "refusal");
        let responses = parse(&r.filtered_answer(Some(ApiFormat::OpenAiResponses), "i"));
        assert_eq!(responses["status"], "failed");
    }
}
