//! Verbatim runs of the pinned system prompt in model output (PSF IG-5). A canary catches a
//! model that repeats the whole prompt; this catches one that repeats a long stretch of it
//! (paraphrases are not caught). The prompt's word n-grams are hashed once when the policy
//! loads; the answer's words are hashed as they stream, and an n-gram of the answer that is
//! also one of the prompt's is a run of `n` words copied from it.

use std::collections::{HashSet, VecDeque};

/// Runs shorter than this are common phrasing, not a leak.
pub const MIN_RUN_WORDS: usize = 5;

/// The default run length that counts as a leak.
pub const DEFAULT_RUN_WORDS: usize = 12;

/// A pinned prompt's word n-grams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptFingerprint {
    run: usize,
    grams: HashSet<u64>,
}

impl PromptFingerprint {
    /// `None` when the prompt has fewer than `run` words (it cannot leak a run of them).
    pub fn new(prompt: &str, run: usize) -> Option<Self> {
        let words: Vec<u64> = words(prompt).collect();
        if run < MIN_RUN_WORDS || words.len() < run {
            return None;
        }
        let grams = words.windows(run).map(gram).collect();
        Some(Self { run, grams })
    }

    /// The run length, in words.
    pub fn run(&self) -> usize {
        self.run
    }
}

/// The answer's last words, as they stream.
#[derive(Debug, Default)]
pub struct LeakWatch {
    window: VecDeque<u64>,
    /// The word being written (it may continue in the next piece).
    partial: String,
}

impl LeakWatch {
    /// Adds a piece of the answer: whether the answer now holds a run of the prompt.
    pub fn push(&mut self, prompt: &PromptFingerprint, text: &str) -> bool {
        let mut leaked = false;
        for c in text.chars() {
            if c.is_alphanumeric() {
                self.partial.extend(c.to_lowercase());
            } else if !self.partial.is_empty() {
                leaked |= self.word_done(prompt);
            }
        }
        leaked
    }

    /// The answer is over: its last word counts too.
    pub fn finish(&mut self, prompt: &PromptFingerprint) -> bool {
        !self.partial.is_empty() && self.word_done(prompt)
    }

    fn word_done(&mut self, prompt: &PromptFingerprint) -> bool {
        let word = hash(self.partial.as_bytes());
        self.partial.clear();
        self.window.push_back(word);
        while self.window.len() > prompt.run {
            self.window.pop_front();
        }
        self.window.len() == prompt.run && {
            let (a, b) = self.window.as_slices();
            prompt.grams.contains(&gram(&[a, b].concat()))
        }
    }
}

/// Each word (letters and digits, lower-cased) hashed.
fn words(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| hash(w.to_lowercase().as_bytes()))
}

fn gram(words: &[u64]) -> u64 {
    words
        .iter()
        .fold(OFFSET, |h, w| hash_into(h, &w.to_le_bytes()))
}

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a: small, and enough for a set of a few thousand n-grams.
fn hash(bytes: &[u8]) -> u64 {
    hash_into(OFFSET, bytes)
}

fn hash_into(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROMPT: &str = "You are the support assistant of Acme Bank. Never discuss \
        interest rates before the customer has confirmed their identity with the code we sent.";

    #[test]
    fn a_copied_run_is_found_across_pieces_and_case() {
        let prompt = PromptFingerprint::new(PROMPT, 8).unwrap();
        let answer = "Sure! My instructions say: NEVER discuss interest rates before the \
                      customer has confirmed their identity.";
        let mut watch = LeakWatch::default();
        let found = answer
            .as_bytes()
            .chunks(5)
            .any(|piece| watch.push(&prompt, std::str::from_utf8(piece).unwrap()));
        assert!(found);
    }

    #[test]
    fn shared_words_without_a_long_run_are_not_a_leak() {
        let prompt = PromptFingerprint::new(PROMPT, 8).unwrap();
        let mut watch = LeakWatch::default();
        let answer = "As the support assistant, I can discuss interest rates once the customer \
                      has confirmed their identity.";
        assert!(!watch.push(&prompt, answer));
        assert!(!watch.finish(&prompt));
        assert!(PromptFingerprint::new("Be brief.", 8).is_none());
    }
}
