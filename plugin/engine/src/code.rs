//! Stable error codes: what clients and dashboards key on. Never renamed once shipped.

/// Why the filter answered instead of the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request body is over the policy's size limit (PSF IG-2).
    RequestTooLarge,
    /// The filter has no valid policy; it fails closed rather than pass traffic unchecked.
    PolicyUnavailable,
    /// A route serves this path, but not with this method.
    MethodNotAllowed,
    /// The route does not accept this content type.
    UnsupportedContentType,
    /// The body is not valid UTF-8.
    InvalidUtf8,
    /// The body is not valid JSON (or nests deeper than the parser allows).
    InvalidJson,
    /// The JSON does not have the route's format: a missing or mistyped field.
    InvalidRequest,
    TooManyMessages,
    MessageTooLong,
    PromptTooLong,
    TooManyTokens,
    MaxTokensExceeded,
    ModelNotAllowed,
    StreamNotAllowed,
    TooManyChoices,
    ToolNotAllowed,
    /// The prompt scored at or over the route's injection threshold (PSF IG-1).
    PromptInjection,
    /// The client sent a system or developer message where the route pins its own (PSF IG-5).
    SystemPromptOverride,
    /// The prompt holds invisible characters and the route blocks them (PSF IG-1).
    HiddenCharacters,
    /// The model's answer contains the route's system-prompt canary (PSF IG-5).
    SystemPromptLeak,
    /// The prompt contains PII or a secret whose action on this route is `block` (PSF DG-1).
    PiiDetected,
    /// The model's answer contains PII or a secret whose action is `block` (PSF DG-1, OV-1).
    PiiInOutput,
    /// The model's response could not be read to validate it (an oversized stream event).
    OutputUnreadable,
    /// The prompt hits a content-filter category the route blocks in requests (PSF OV-3).
    HarmfulRequest,
    /// The model's answer hits a content-filter category the route blocks (PSF OV-3).
    ContentFiltered,
    /// The upstream answered with a server error or could not be reached (PSF OV-5).
    UpstreamError,
    /// The upstream's 2xx answer is not the JSON its content type says (PSF OV-5).
    MalformedOutput,
    /// The upstream's stream ended without its final event (PSF OV-5).
    TruncatedStream,
    /// The answer breaks the route's output schema or length limit (PSF OV-2).
    OutputSchemaViolation,
    /// The model declined to answer (PSF OV-5).
    Refusal,
    /// The answer has no text and no tool call (PSF OV-5).
    EmptyOutput,
    /// The answer stopped at the token limit (PSF OV-5).
    OutputTruncated,
    /// The provider's own content filter stopped the answer (PSF OV-5).
    ProviderFiltered,
    /// The answer's mean token log-probability is under the route's threshold (PSF OV-4).
    LowConfidence,
    /// The external moderation service did not answer, and the route fails closed (OV-3).
    ModerationUnavailable,
    /// The upstream did not answer within the route's timeout (PSF OV-5).
    UpstreamTimeout,
    /// The answer touched a forbidden topic or strayed from the route's topics (PSF OV-3).
    OutOfScope,
    /// The key is over one of its rate or token limits (PSF IG-4). Answered with 429.
    RateLimitExceeded,
    /// The key is suspended after repeated violations (PSF IG-4, OM-3).
    AbuseSuspended,
    /// The service is isolated by the kill switch (PSF IR-2): the approved message.
    ServiceIsolated,
    /// The service is degraded by the kill switch (PSF IR-2): the approved message.
    ServiceDegraded,
    /// The admin path refused a caller without the token or from a source not allowed.
    AdminForbidden,
    /// The model is not one of the route's approved, pinned models (PSF MS-3).
    ModelNotApproved,
    /// The request would leave the regions the policy allows (PSF DG-5).
    DataResidencyViolation,
    /// The answer calls a tool a person must approve first (PSF HO-2): 202 with a ticket.
    PendingHumanReview,
    /// The `x-psf-approval` given does not approve this request, or has expired.
    ApprovalInvalid,
    /// The path would reach a route or the admin path, but not in its canonical form (PSF
    /// IG-2): a lenient upstream could read it as the route while the filter did not.
    NonCanonicalPath,
    /// A header the filter keys on (`authorization`, `x-api-key`, the approval header…) came
    /// more than once, so the filter and the upstream could read different values.
    DuplicateHeader,
}

impl ErrorCode {
    /// Every code, for documentation and tests.
    pub const ALL: [ErrorCode; 48] = [
        ErrorCode::RequestTooLarge,
        ErrorCode::PolicyUnavailable,
        ErrorCode::MethodNotAllowed,
        ErrorCode::UnsupportedContentType,
        ErrorCode::InvalidUtf8,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidRequest,
        ErrorCode::TooManyMessages,
        ErrorCode::MessageTooLong,
        ErrorCode::PromptTooLong,
        ErrorCode::TooManyTokens,
        ErrorCode::MaxTokensExceeded,
        ErrorCode::ModelNotAllowed,
        ErrorCode::StreamNotAllowed,
        ErrorCode::TooManyChoices,
        ErrorCode::ToolNotAllowed,
        ErrorCode::PromptInjection,
        ErrorCode::SystemPromptOverride,
        ErrorCode::HiddenCharacters,
        ErrorCode::SystemPromptLeak,
        ErrorCode::PiiDetected,
        ErrorCode::PiiInOutput,
        ErrorCode::OutputUnreadable,
        ErrorCode::HarmfulRequest,
        ErrorCode::ContentFiltered,
        ErrorCode::UpstreamError,
        ErrorCode::MalformedOutput,
        ErrorCode::TruncatedStream,
        ErrorCode::OutputSchemaViolation,
        ErrorCode::Refusal,
        ErrorCode::EmptyOutput,
        ErrorCode::OutputTruncated,
        ErrorCode::ProviderFiltered,
        ErrorCode::LowConfidence,
        ErrorCode::ModerationUnavailable,
        ErrorCode::UpstreamTimeout,
        ErrorCode::OutOfScope,
        ErrorCode::RateLimitExceeded,
        ErrorCode::AbuseSuspended,
        ErrorCode::ServiceIsolated,
        ErrorCode::ServiceDegraded,
        ErrorCode::AdminForbidden,
        ErrorCode::ModelNotApproved,
        ErrorCode::DataResidencyViolation,
        ErrorCode::PendingHumanReview,
        ErrorCode::ApprovalInvalid,
        ErrorCode::NonCanonicalPath,
        ErrorCode::DuplicateHeader,
    ];

