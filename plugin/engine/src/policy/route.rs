//! Routes: which requests a part of the policy applies to, how their bodies are read, and
//! the schema and limit checks made before the model is called (PSF IG-2).

use super::confidence::ConfidenceRule;
use super::guards::{HiddenCharacters, SystemPrompt};
use super::output_errors::OutputErrors;
use crate::detect::content::ContentSettings;
use crate::detect::injection::InjectionSettings;
use crate::detect::pii::settings::PiiSettings;
use crate::llm::{ApiFormat, Role, SelectorFormat};
use crate::response::output_schema::OutputSchema;

/// One route of the policy. The first route whose path and method match a request applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub id: String,
    pub path: PathMatch,
    /// Allowed methods (upper-case); empty allows any.
    pub methods: Vec<String>,
    /// How the body is read; `None` means the body is not inspected.
    pub format: Option<BodyFormat>,
    pub limits: Limits,
    pub hidden_characters: HiddenCharacters,
    /// Injection detection; `None` means off.
    pub injection: Option<InjectionSettings>,
    pub system_prompt: Option<SystemPrompt>,
    /// PII and secret handling in both directions; `None` means off.
    pub pii: Option<PiiSettings>,
    /// Category term filtering of output (and prompts, per policy); `None` means off.
    pub content: Option<ContentSettings>,
    /// Exfiltration links in answers; `None` means links pass unchecked.
    pub links: Option<crate::detect::content::LinkGuard>,
    /// What upstream failures and unreadable output become.
    pub output_errors: OutputErrors,
    /// The JSON contract of the answer and of named tools' arguments; `None` means none.
    pub output_schema: Option<OutputSchema>,
    /// The confidence threshold on token log-probabilities; `None` means none.
    pub confidence: Option<ConfidenceRule>,
    /// This route's mode, over the policy's (PSF IR-2); `None` follows the policy.
    pub mode: Option<super::Mode>,
    /// The route's autonomy level (PSF HO-1), in audit records and `x-psf-autonomy`.
    pub autonomy: Option<super::Autonomy>,
    /// The AI disclosure on its answers (PSF HO-3).
    pub disclosure: super::Disclosure,
    /// Approved, pinned models (PSF MS-3); `None` leaves the model to `limits.models`.
    pub approved_models: Option<super::ApprovedModels>,
    /// Tool calls a person must approve (PSF HO-2); only on supervised routes.
    pub review: Option<super::Review>,
    /// What a provider failure leads to, with a circuit breaker (PSF MS-4).
    pub fallback: Option<super::Fallback>,
    /// What happens to request strings its format's reader does not know (PSF IG-1).
    pub unknown_fields: UnknownFields,
    /// Whether bodies with a `content-encoding` are decoded for inspection or refused.
    pub encoded_bodies: EncodedBodies,
}

/// Request and answer bodies sent with a `content-encoding` (gzip, deflate, br).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodedBodies {
    /// Decoded, within a size bound, and inspected; a body the filter rewrites goes on
    /// decoded, without `content-encoding` (the default).
    #[default]
    Decode,
    /// Refused: 400 `unsupported_content_type` for a request, 502 `output_unreadable`
    /// for an answer.
    Refuse,
}

impl EncodedBodies {
    pub const CHOICES: [(&'static str, EncodedBodies); 2] = [
        ("decode", EncodedBodies::Decode),
        ("refuse", EncodedBodies::Refuse),
    ];
}

/// Strings of a request body outside the fields the route's format reads: a tool's
/// parameter schema, `response_format`, `prediction`, a message's `name`, a field a
/// provider added last month. The model may read any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFields {
    /// Inspected like the prompt: injection, PII masking, content filter (the default).
    #[default]
    Inspect,
    /// Refused: 400 `invalid_request`, naming the field.
    Refuse,
}

impl UnknownFields {
    pub const CHOICES: [(&'static str, UnknownFields); 2] = [
        ("inspect", UnknownFields::Inspect),
        ("refuse", UnknownFields::Refuse),
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

impl PathMatch {
    /// The path or prefix as the policy names it.
    pub fn as_str(&self) -> &str {
        match self {
            PathMatch::Exact(path) | PathMatch::Prefix(path) => path,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyFormat {
    Api(ApiFormat),
    Selectors(SelectorFormat),
}

/// Schema and limit checks; `None` or empty means unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    /// Allowed media types (`application/json`), compared without parameters.
    pub content_types: Vec<String>,
    pub max_messages: Option<usize>,
    /// Characters (Unicode scalar values) in one message, all its text parts together.
    pub max_message_chars: Option<usize>,
    pub max_total_chars: Option<usize>,
    /// Estimated prompt tokens, see [`crate::estimate_prompt_tokens`].
    pub max_prompt_tokens: Option<u64>,
    pub max_tokens: Option<MaxTokens>,
    /// Allowed models; an entry ending in `*` matches by prefix. Empty allows any.
    pub models: Vec<String>,
    pub allow_stream: bool,
    pub max_n: Option<u64>,
    /// Allowed tool names; `None` allows any.
    pub tools: Option<Vec<String>>,
}

/// A cap on the completion length the client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxTokens {
    pub max: u64,
    pub over: OverCap,
}

/// What happens when the client asks for more than the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverCap {
    Reject,
    /// Rewrite the value in the forwarded body to the cap.
    Clamp,
}

impl Route {
    pub fn matches(&self, path: &str) -> bool {
        let path = path.split('?').next().unwrap_or(path);
        match &self.path {
            PathMatch::Exact(exact) => path == exact,
            PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
        }
    }

    /// Whether a lenient upstream may read `path` as one of this route's: its canonical
    /// form matches, ignoring ASCII case.
    pub fn may_match(&self, path: &crate::request::path::RequestPath<'_>) -> bool {
        match &self.path {
            PathMatch::Exact(exact) => path.may_mean(exact),
            PathMatch::Prefix(prefix) => {
                let canonical = path.canonical.as_bytes();
                let prefix = prefix.as_bytes();
                canonical.len() >= prefix.len()
                    && canonical[..prefix.len()].eq_ignore_ascii_case(prefix)
                    || path.may_mean(std::str::from_utf8(prefix).unwrap_or_default())
            }
        }
    }

    pub fn allows_method(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }

    /// The API format, when the route reads one.
    pub fn api_format(&self) -> Option<ApiFormat> {
        match self.format {
            Some(BodyFormat::Api(api)) => Some(api),
            _ => None,
        }
    }

    /// Whether the filter must hold and read the body for this route.
    pub fn inspects_body(&self) -> bool {
        self.format.is_some()
    }

    /// Whether the filter must read this route's responses: every route that reads an LLM
    /// format checks that the answer is well-formed (OV-5).
    pub fn reads_responses(&self) -> bool {
        self.format.is_some()
            || self.pii.as_ref().is_some_and(PiiSettings::reads_responses)
            || self
                .content
                .as_ref()
                .is_some_and(|c| c.response || c.scope.is_some())
            || self
                .system_prompt
                .as_ref()
                .is_some_and(|s| s.canary.is_some())
            || self.links.is_some()
    }
}

impl Limits {
    pub fn allows_model(&self, model: &str) -> bool {
        self.models.is_empty()
            || self
                .models
                .iter()
                .any(|allowed| match allowed.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => model == allowed,
                })
    }
}

/// Role names in selector configs.
pub(super) const ROLES: [(&str, Role); 5] = [
    ("system", Role::System),
    ("developer", Role::Developer),
    ("user", Role::User),
    ("assistant", Role::Assistant),
    ("tool", Role::Tool),
];
