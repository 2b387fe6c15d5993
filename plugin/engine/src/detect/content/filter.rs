//! One Aho-Corasick automaton over every term of every enabled category. Terms and text are
//! both normalised (NFKC, lower case, look-alikes folded) and a hit must start and end on a
//! word boundary, so `Pipe-Bomb` matches `pipe bomb` and `skill yourself` does not match
//! `kill yourself`.

use super::compliance::{ComplianceScorer, COMPLIANCE_CATEGORY};
use super::words::{canonical, WordMatcher};
use crate::detect::learned::{featurise, judge, Scorer};
use crate::detect::text::normalize;
use regex::Regex;

/// What a category does when it reaches its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentAction {
    Block,
    Flag,
}

/// A category as the policy enables it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryRule {
    pub name: String,
    pub action: ContentAction,
    /// Distinct hits needed in one text before the action applies (for the scored
    /// `harmful_compliance` category: points, see [`super::ComplianceScorer`]).
    pub threshold: usize,
    /// For `harmful_compliance`: the paranoia level (1–4) of the learned harm scorer
    /// ([`crate::detect::learned::Scorer::Harm`]) that judges each paragraph beside the cues;
    /// `None` when it is off, and for every other category.
    pub learned: Option<u8>,
}

/// A category that reached its threshold in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentHit {
    pub category: String,
    pub action: ContentAction,
    pub hits: usize,
}

/// The compiled filter of a route.
#[derive(Debug, Clone)]
pub struct ContentFilter {
    terms: WordMatcher,
    /// Category index of each term.
    term_category: Vec<usize>,
    categories: Vec<CategoryRule>,
    /// Normalised phrases that are never a hit (and mask the terms inside them).
    allowed: Vec<String>,
    /// The scored category, when enabled: its rule's index in `categories`.
    compliance: Option<(usize, ComplianceScorer)>,
    /// Regex rules on the normalised text, with the category index of each.
    patterns: Vec<(usize, Regex)>,
}

impl ContentFilter {
    /// `terms` and `patterns` give each rule's terms and regex rules, in the order of
    /// `rules`; a rule named [`COMPLIANCE_CATEGORY`] is scored by cues instead.
    pub fn new(
        rules: Vec<CategoryRule>,
        terms: &[Vec<String>],
        patterns: Vec<Vec<Regex>>,
        allowed: &[String],
    ) -> Result<Self, String> {
        let mut phrases = Vec::new();
        let mut term_category = Vec::new();
        for (index, list) in terms.iter().enumerate() {
            for term in list {
                phrases.push(term.as_str());
                term_category.push(index);
            }
        }
        let compliance = match rules.iter().position(|r| r.name == COMPLIANCE_CATEGORY) {
            Some(index) => Some((index, ComplianceScorer::new()?)),
            None => None,
        };
        Ok(Self {
            terms: WordMatcher::new(&phrases)?,
            term_category,
            categories: rules,
            allowed: allowed
                .iter()
                .map(|a| canonical(a).trim().to_string())
                .collect(),
            compliance,
            patterns: patterns
                .into_iter()
                .enumerate()
                .flat_map(|(index, list)| list.into_iter().map(move |re| (index, re)))
                .collect(),
        })
    }

    /// Where a streamed text starts to end in the beginning of a term (`text.len()` when it
    /// does not): that tail waits for more, so a client never reads part of a term.
    pub fn partial_term_start(&self, text: &str) -> usize {
        self.terms.partial_start(text).unwrap_or(text.len())
    }

    /// Whether a term runs across byte `at` of `text`.
    pub fn term_spans(&self, text: &str, at: usize) -> bool {
        self.terms.spans(text, at)
    }

    /// Whether the route scores answers for harmful compliance (which needs whole
    /// paragraphs, see [`Self::compliance`]).
    pub fn scores_compliance(&self) -> bool {
        self.compliance.is_some()
    }

