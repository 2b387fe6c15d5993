//! Scope control (PSF OV-3): a route declares the topics its answers should stay on and
//! the topics they must not touch, each as a keyword set. An answer that touches a
//! forbidden topic, or runs long without touching any allowed one, is out of scope.

use super::words::{canonical, WordMatcher};
use super::ContentAction;

/// Answers shorter than this are never judged off-topic: greetings and one-line replies
/// name no topic.
pub const DEFAULT_MIN_WORDS: usize = 30;

/// Text kept per answer to judge its topic; longer answers are judged on their start.
pub const MAX_SCOPE_BYTES: usize = 256 * 1024;

/// A route's topics, compiled.
#[derive(Debug, Clone)]
pub struct Scope {
    allowed: Option<Topics>,
    forbidden: Option<Topics>,
    /// For an answer that touches a forbidden topic.
    pub forbidden_action: ContentAction,
    /// For an answer on none of the allowed topics.
    pub off_topic_action: ContentAction,
    pub min_words: usize,
}

/// Named keyword sets in one matcher.
#[derive(Debug, Clone)]
struct Topics {
    matcher: WordMatcher,
    /// The topic of each keyword.
    topic_of: Vec<String>,
}

impl Topics {
    fn new(topics: &[(String, Vec<String>)]) -> Result<Option<Self>, String> {
        if topics.is_empty() {
            return Ok(None);
        }
        let mut keywords = Vec::new();
        let mut topic_of = Vec::new();
        for (topic, words) in topics {
            for word in words {
                keywords.push(word.as_str());
                topic_of.push(topic.clone());
            }
        }
        Ok(Some(Self {
            matcher: WordMatcher::new(&keywords)?,
            topic_of,
        }))
    }

    /// The first topic found in `normal` (canonical text).
    fn first_in(&self, normal: &str) -> Option<&str> {
        if !self.matcher.may_occur_in(normal) {
            return None;
        }
        self.matcher
            .find_in(normal)
            .next()
            .and_then(|i| self.topic_of.get(i))
            .map(String::as_str)
    }
}

/// Why an answer is out of scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OffScope {
    Forbidden(String),
    NoAllowedTopic,
}

impl OffScope {
    /// What the scope does about it.
    pub fn action(&self, scope: &Scope) -> ContentAction {
        match self {
            OffScope::Forbidden(_) => scope.forbidden_action,
            OffScope::NoAllowedTopic => scope.off_topic_action,
        }
    }
}

impl Scope {
    pub fn new(
        allowed: &[(String, Vec<String>)],
        forbidden: &[(String, Vec<String>)],
        (forbidden_action, off_topic_action): (ContentAction, ContentAction),
        min_words: usize,
    ) -> Result<Self, String> {
        Ok(Self {
            allowed: Topics::new(allowed)?,
            forbidden: Topics::new(forbidden)?,
            forbidden_action,
            off_topic_action,
            min_words,
        })
    }

    /// A forbidden topic in `text` (a piece of the answer).
    pub fn forbidden_in(&self, text: &str) -> Option<OffScope> {
        let forbidden = self.forbidden.as_ref()?;
        forbidden
            .first_in(&canonical(text))
            .map(|topic| OffScope::Forbidden(topic.to_string()))
    }

    /// Where a streamed text starts to end in the beginning of a forbidden keyword.
    pub fn hold_from(&self, text: &str) -> usize {
        self.forbidden
            .as_ref()
            .and_then(|f| f.matcher.partial_start(text))
            .unwrap_or(text.len())
    }

    /// Whether a forbidden keyword runs across byte `at` of `text`.
    pub fn spans(&self, text: &str, at: usize) -> bool {
        self.forbidden
            .as_ref()
            .is_some_and(|f| f.matcher.spans(text, at))
    }

    /// The whole answer (or its first [`MAX_SCOPE_BYTES`]): off scope when it is long
    /// enough and names no allowed topic.
    pub fn judge_answer(&self, answer: &str) -> Option<OffScope> {
        let allowed = self.allowed.as_ref()?;
        let normal = canonical(answer);
        let long_enough = normal.split(' ').filter(|w| !w.is_empty()).count() >= self.min_words;
        (long_enough && allowed.first_in(&normal).is_none()).then_some(OffScope::NoAllowedTopic)
    }

    /// Whether answers must be kept to judge them whole.
    pub fn needs_answer(&self) -> bool {
        self.allowed.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::new(
            &[(
                "billing".into(),
                vec!["invoice*".into(), "refund*".into(), "payment*".into()],
            )],
            &[("legal_advice".into(), vec!["sue".into(), "lawsuit*".into()])],
            (ContentAction::Block, ContentAction::Flag),
            8,
        )
        .unwrap()
    }

    #[test]
    fn forbidden_topics_and_answers_that_wander_off() {
        let s = scope();
        assert_eq!(
            s.forbidden_in("You could SUE them."),
            Some(OffScope::Forbidden("legal_advice".into()))
        );
        assert_eq!(s.forbidden_in("Your pursuit of a refund"), None);
        assert_eq!(
            s.judge_answer("Hi! How can I help?"),
            None,
            "too short to judge"
        );
        assert_eq!(
            s.judge_answer(
                "The best pasta recipe uses fresh tomatoes, garlic, basil and a good olive oil."
            ),
            Some(OffScope::NoAllowedTopic)
        );
        assert_eq!(
            s.judge_answer(
                "Your invoice from March was paid; the refund will arrive within five days."
            ),
            None
        );
        assert_eq!(s.hold_from("you could s"), "you could ".len());
    }
}
