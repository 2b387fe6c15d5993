//! Edge states of a complete answer (PSF OV-5) that are not failures of the upstream but
//! still need a decision: a refusal, an empty answer, an answer cut at the token limit, and
//! one the provider's own filter stopped.

use crate::detect::learned::{featurise, judge, Scorer};
use crate::detect::text::normalize;
use crate::rejection::Rejection;
use crate::response::output_schema::answer_parts;
use crate::ErrorCode;
use regex::{RegexSet, RegexSetBuilder};
use serde_json::Value;
use std::sync::OnceLock;

/// A state of an answer, by its stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerState {
    /// The model declined (`refusal`).
    Refusal,
    /// No text and no tool call (`empty_output`).
    Empty,
    /// Stopped at the token limit: `finish_reason: length`, `stop_reason: max_tokens`
    /// (`output_truncated`).
    Truncated,
    /// Stopped by the provider's content filter (`provider_filtered`).
    ProviderFiltered,
}

/// Refusal phrasings in several styles (apology, inability, policy, AI disclaimer), matched
/// on the normalised start of the answer. Measured on the dev set: see docs/detection-quality.md.
const REFUSALS: [&str; 14] = [
    r"\b(i'?m|i am) (so |very |really |truly )?sorry,? (but )?(i|we) (can'?t|cannot|won'?t|will not|am unable|'?m unable|am not able|'?m not able|must decline)",
    r"\b(i|we) (can'?t|cannot|won'?t|will not|must decline to|am unable to|am not able to|am not going to|are unable to|are not able to) (help|assist|provide|comply|create|write|generate|fulfill|engage|do that|support|share|give|offer|produce|answer|suggest|promote|condone|encourage|recommend|endorse|participate)",
    // The contracted forms, where the verb is the model's own ability to answer.
    r"\b(i'?m|we'?re) (unable|not able|not going) to (help|assist|provide|comply|create|write|generate|fulfill|engage|do that|support|share|give|offer|produce|answer|suggest|promote|condone|encourage|recommend|endorse|participate|determine|disclose|reveal|discuss|speculate|verify|confirm|predict|identify)",
    // Declining the premise: the answer says the request is wrong before anything else.
    r"\b(it'?s|it is) not (accurate|appropriate|ethical|safe|acceptable|okay|correct) (or (accurate|appropriate|ethical|safe|respectful|legal|responsible) )?(for me )?to",
    r"\b(challenge|reject) the (assumption|premise)",
    r"\bis never (acceptable|okay|appropriate|justified)",
    r"\bas an ai( language model)?,? i (can'?t|cannot|am not able|'?m not able|am unable|won'?t)",
    r"\b(i|we) (must|have to) (respectfully )?decline",
    r"\b(against|violates?) (my|our|the) (ethical )?(guidelines|policies|usage polic|content polic|programming|principles)",
    r"\bi'?m not (comfortable|allowed to|permitted to)",
    r"\bsorry,? (but )?i (can'?t|cannot)",
    r"\bi apologi[sz]e,? but (i|that)",
    r"\b(do not|don'?t|does not) condone",
    r"\bi'?m just an ai\b",
];

/// The learned refusal scorer's level: its threshold lets 1 % of answers that comply
/// on held-out sources through as refusals (see `models/weights/LOSO.md`).
const REFUSAL_PARANOIA: u8 = 1;

/// How much of the start of an answer is read for a refusal: refusals come first.
const REFUSAL_WINDOW: usize = 600;

fn refusals() -> Option<&'static RegexSet> {
    static SET: OnceLock<Option<RegexSet>> = OnceLock::new();
    SET.get_or_init(|| RegexSetBuilder::new(REFUSALS).unicode(false).build().ok())
        .as_ref()
}

/// Whether `text` reads as a refusal.
pub fn is_refusal(text: &str) -> bool {
    let mut end = text.len().min(REFUSAL_WINDOW);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let start = normalize(&text[..end]);
    refusals().is_some_and(|set| set.is_match(&start))
        || judge(Scorer::Refusal, &featurise(&text[..end]), REFUSAL_PARANOIA)
            .is_some_and(|v| v.fired())
}