    /// Term categories that reached their threshold in `text`.
    pub fn scan_terms(&self, text: &str) -> Vec<ContentHit> {
        // (category, rule): terms by index, regex rules after them.
        let mut found: Vec<(usize, usize)> = Vec::new();
        if self.terms.may_occur_in(text) {
            let mut normal = canonical(text);
            for allowed in &self.allowed {
                if !allowed.is_empty() && normal.contains(allowed.as_str()) {
                    normal = normal.replace(allowed.as_str(), " ");
                }
            }
            for term in self.terms.find_in(&normal) {
                let Some(&category) = self.term_category.get(term) else {
                    continue;
                };
                if !found.contains(&(category, term)) {
                    found.push((category, term));
                }
            }
        }
        if !self.patterns.is_empty() {
            let normal = normalize(text);
            for (index, (category, regex)) in self.patterns.iter().enumerate() {
                // A match inside an allowed phrase, or holding one, as whole words.
                let allowed = |hit: &str| {
                    let hit = format!(" {} ", canonical(hit));
                    self.allowed.iter().any(|a| {
                        let a = format!(" {a} ");
                        !a.trim().is_empty()
                            && (a.contains(hit.as_str()) || hit.contains(a.as_str()))
                    })
                };
                if regex.find_iter(&normal).any(|m| !allowed(m.as_str())) {
                    found.push((*category, self.term_category.len() + index));
                }
            }
        }
        self.categories
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| {
                let hits = found.iter().filter(|(c, _)| *c == index).count();
                (hits > 0 && hits >= rule.threshold.max(1)).then(|| ContentHit {
                    category: rule.name.clone(),
                    action: rule.action,
                    hits,
                })
            })
            .collect()
    }

    /// The scored category's hit when `text` reaches its threshold in some paragraph, by
    /// its cues or by the learned harm scorer.
    pub fn compliance(&self, text: &str) -> Option<ContentHit> {
        self.compliance_by(text, true)
    }

    /// The same judged by the cues alone: the rule baseline the learned scorer is
    /// measured against.
    pub fn compliance_cues(&self, text: &str) -> Option<ContentHit> {
        self.compliance_by(text, false)
    }

    fn compliance_by(&self, text: &str, learned: bool) -> Option<ContentHit> {
        let (index, scorer) = self.compliance.as_ref()?;
        let rule = self.categories.get(*index)?;
        let points = scorer.score(text);
        let learned = learned
            && rule.learned.is_some_and(|level| {
                judge(Scorer::Harm, &featurise(text), level).is_some_and(|v| v.fired())
            });
        (points >= rule.threshold.max(1) || learned).then(|| ContentHit {
            category: rule.name.clone(),
            action: rule.action,
            hits: points,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(threshold: usize) -> ContentFilter {
        ContentFilter::new(
            vec![CategoryRule {
                name: "weapons".into(),
                action: ContentAction::Block,
                threshold,
                learned: None,
            }],
            &[vec!["pipe bomb".into(), "ghost gun".into()]],
            vec![vec![crate::policy::user_regex::compile(
                r"\b\d+ ?g of (?:tnt|c-?4)\b",
            )
            .unwrap()]],
            &["pipe bomb squad".into(), "10 g of tnt".into()],
        )
        .unwrap()
    }

    #[test]
    fn whole_words_on_normalised_text() {
        let f = filter(1);
        assert_eq!(f.scan_terms("How to build a Pipe  Bomb at home")[0].hits, 1);
        assert_eq!(
            f.scan_terms("a PІPE BOMB")[0].category,
            "weapons",
            "Cyrillic І folded"
        );
        assert!(f.scan_terms("the pipe bombastic style").is_empty());
        assert!(
            f.scan_terms("call the pipe bomb squad").is_empty(),
            "allowed phrase"
        );
    }

    #[test]
    fn a_stream_holds_only_the_start_of_a_term() {
        let f = filter(1);
        let text = "we used a pipe";
        assert_eq!(&text[f.partial_term_start(text)..], "pipe");
        assert_eq!(f.partial_term_start("we used a wrench"), 16);
        assert_eq!(&"a ghost g"[f.partial_term_start("a ghost g")..], "ghost g");
    }

    #[test]
    fn regex_rules_count_toward_their_category_and_respect_allowed_phrases() {
        let f = filter(2);
        assert_eq!(f.scan_terms("a pipe bomb with 200 g of TNT")[0].hits, 2);
        assert!(f.scan_terms("a pipe bomb with 10 g of tnt").is_empty());
        assert!(
            f.scan_terms("200g of TNT").is_empty(),
            "one hit under a threshold of 2"
        );
    }

    #[test]
    fn thresholds_count_distinct_terms() {
        let f = filter(2);
        assert!(f.scan_terms("pipe bomb, pipe bomb").is_empty());
        assert_eq!(f.scan_terms("a pipe bomb and a ghost gun")[0].hits, 2);
    }
}
