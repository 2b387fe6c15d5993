//! One Aho-Corasick automaton over every term of every enabled category. Terms and text are
//! both normalised (NFKC, lower case, look-alikes folded) and a hit must start and end on a
//! word boundary, so `Pipe-Bomb` matches `pipe bomb` and `skill yourself` does not match
//! `kill yourself`.

use crate::text::normalize;
use aho_corasick::{AhoCorasick, MatchKind};

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
    /// Distinct hits needed in one text before the action applies.
    pub threshold: usize,
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
    automaton: AhoCorasick,
    /// Category index of each pattern.
    pattern_category: Vec<usize>,
    categories: Vec<CategoryRule>,
    /// Normalised phrases that are never a hit (and mask the terms inside them).
    allowed: Vec<String>,
    /// The normalised terms, to tell whether a streamed text ends in the start of one.
    terms: Vec<String>,
    /// The longest term in bytes, for stream hold-back.
    longest: usize,
}

impl ContentFilter {
    /// `terms` gives each rule's terms, in the order of `rules`.
    pub fn new(
        rules: Vec<CategoryRule>,
        terms: &[Vec<String>],
        allowed: &[String],
    ) -> Result<Self, String> {
        let mut patterns = Vec::new();
        let mut pattern_category = Vec::new();
        for (index, list) in terms.iter().enumerate() {
            for term in list {
                let term = canonical(term);
                let term = term.trim();
                if !term.is_empty() {
                    patterns.push(term.to_string());
                    pattern_category.push(index);
                }
            }
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| format!("the term lists do not compile: {e}"))?;
        let longest = patterns.iter().map(String::len).max().unwrap_or(0);
        Ok(Self {
            automaton,
            pattern_category,
            categories: rules,
            allowed: allowed
                .iter()
                .map(|a| canonical(a).trim().to_string())
                .collect(),
            terms: patterns,
            longest,
        })
    }

    /// Where a streamed text starts to end in the beginning of a term (`text.len()` when it
    /// does not): that tail waits for more, so a client never reads part of a term.
    pub fn partial_term_start(&self, text: &str) -> usize {
        let window = text.len().saturating_sub(self.longest);
        let bytes = text.as_bytes();
        let word_starts = (window..text.len()).filter(|&at| {
            text.is_char_boundary(at)
                && bytes.get(at).is_some_and(u8::is_ascii_alphanumeric)
                && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
        });
        for at in word_starts {
            let tail = canonical(text.get(at..).unwrap_or_default());
            if !tail.is_empty()
                && self
                    .terms
                    .iter()
                    .any(|term| term.starts_with(tail.as_str()))
            {
                return at;
            }
        }
        text.len()
    }

    /// Categories that reached their threshold in `text`.
    pub fn scan(&self, text: &str) -> Vec<ContentHit> {
        let mut normal = canonical(text);
        for allowed in &self.allowed {
            if !allowed.is_empty() && normal.contains(allowed.as_str()) {
                normal = normal.replace(allowed.as_str(), " ");
            }
        }
        let bytes = normal.as_bytes();
        let mut found: Vec<(usize, usize)> = Vec::new();
        for hit in self.automaton.find_iter(&normal) {
            let before = hit.start().checked_sub(1).and_then(|i| bytes.get(i));
            let after = bytes.get(hit.end());
            let boundary = |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
            if !boundary(before) || !boundary(after) {
                continue;
            }
            let Some(category) = self.pattern_category.get(hit.pattern().as_usize()) else {
                continue;
            };
            let pattern = hit.pattern().as_usize();
            if !found.contains(&(*category, pattern)) {
                found.push((*category, pattern));
            }
        }
        self.categories
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| {
                let hits = found.iter().filter(|(c, _)| *c == index).count();
                (hits >= rule.threshold.max(1)).then(|| ContentHit {
                    category: rule.name.clone(),
                    action: rule.action,
                    hits,
                })
            })
            .collect()
    }
}

/// Normalised, with every run of ASCII punctuation and white space made one space, so
/// terms match however the words are separated.
fn canonical(text: &str) -> String {
    let normal = normalize(text);
    let mut out = String::with_capacity(normal.len());
    let mut gap = false;
    for c in normal.chars() {
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        out.push(c);
    }
    out
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
            }],
            &[vec!["pipe bomb".into(), "ghost gun".into()]],
            &["pipe bomb squad".into()],
        )
        .unwrap()
    }

    #[test]
    fn whole_words_on_normalised_text() {
        let f = filter(1);
        assert_eq!(f.scan("How to build a Pipe  Bomb at home")[0].hits, 1);
        assert_eq!(
            f.scan("a PІPE BOMB")[0].category,
            "weapons",
            "Cyrillic І folded"
        );
        assert!(f.scan("the pipe bombastic style").is_empty());
        assert!(
            f.scan("call the pipe bomb squad").is_empty(),
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
    fn thresholds_count_distinct_terms() {
        let f = filter(2);
        assert!(f.scan("pipe bomb, pipe bomb").is_empty());
        assert_eq!(f.scan("a pipe bomb and a ghost gun")[0].hits, 2);
    }
}
