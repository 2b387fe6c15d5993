//! Whole-word phrase matching on normalised text, shared by the category term lists, the
//! harmful-compliance cues and the scope topics. A phrase ending in `*` matches any word
//! that starts with it (`steal*`: steal, stealing, stealthy).

use crate::detect::text::{has_ascii_control, normalize};
use aho_corasick::{AhoCorasick, MatchKind};

/// A compiled set of phrases.
#[derive(Debug, Clone)]
pub struct WordMatcher {
    automaton: AhoCorasick,
    /// Whether each phrase is a word prefix.
    prefix: Vec<bool>,
    /// The longest phrase in bytes.
    longest: usize,
    /// The phrases sorted, to find one that starts with a tail by binary search.
    sorted: Vec<String>,
    /// The longest word of each phrase, matched on raw text (see [`Self::may_occur_in`]).
    keys: AhoCorasick,
}

impl WordMatcher {
    /// Blank phrases are skipped; the index of a match is that of its phrase in `phrases`,
    /// counting the skipped ones, so callers can keep parallel tables.
    pub fn new<S: AsRef<str>>(phrases: &[S]) -> Result<Self, String> {
        let mut normal = Vec::with_capacity(phrases.len());
        let mut prefix = Vec::with_capacity(phrases.len());
        for phrase in phrases {
            let raw = phrase.as_ref().trim();
            let (raw, is_prefix) = match raw.strip_suffix('*') {
                Some(stem) => (stem, true),
                None => (raw, false),
            };
            normal.push(canonical(raw).trim().to_string());
            prefix.push(is_prefix);
        }
        // Blank phrases become an impossible pattern so indices stay aligned.
        let patterns: Vec<&str> = normal
            .iter()
            .map(|p| {
                if p.is_empty() {
                    "\u{0}\u{0}"
                } else {
                    p.as_str()
                }
            })
            .collect();
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| format!("the term lists do not compile: {e}"))?;
        let longest = normal.iter().map(String::len).max().unwrap_or(0);
        let mut sorted: Vec<String> = normal.iter().filter(|p| !p.is_empty()).cloned().collect();
        sorted.sort_unstable();
        let keys: Vec<&str> = sorted
            .iter()
            .filter_map(|p| p.split(' ').max_by_key(|w| w.len()))
            .collect();
        // Leftmost matching keeps the automaton's literal prefilter (a standard-semantics
        // `is_match` walks every byte: 20x slower on prose).
        let keys = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .build(&keys)
            .map_err(|e| format!("the term lists do not compile: {e}"))?;
        Ok(Self {
            automaton,
            keys,
            sorted,
            prefix,
            longest,
        })
    }

    /// Whether a phrase may occur in `raw` (text not yet made [`canonical`]); `false` lets
    /// a caller skip normalising. Plain ASCII text only lower-cases and loses punctuation on
    /// the way, so a phrase can occur only where its longest word occurs in the lower-cased
    /// text; other text (look-alikes, hidden characters) always takes the full path.
    pub fn may_occur_in(&self, raw: &str) -> bool {
        let plain = raw.is_ascii() && !has_ascii_control(raw);
        !plain || self.keys.find(&raw.to_ascii_lowercase()).is_some()
    }

    /// The longest phrase in bytes, for stream hold-back.
    pub fn longest(&self) -> usize {
        self.longest
    }

    /// Indices of the phrases found in `normal` (text already made [`canonical`]), once
    /// per occurrence.
    pub fn find_in<'t>(&'t self, normal: &'t str) -> impl Iterator<Item = usize> + 't {
        let bytes = normal.as_bytes();
        let boundary = |b: Option<&u8>| b.is_none_or(|b| !b.is_ascii_alphanumeric());
        self.automaton.find_iter(normal).filter_map(move |hit| {
            let index = hit.pattern().as_usize();
            let before = hit.start().checked_sub(1).and_then(|i| bytes.get(i));
            let open_end = self.prefix.get(index).copied().unwrap_or(false);
            (boundary(before) && (open_end || boundary(bytes.get(hit.end())))).then_some(index)
        })
    }

    /// Whether a phrase in `text` runs across byte `at`: matches of the whole outnumber
    /// those of the two parts (offsets of normalised text do not map back, so counts do).
    pub fn spans(&self, text: &str, at: usize) -> bool {
        let (Some(before), Some(after)) = (text.get(..at), text.get(at..)) else {
            return true;
        };
        let count = |t: &str| self.find_in(&canonical(t)).count();
        count(text) != count(before) + count(after)
    }

    /// Whether `normal` ends in the beginning of some phrase (at a word start, within the
    /// longest phrase): where that tail begins, or `None`.
    pub fn partial_start(&self, text: &str) -> Option<usize> {
        let window = text.len().saturating_sub(self.longest);
        let bytes = text.as_bytes();
        let mut starts = (window..text.len()).filter(|&at| {
            text.is_char_boundary(at)
                && bytes.get(at).is_some_and(u8::is_ascii_alphanumeric)
                && (at == 0 || !bytes[at - 1].is_ascii_alphanumeric())
        });
        starts.find(|&at| {
            let tail = canonical(text.get(at..).unwrap_or_default());
            // The first phrase not below `tail` is the one that starts with it, if any does.
            let index = self.sorted.partition_point(|p| p.as_str() < tail.as_str());
            !tail.is_empty()
                && self
                    .sorted
                    .get(index)
                    .is_some_and(|phrase| phrase.starts_with(tail.as_str()))
        })
    }
}

/// Normalised, with every run of ASCII punctuation and white space made one space, so
/// phrases match however the words are separated.
pub fn canonical(text: &str) -> String {
    let normal = normalize(text);
    if normal.is_ascii() {
        return canonical_ascii(normal);
    }
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

/// [`canonical`] of text that is ASCII once normalised, in place, byte by byte.
fn canonical_ascii(normal: String) -> String {
    let mut bytes = normal.into_bytes();
    let mut len = 0;
    let mut gap = false;
    for at in 0..bytes.len() {
        let b = bytes[at];
        if !b.is_ascii_alphanumeric() {
            gap = true;
            continue;
        }
        if gap && len > 0 {
            bytes[len] = b' ';
            len += 1;
        }
        gap = false;
        bytes[len] = b;
        len += 1;
    }
    bytes.truncate(len);
    // Only ASCII bytes were kept, so this cannot fail.
    String::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_and_prefixes() {
        let m = WordMatcher::new(&["pipe bomb", "steal*", ""]).unwrap();
        let found = |t: &str| m.find_in(&canonical(t)).collect::<Vec<_>>();
        assert_eq!(found("a Pipe-Bomb"), vec![0]);
        assert!(found("pipe bombastic").is_empty());
        assert_eq!(found("Stealing it"), vec![1]);
        assert!(found("unstealable").is_empty());
        assert_eq!(m.partial_start("use a pip"), Some(6));
        assert_eq!(m.partial_start("use a wrench"), None);
        assert!(m.spans("a pipe bomb", 6));
        assert_eq!(canonical("  Pipe--BOMB!! now "), "pipe bomb now");
        assert_eq!(canonical("Pіpe  bomb"), "pipe bomb", "the look-alike path");
        assert!(m.may_occur_in("A PIPE-BOMB") && m.may_occur_in("Stealthy"));
        assert!(!m.may_occur_in("a plain sentence"));
        assert!(
            m.may_occur_in("pі\u{0}pe"),
            "not plain: the full path decides"
        );
        assert!(!m.spans("a pipe. Then a bomb", 7));
    }
}
