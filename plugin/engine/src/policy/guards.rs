//! Route settings for what the filter does to the text of a request, beyond its shape:
//! sanitising (IG-1), injection detection (IG-1) and the system-prompt boundary (IG-5).

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use crate::detect::injection::{InjectionAction, InjectionSettings, RuleSet};
use crate::llm::ApiFormat;
use crate::response::prompt_leak::{PromptFingerprint, DEFAULT_RUN_WORDS, MIN_RUN_WORDS};
use serde_json::Value;

/// What happens to hidden characters (zero-width, bidi controls, Unicode tags, controls).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HiddenCharacters {
    /// Not checked.
    #[default]
    Allow,
    /// Recorded, and the request forwarded as sent.
    Flag,
    /// Recorded, and removed from the forwarded body.
    Strip,
    /// The request is rejected with 400 `hidden_characters`.
    Block,
}

/// The system prompt a route pins, and what happens to the client's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPrompt {
    /// Inserted as the first system instruction of every request, when set.
    pub pinned: Option<String>,
    pub client: ClientSystem,
    /// A secret appended to the pinned prompt; a response that contains it leaked the prompt.
    pub canary: Option<String>,
    /// The pinned prompt's word n-grams, to catch an answer that copies a long run of it.
    pub fingerprint: Option<PromptFingerprint>,
    /// The policy asked for a random canary (`"canary": true`); it is drawn by
    /// [`crate::Policy::with_random_canaries`] when the host loads the policy.
    pub random_canary: bool,
}

/// What happens to system and developer messages the client sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSystem {
    /// Rejected with 400 `system_prompt_override`.
    Reject,
    /// Turned into user content, so the model reads it as the user's words.
    Demote,
    /// Kept, after the pinned prompt.
    Allow,
}

impl SystemPrompt {
    /// The text inserted into requests: the pinned prompt and the canary line.
    pub fn pinned_text(&self) -> Option<String> {
        match (&self.pinned, &self.canary) {
            (Some(pinned), Some(canary)) => Some(format!("{pinned}\n\n{canary}")),
            (Some(pinned), None) => Some(pinned.clone()),
            (None, Some(canary)) => Some(canary.clone()),
            (None, None) => None,
        }
    }
}

const HIDDEN: [(&str, HiddenCharacters); 4] = [
    ("allow", HiddenCharacters::Allow),
    ("flag", HiddenCharacters::Flag),
    ("strip", HiddenCharacters::Strip),
    ("block", HiddenCharacters::Block),
];
const INJECTION_ACTIONS: [(&str, InjectionAction); 3] = [
    ("block", InjectionAction::Block),
    ("flag", InjectionAction::Flag),
    ("log", InjectionAction::Log),
];
const CLIENT_SYSTEM: [(&str, ClientSystem); 3] = [
    ("reject", ClientSystem::Reject),
    ("demote", ClientSystem::Demote),
    ("allow", ClientSystem::Allow),
];

pub(super) fn read_sanitize(fields: &mut Fields<'_>, errors: &mut Errors) -> HiddenCharacters {
    let Some(value) = fields.value("sanitize") else {
        return HiddenCharacters::Allow;
    };
    let Some(mut sanitize) = Fields::open(value, &fields.path_of("sanitize"), errors) else {
        return HiddenCharacters::Allow;
    };
    let hidden = sanitize
        .choice("hidden_characters", &HIDDEN, errors)
        .unwrap_or(HiddenCharacters::Flag);
    sanitize.finish(errors);
    hidden
}

