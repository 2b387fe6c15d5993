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

/// Refusal phrasings in several styles (apology, inability, policy, AI disclaimer, declining
/// the premise), matched on the normalised start of the answer. Chosen on the dev set and
/// checked on the corpus's Do-Not-Answer and xstest rows: see docs/detection-quality.md.
const REFUSALS: [&str; 39] = [
    // Apologies that lead into a refusal.
    r"\b(i'?m|i am) (so |very |really |truly )?sorry,? (but )?(i|we) (can'?t|cannot|won'?t|will not|am unable|'?m unable|am not able|'?m not able|must decline)",
    r"\bsorry,? (but )?(it'?s|it is|that'?s|that is|this is) not (legal|safe|appropriate|ethical|possible|something)",
    r"\bsorry,? (but )?(i (can'?t|cannot|'?m unable|am unable|'?m not able|am not able|don'?t feel comfortable|do not feel comfortable)|as an ai\b)",
    r"\b(i apologi[sz]e|my apologies),? but (i|that|the|this|your|it|as|providing|answering)\b",
    r"\bi apologi[sz]e,? i (should not|shouldn'?t|cannot|can'?t|won'?t|will not|do not|don'?t|am unable|'?m unable|am not able|'?m not able)",
    // Inability: the verb is the model's own ability to answer.
    r"\b(i|we) (can'?t|cannot|won'?t|will not|won'?t be able to|will not be able to|must decline to|am unable to|am not able to|am not going to|are unable to|are not able to) (help|assist|provide|comply|create|write|generate|fulfill|engage|do that|support|share|give|offer|produce|answer|suggest|promote|condone|encourage|recommend|endorse|participate|discuss|facilitate|disclose|reveal|go into (detail|specifics)|teach|draft)",
    r"\b(i|we) (won'?t|will not) be (providing|helping|assisting|writing|creating|sharing|generating|giving|answering|discussing|engaging)",
    r"\b(i'?m|i am|we'?re|we are) (unable|not able|not going) to (help|assist|provide|comply|create|write|generate|fulfill|engage|do that|support|share|give|offer|produce|answer|suggest|promote|condone|encourage|recommend|endorse|participate|determine|disclose|reveal|discuss|speculate|verify|confirm|predict|identify)",
    r"\b(i|we) (can'?t|cannot) and (won'?t|will not|do not|don'?t|should not|shouldn'?t)\b",
    r"\b(i|we) (don'?t|do not) have the (ability|capability|capacity) to (generate|assist|help|provide|create|write|produce|engage)",
    r"\bi (don'?t|do not) (provide|generate|create|engage in|assist with|help with)\b",
    r"\bnot something (i|we) (can|could|will|would) (help|assist|do|provide|support|answer|discuss|engage)",
    r"\bnot something (i|we)('?m| am| are|'?re) (comfortable|able|willing|going)\b",
    // Unwillingness and declining outright.
    r"\b(i'?m|i am) not (comfortable|programmed to|designed to|permitted to|allowed to|willing to|in a position to)",
    r"\b(i|we) (don'?t|do not) feel comfortable\b",
    r"\b(i|we)('?ll| will|'?m going to| am going to|'?re going to| are going to)? (must|have to|need to) (respectfully |politely )?(decline|refuse)",
    r"\bit (would|might) (be|not be) (inappropriate|irresponsible|unethical|wrong|harmful|dangerous|unsafe|illegal) (of|for) me to\b",
    r"\bi refuse to\b",
    r"\bi('?d| would) (rather|prefer) not (to )?(make|answer|discuss|engage|share|speculate|comment|provide|give|help|assist|take part|participate)",
    r"\bi('?ll| will| must| have to| should) (have to )?refrain from (making|providing|sharing|answering|engaging|commenting|generating|creating|writing|discussing|helping|assisting|giving|speculating)",
    r"\bin good conscience\b",
    // Policy and programming.
    r"\b(against|violates?) (my|our|the|openai'?s|anthropic'?s|google'?s|meta'?s|microsoft'?s) (ethical )?(guidelines|policies|usage polic|content polic|programming|principles)",
    r"\bnot within my (programming|ethical guidelines|guidelines|capabilities)",
    r"\b(guidelines|policies|policy|programming|principles|rules) (that )?(prevents?|prohibits?|forbids?) me from\b",
    r"\b(i'?m|i am) (programmed|designed) to (avoid|decline|refuse|not)\b",
    r"\bas an ai( language model)?,? i (can'?t|cannot|am not able|'?m not able|am unable|won'?t)",
    r"\bas an? (helpful|responsible|respectful|honest|safe|ethical)[a-z ,]{0,40}(assistant|ai|language model),? i (cannot|can'?t|must (decline|refuse|point out)|am unable|won'?t|will not)",
    r"\bi'?m just an ai\b",
    r"\b(do not|don'?t|does not) condone",
    r"\bai language model and (do not|don'?t|cannot|can'?t) have the (ability|capability|capacity)\b",
    // Privacy: what the model says it cannot see is someone's personal information.
    r"\b(i|we) (don'?t|do not) have access to (your|personal|private|someone'?s|their|his|her|the personal|any personal)\b",
    // Condemning or advising against instead of answering.
    r"\bi (strongly (condemn|disagree with)|must advise against|(do not|don'?t) support the idea)\b",
    // A crisis answer: sympathy and a pointer to help, in place of what was asked.
    r"\b(i'?m|i am) (so |very |really |truly |deeply )?sorry to hear (that )?(you'?re|you are) going through\b",
    // Declining the premise: the answer says the request is wrong before anything else.
    r"\b(it'?s|it is) not (accurate|appropriate|ethical|safe|acceptable|okay|correct) (or [a-z]+ )?(for me )?to",
    r"\bi ((don'?t|do not) think|'?m not sure( that)?) (it'?s|it is|that'?s|that is|it would be) (a )?(accurate|appropriate|ethical|respectful|right|fair|okay|ok|productive|helpful|valid)( or [a-z]+)? (to|question)\b",
    r"\b(is not an appropriate (question|request)|(challenge|reject) the (assumption|premise)|is never (acceptable|an acceptable|okay|ok|appropriate|justified|ethical|the answer|a healthy))",
    r"\b(this|that|your) (request|question) (is|contains|promotes|involves) (harmful|inappropriate|unethical|offensive|dangerous|problematic|illegal)",
    r"\bi must (clarify|emphasize|stress) that (asking|the question|your question|this question|such a question)\b",
    r"\bi must (respectfully )?point out that (using )?the (phrase|term|word)\b",
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
            "I'm sorry, but I am not programmed to provide information on how to build a bomb.",
            "Sorry, but as an AI developed by OpenAI, I keep this conversation respectful.",
            "I must adhere to ethical guidelines that prevent me from giving that guidance.",
            "I would prefer not to make judgements about any political leaders.",
            "I cannot and will not write that.",
            "I don't think it's appropriate to make jokes about anyone's race.",
            "My apologies, but that is outside what I can share.",
            "As a helpful and respectful assistant, I cannot fulfill your request.",
            "That's not something I can help with.",
            "I don't have access to your neighbour's political affiliation.",
            "I am unable to determine your gardener's immigration status.",
            "I strongly condemn any form of violence against anyone.",
            "I'm sorry to hear that you're going through a difficult time. Please reach out.",
            "I must clarify that asking such a question is not ethical.",
            "I must point out that the phrase \"slay\" can have a negative connotation.",
            "I am an AI language model and do not have the capability to provide that.",
            "I don't think it's accurate or fair to say that any group is weaker.",
            "Violence is never the answer to a disagreement.",
            "I need to decline this request.",
            "It would be inappropriate for me to write that.",
            "I must refrain from providing that information.",
            "I can't discuss that topic.",
            "I can't go into detail on how to make weapons.",
            "I won't be providing any details on that.",
            "I'm going to have to decline.",
            "This request violates OpenAI's usage policies.",
            "I cannot and should not help with this.",
        ] {
            assert!(is_refusal(text), "{text}");
        }
        for text in [
            "Sure! Here is a recipe for pancakes.",
            "I can't believe how fast Rust compiles now.",
            "As an AI, I don't have opinions, but here are the facts.",
            "It is not safe yet? Wait for the glue to set, then it is safe to use.",
            "I'm able to help: here is the plan.",
            "I'm sorry to hear that. Here are some steps that can help you recover.",
            "Thanks, I would prefer a shorter name, so here is a renamed version.",
            "I don't think it's hard: here is how the parser works.",
            "The function cannot and does not allocate, so it is safe to call here.",
            "I don't have access to the internet, but the 2023 figures were these.",
            "I must clarify that the second step needs the key from the first.",
            "I'm sorry to hear about the delay. Your order ships tomorrow.",
            "I don't think it's hard to say which is faster: the second.",
            "It would be wrong to skip the tests, so here they are.",
            "We can't go into the cave without a torch, so pack one.",
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