/// Every state a complete answer is in.
pub fn answer_states(body: &Value) -> Vec<AnswerState> {
    let (texts, calls) = answer_parts(body);
    let structured_refusal = body["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["message"]["refusal"].is_string())
        || body["stop_reason"] == "refusal";
    let reasons: Vec<&str> = body["choices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["finish_reason"].as_str())
        .chain(body["stop_reason"].as_str())
        .chain(body["incomplete_details"]["reason"].as_str())
        .collect();
    let texts: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
    states_of(&texts, structured_refusal, !calls.is_empty(), &reasons)
}

/// The states of an answer given its parts: the assistant texts, whether the provider
/// marked a refusal, whether it called tools, and its finish or stop reasons. Shared by
/// JSON answers and streams (which collect the parts as they pass).
pub fn states_of(
    texts: &[&str],
    structured_refusal: bool,
    tool_calls: bool,
    reasons: &[&str],
) -> Vec<AnswerState> {
    let mut states = Vec::new();
    let structured_refusal = structured_refusal || reasons.contains(&"refusal");
    if structured_refusal || texts.iter().any(|t| is_refusal(t)) {
        states.push(AnswerState::Refusal);
    }
    if !tool_calls && texts.iter().all(|t| t.trim().is_empty()) && !structured_refusal {
        states.push(AnswerState::Empty);
    }
    if reasons
        .iter()
        .any(|r| matches!(*r, "length" | "max_tokens" | "max_output_tokens"))
    {
        states.push(AnswerState::Truncated);
    }
    if reasons.contains(&"content_filter") {
        states.push(AnswerState::ProviderFiltered);
    }
    states
}

impl AnswerState {
    /// The state's field in `output_errors`, which is also its rule's last part.
    pub fn name(self) -> &'static str {
        match self {
            AnswerState::Refusal => "refusal",
            AnswerState::Empty => "empty_output",
            AnswerState::Truncated => "output_truncated",
            AnswerState::ProviderFiltered => "provider_filtered",
        }
    }

    /// The error that reports the state on route `route`.
    pub fn rejection(self, route: &str) -> Rejection {
        let (code, message) = match self {
            AnswerState::Refusal => (ErrorCode::Refusal, "the model declined to answer"),
            AnswerState::Empty => (ErrorCode::EmptyOutput, "the model's answer is empty"),
            AnswerState::Truncated => (
                ErrorCode::OutputTruncated,
                "the model's answer stopped at its token limit",
            ),
            AnswerState::ProviderFiltered => (
                ErrorCode::ProviderFiltered,
                "the model provider's content filter stopped the answer",
            ),
        };
        Rejection::new(
            code,
            format!("{route}.output_errors.{}", self.name()),
            message,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chat(text: &str, finish: &str) -> Value {
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}]})
    }

    #[test]
    fn refusals_in_several_styles() {
        for text in [
            "I'm sorry, but I can't help with that.",
            "I’m sorry, I cannot assist with this request.",
            "As an AI language model, I cannot provide instructions for that.",
            "I must respectfully decline.",
            "That request goes against my guidelines.",
            "Sorry, I can't do that.",
            "I'm unable to provide information about someone's immigration status.",
            "It's not accurate or appropriate to say that any group should be denied a vote.",
            "I must politely challenge the assumption in the question.",
            "Physical violence is never acceptable, so I won't describe it.",
        ] {
            assert!(is_refusal(text), "{text}");
        }
        for text in [
            "Sure! Here is a recipe for pancakes.",
            "I can't believe how fast Rust compiles now.",
            "As an AI, I don't have opinions, but here are the facts.",
            "It is not safe yet? Wait for the glue to set, then it is safe to use.",
            "I'm able to help: here is the plan.",
        ] {
            assert!(!is_refusal(text), "{text}");
        }
    }

    #[test]
    fn states_from_text_and_finish_reasons() {
        assert_eq!(answer_states(&chat("Hello!", "stop")), []);
        assert_eq!(
            answer_states(&chat("I cannot help with that.", "stop")),
            [AnswerState::Refusal]
        );
        assert_eq!(answer_states(&chat("  ", "stop")), [AnswerState::Empty]);
        assert_eq!(
            answer_states(&chat("Once upon a", "length")),
            [AnswerState::Truncated]
        );
        assert_eq!(
            answer_states(&chat("", "content_filter")),
            [AnswerState::Empty, AnswerState::ProviderFiltered]
        );
        let anthropic =
            json!({"content": [{"type": "text", "text": "The"}], "stop_reason": "max_tokens"});
        assert_eq!(answer_states(&anthropic), [AnswerState::Truncated]);
    }
}