pub(super) fn read_injection(
    fields: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<InjectionSettings> {
    let value = fields.value("injection")?;
    let path = fields.path_of("injection");
    let mut injection = Fields::open(value, &path, errors)?;
    if let Err(reason) = RuleSet::get() {
        errors.push(&path, PolicyErrorKind::Invalid(reason));
    }
    let defaults = InjectionSettings::default();
    let mut settings = InjectionSettings {
        action: injection
            .choice("action", &INJECTION_ACTIONS, errors)
            .unwrap_or(defaults.action),
        paranoia: defaults.paranoia,
        threshold: score(&mut injection, "threshold", errors).unwrap_or(defaults.threshold),
        tool_threshold: score(&mut injection, "tool_threshold", errors)
            .unwrap_or(defaults.tool_threshold),
        scan_system: injection
            .boolean("scan_system", errors)
            .unwrap_or(defaults.scan_system),
        learned: injection
            .boolean("learned", errors)
            .unwrap_or(defaults.learned),
        ..defaults
    };
    if let Some(level) = injection.count("paranoia", errors) {
        match u8::try_from(level) {
            Ok(level @ 1..=4) => settings.paranoia = level,
            _ => errors.push(
                &injection.path_of("paranoia"),
                PolicyErrorKind::Invalid(format!("{level} is not a paranoia level; use 1 to 4")),
            ),
        }
    }
    for (i, id) in injection
        .strings("exclude_rules", errors)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if !settings.exclude(id) {
            errors.push(
                &format!("{}[{i}]", injection.path_of("exclude_rules")),
                PolicyErrorKind::Invalid(format!("{id:?} is not a rule of the injection rule set")),
            );
        }
    }
    for phrase in injection
        .strings("allow_phrases", errors)
        .unwrap_or_default()
    {
        settings.allow_phrase(&phrase);
    }
    injection.finish(errors);
    Some(settings)
}

/// A positive anomaly-score threshold.
fn score(fields: &mut Fields<'_>, name: &'static str, errors: &mut Errors) -> Option<u32> {
    let value = fields.count(name, errors)?;
    match u32::try_from(value) {
        Ok(value) if value > 0 => Some(value),
        _ => {
            errors.push(
                &fields.path_of(name),
                PolicyErrorKind::Invalid(format!("{value} is not a threshold; use 1 or more")),
            );
            None
        }
    }
}

pub(super) fn read_system_prompt(
    fields: &mut Fields<'_>,
    format: Option<ApiFormat>,
    errors: &mut Errors,
) -> Option<SystemPrompt> {
    let value: &Value = fields.value("system_prompt")?;
    let path = fields.path_of("system_prompt");
    let mut system = Fields::open(value, &path, errors)?;
    let pinned = system.string("pinned", errors).map(str::to_string);
    let run = system
        .count("leak_run_words", errors)
        .map_or(DEFAULT_RUN_WORDS, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        });
    if run < MIN_RUN_WORDS {
        errors.push(
            &system.path_of("leak_run_words"),
            PolicyErrorKind::Invalid(format!(
                "{run} words is ordinary phrasing; use {MIN_RUN_WORDS} or more"
            )),
        );
    }
    let client = system
        .choice("client_messages", &CLIENT_SYSTEM, errors)
        .unwrap_or(ClientSystem::Reject);
    let (canary, random_canary) = match system.value("canary") {
        Some(Value::Bool(random)) => (None, *random),
        Some(_) => (system.string("canary", errors).map(str::to_string), false),
        None => (None, false),
    };
    if random_canary && pinned.is_none() {
        errors.push(
            &system.path_of("canary"),
            PolicyErrorKind::Invalid(
                "a canary goes into a pinned prompt: set \"pinned\" too".into(),
            ),
        );
    }
    if let Some(canary) = &canary {
        if canary.trim().len() < 8 {
            errors.push(
                &system.path_of("canary"),
                PolicyErrorKind::Invalid(
                    "a canary needs at least 8 characters to be unguessable".into(),
                ),
            );
        }
        if pinned.is_none() {
            errors.push(
                &system.path_of("canary"),
                PolicyErrorKind::Invalid(
                    "a canary goes into a pinned prompt: set \"pinned\" too".into(),
                ),
            );
        }
    }
    system.finish(errors);
    match format {
        Some(ApiFormat::OpenAiChat | ApiFormat::OpenAiResponses | ApiFormat::AnthropicMessages) => {}
        _ => errors.push(
            &path,
            PolicyErrorKind::Invalid(
                "a system-prompt boundary needs a chat format (openai_chat, openai_responses or anthropic_messages)".into(),
            ),
        ),
    }
    let fingerprint = pinned
        .as_deref()
        .and_then(|p| PromptFingerprint::new(p, run.max(MIN_RUN_WORDS)));
    Some(SystemPrompt {
        fingerprint,
        pinned,
        client,
        canary,
        random_canary,
    })
}
