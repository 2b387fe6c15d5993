//! The rule set compiled once into one automaton: every pattern runs in a single pass over
//! the text (`regex::bytes::RegexSet`), whatever the number of rules.

use super::rules::{RuleDef, RULES};
use regex::bytes::{RegexSet, RegexSetBuilder};
use std::sync::OnceLock;

/// A set of rule indices into [`RULES`].
pub type Hits = u128;

/// The compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    set: RegexSet,
    /// The index in [`RULES`] of each pattern in `set`.
    rule_of: Vec<usize>,
}

impl RuleSet {
    /// The rule set, compiled on first use (at configure time, by the policy parser).
    pub fn get() -> Result<&'static RuleSet, String> {
        static COMPILED: OnceLock<Result<RuleSet, String>> = OnceLock::new();
        COMPILED
            .get_or_init(RuleSet::compile)
            .as_ref()
            .map_err(Clone::clone)
    }

    fn compile() -> Result<RuleSet, String> {
        const _: () = assert!(RULES.len() <= Hits::BITS as usize);
        let mut patterns = Vec::new();
        let mut rule_of = Vec::new();
        for (index, rule) in RULES.iter().enumerate() {
            if let Some(pattern) = rule.pattern {
                patterns.push(expand(pattern));
                rule_of.push(index);
            }
        }
        let set = RegexSetBuilder::new(&patterns)
            // Text is already lower case; ASCII classes keep the automaton small and fast.
            .unicode(false)
            .size_limit(8 << 20)
            .dfa_size_limit(4 << 20)
            .build()
            .map_err(|e| format!("the injection rule set does not compile: {e}"))?;
        Ok(RuleSet { set, rule_of })
    }

    /// The rules whose patterns match `text` (in detection form).
    pub fn matches(&self, text: &str) -> Hits {
        if text.is_empty() {
            return 0;
        }
        self.set
            .matches(text.as_bytes())
            .iter()
            .fold(0, |hits, i| hits | 1 << self.rule_of[i])
    }
}

/// A rule by its id.
pub fn rule_by_id(id: &str) -> Option<(usize, &'static RuleDef)> {
    RULES.iter().enumerate().find(|(_, rule)| rule.id == id)
}

/// A space in a rule pattern stands for any run of non-alphanumeric characters.
fn expand(pattern: &str) -> String {
    pattern.replace(' ', "[^a-z0-9]+")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_rules_compile() {
        assert!(RuleSet::get().is_ok());
    }

    #[test]
    fn spaces_match_punctuation_and_line_breaks() {
        let rules = RuleSet::get().unwrap();
        let (index, _) = rule_by_id("PI-1001").unwrap();
        assert_ne!(
            rules.matches("ignore -- all\nprevious instructions") & 1 << index,
            0
        );
        assert_eq!(
            rules.matches("ignorance of previous instructions") & 1 << index,
            0
        );
    }
}
