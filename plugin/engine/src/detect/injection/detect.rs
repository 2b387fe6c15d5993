//! Scoring a request: its segments are joined per scope (so a phrase split across messages
//! or content parts still matches), put in detection form, matched as written, leetspeak-
//! folded and decoded, and the distinct rules that match add up to the anomaly score.

use super::decode::{payloads, rot13};
use super::rules::{ENCODED_PAYLOAD, RULES, TAG_SMUGGLING};
use super::ruleset::{
    rule_by_id, Hits, RuleSet, ENCODED_HINT, LEET_HINT, REVERSED_HINT, ROT13_HINT, RULE_BITS,
};
use crate::detect::text::{fold_leetspeak, normalize, normalize_into};
use crate::llm::{Origin, Role, Segment};

/// What a route does when the score reaches its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InjectionAction {
    /// Reject with 403 `prompt_injection`.
    Block,
    /// Forward with an `x-psf-flags` header, and record it.
    Flag,
    /// Only record it.
    Log,
}

/// A route's detection settings, validated by the policy parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectionSettings {
    pub action: InjectionAction,
    /// Rules above this level (1–4) do not count.
    pub paranoia: u8,
    /// Anomaly score at which text the client typed is an injection.
    pub threshold: u32,
    /// Anomaly score at which tool results and retrieved documents are an injection
    /// (indirect injection).
    pub tool_threshold: u32,
    /// Rules that never count on this route, as a set of indices into [`RULES`].
    pub excluded: Hits,
    /// Phrases (in detection form) removed before matching.
    pub allow_phrases: Vec<String>,
    /// Also scan the client's system and developer messages.
    pub scan_system: bool,
    /// Also score with the learned scorers ([`crate::detect::learned`]), at `paranoia`'s threshold.
    pub learned: bool,
}

impl Default for InjectionSettings {
    fn default() -> Self {
        Self {
            action: InjectionAction::Block,
            paranoia: 1,
            threshold: 5,
            tool_threshold: 4,
            excluded: 0,
            allow_phrases: Vec::new(),
            scan_system: false,
            learned: true,
        }
    }
}

impl InjectionSettings {
    /// Excludes the rule with `id`; `false` if there is no such rule.
    pub fn exclude(&mut self, id: &str) -> bool {
        match rule_by_id(id) {
            Some((index, _)) => {
                self.excluded |= 1 << index;
                true
            }
            None => false,
        }
    }

    /// Adds a phrase that never counts (compared in detection form).
    pub fn allow_phrase(&mut self, phrase: &str) {
        let phrase = normalize(phrase);
        if !phrase.trim().is_empty() {
            self.allow_phrases.push(phrase);
        }
    }
}

/// Which text a detection is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// What the client wrote in the conversation, with tool definitions and tool-call
    /// arguments.
    Direct,
    /// Tool results and retrieved documents (indirect injection).
    Tool,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Direct => "direct",
            Scope::Tool => "tool",
        }
    }
}

/// A scope whose score reached its threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub scope: Scope,
    pub score: u32,
    pub threshold: u32,
    /// The ids of the rules that counted, in rule-set order.
    pub rules: Vec<&'static str>,
}

/// Scores `segments` under `settings`; the first scope over its threshold, if any.
pub fn detect(
    rules: &RuleSet,
    settings: &InjectionSettings,
    segments: &[Segment],
) -> Option<Detection> {
    let scopes = [
        (Scope::Direct, settings.threshold),
        (Scope::Tool, settings.tool_threshold),
    ];
    scopes.into_iter().find_map(|(scope, threshold)| {
        let in_scope = segments
            .iter()
            .filter(|s| scope_of(s, settings) == Some(scope));
        let hits = scan(rules, settings, in_scope);
        let counted: Vec<usize> = (0..RULES.len())
            .filter(|&i| hits & 1 << i != 0 && settings.excluded & 1 << i == 0)
            .filter(|&i| RULES[i].paranoia <= settings.paranoia)
            .collect();
        let score = counted.iter().map(|&i| RULES[i].score).sum();
        (score >= threshold && score > 0).then(|| Detection {
            scope,
            score,
            threshold,
            rules: counted.iter().map(|&i| RULES[i].id).collect(),
        })
    })
}

pub(super) fn scope_of(segment: &Segment, settings: &InjectionSettings) -> Option<Scope> {
    match (segment.origin, segment.role) {
        (Origin::Typed, Role::User | Role::Assistant) => Some(Scope::Direct),
        (Origin::Typed, Role::System | Role::Developer) => {
            settings.scan_system.then_some(Scope::Direct)
        }
        // Content from outside the conversation: where indirect injection arrives.
        (Origin::Typed, Role::Tool) | (Origin::ToolResult, _) => Some(Scope::Tool),
        // Tool definitions come from the application, and tool-call arguments from the
        // model's own turns; they are read like the rest of the conversation.
        (Origin::ToolCall | Origin::ToolDefinition, _) => Some(Scope::Direct),
    }
}

/// Every rule that matches the segments in any of their readings.
fn scan<'s>(
    rules: &RuleSet,
    settings: &InjectionSettings,
    segments: impl Iterator<Item = &'s Segment>,
) -> Hits {
    let mut document = String::new();
    let mut smuggled = String::new();
    let mut texts = Vec::new();
    for segment in segments {
        if !document.is_empty() {
            document.push('\n');
        }
        normalize_into(&segment.text, &mut document, &mut smuggled);
        texts.push(segment.text.as_str());
    }
    let read = |text: &str| rules.matches(&without_allowed(text, settings));
    let first = read(&document);
    let mut hits = first & RULE_BITS;
    if first & LEET_HINT != 0 {
        if let Some(folded) = fold_leetspeak(&document) {
            hits |= read(&folded) & RULE_BITS;
        }
    }
    let mut decoded = Vec::new();
    if first & ENCODED_HINT != 0 {
        // Decoders need the text as sent: base64 is case-sensitive.
        for text in texts {
            payloads(text, &mut decoded);
        }
    }
    let mut hidden_hits: Hits = 0;
    for payload in &decoded {
        hidden_hits |= read(&normalize(payload)) & RULE_BITS;
    }
    if first & ROT13_HINT != 0 {
        hidden_hits |= read(&rot13(&document)) & RULE_BITS;
    }
    if first & REVERSED_HINT != 0 {
        let reversed: String = document.chars().rev().collect();
        hidden_hits |= read(&reversed) & RULE_BITS;
    }
    if hidden_hits != 0 {
        hits |= hidden_hits | bit(ENCODED_PAYLOAD);
    }
    if smuggled.trim().len() >= 4 {
        hits |= (read(&normalize(&smuggled)) & RULE_BITS) | bit(TAG_SMUGGLING);
    }
    hits
}

fn without_allowed<'t>(text: &'t str, settings: &InjectionSettings) -> std::borrow::Cow<'t, str> {
    let mut text = std::borrow::Cow::Borrowed(text);
    for phrase in &settings.allow_phrases {
        if text.contains(phrase.as_str()) {
            text = std::borrow::Cow::Owned(text.replace(phrase.as_str(), " "));
        }
    }
    text
}

fn bit(id: &str) -> Hits {
    rule_by_id(id).map_or(0, |(index, _)| 1 << index)
}