    /// The code as it appears in error bodies, headers, metrics and records.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::RequestTooLarge => "request_too_large",
            ErrorCode::PolicyUnavailable => "policy_unavailable",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::UnsupportedContentType => "unsupported_content_type",
            ErrorCode::InvalidUtf8 => "invalid_utf8",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::TooManyMessages => "too_many_messages",
            ErrorCode::MessageTooLong => "message_too_long",
            ErrorCode::PromptTooLong => "prompt_too_long",
            ErrorCode::TooManyTokens => "too_many_tokens",
            ErrorCode::MaxTokensExceeded => "max_tokens_exceeded",
            ErrorCode::ModelNotAllowed => "model_not_allowed",
            ErrorCode::StreamNotAllowed => "stream_not_allowed",
            ErrorCode::TooManyChoices => "too_many_choices",
            ErrorCode::ToolNotAllowed => "tool_not_allowed",
            ErrorCode::PromptInjection => "prompt_injection",
            ErrorCode::SystemPromptOverride => "system_prompt_override",
            ErrorCode::HiddenCharacters => "hidden_characters",
            ErrorCode::SystemPromptLeak => "system_prompt_leak",
            ErrorCode::PiiDetected => "pii_detected",
            ErrorCode::PiiInOutput => "pii_in_output",
            ErrorCode::OutputUnreadable => "output_unreadable",
            ErrorCode::HarmfulRequest => "harmful_request",
            ErrorCode::ContentFiltered => "content_filtered",
            ErrorCode::UpstreamError => "upstream_error",
            ErrorCode::MalformedOutput => "malformed_output",
            ErrorCode::TruncatedStream => "truncated_stream",
            ErrorCode::OutputSchemaViolation => "output_schema_violation",
            ErrorCode::Refusal => "refusal",
            ErrorCode::EmptyOutput => "empty_output",
            ErrorCode::OutputTruncated => "output_truncated",
            ErrorCode::ProviderFiltered => "provider_filtered",
            ErrorCode::LowConfidence => "low_confidence",
            ErrorCode::ModerationUnavailable => "moderation_unavailable",
            ErrorCode::UpstreamTimeout => "upstream_timeout",
            ErrorCode::OutOfScope => "out_of_scope",
            ErrorCode::RateLimitExceeded => "rate_limit_exceeded",
            ErrorCode::AbuseSuspended => "abuse_suspended",
            ErrorCode::ServiceIsolated => "service_isolated",
            ErrorCode::ServiceDegraded => "service_degraded",
            ErrorCode::AdminForbidden => "admin_forbidden",
            ErrorCode::ModelNotApproved => "model_not_approved",
            ErrorCode::DataResidencyViolation => "data_residency_violation",
            ErrorCode::PendingHumanReview => "pending_human_review",
            ErrorCode::ApprovalInvalid => "approval_invalid",
            ErrorCode::NonCanonicalPath => "non_canonical_path",
            ErrorCode::DuplicateHeader => "duplicate_header",
        }
    }

    /// Whether the same request, sent again later, can get another outcome: a limit that
    /// refills, a moderation service or a provider that recovers. Every other refusal is
    /// answered with `x-should-retry: false`, so the SDKs do not send it again.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::RateLimitExceeded
                | ErrorCode::ModerationUnavailable
                | ErrorCode::UpstreamError
                | ErrorCode::UpstreamTimeout
        )
    }

    /// The HTTP status a rejection with this code gets. Schema and limit failures are all
    /// 400, so clients need one branch for "fix your request"; content the policy refuses
    /// is 403, and a model answer withheld is 502.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::RequestTooLarge => 413,
            ErrorCode::PolicyUnavailable
            | ErrorCode::ModerationUnavailable
            | ErrorCode::ServiceIsolated
            | ErrorCode::ServiceDegraded => 503,
            ErrorCode::UpstreamTimeout => 504,
            ErrorCode::RateLimitExceeded => 429,
            ErrorCode::PromptInjection
            | ErrorCode::PiiDetected
            | ErrorCode::HarmfulRequest
            | ErrorCode::AbuseSuspended
            | ErrorCode::AdminForbidden
            | ErrorCode::DataResidencyViolation
            | ErrorCode::ApprovalInvalid => 403,
            ErrorCode::PendingHumanReview => 202,
            ErrorCode::SystemPromptLeak
            | ErrorCode::PiiInOutput
            | ErrorCode::OutputUnreadable
            | ErrorCode::ContentFiltered
            | ErrorCode::UpstreamError
            | ErrorCode::MalformedOutput
            | ErrorCode::TruncatedStream
            | ErrorCode::OutputSchemaViolation
            | ErrorCode::Refusal
            | ErrorCode::EmptyOutput
            | ErrorCode::OutputTruncated
            | ErrorCode::ProviderFiltered
            | ErrorCode::LowConfidence
            | ErrorCode::OutOfScope => 502,
            _ => 400,
        }
    }
}
