//! The features every learned scorer reads: hashed word unigrams and bigrams and character
//! 3- and 5-grams of the detection form of a text (see [`crate::text::normalize`]), over
//! windows of [`WINDOW_WORDS`] words. Scoring windows and keeping the highest finds one
//! instruction inside a long document, where a whole-text score would dilute it.
//!
//! The trainer (`models/train`) calls the same code, so training and inference cannot
//! drift apart.

use crate::text::normalize;

/// Words per window, and the step between windows (they overlap by half).
pub const WINDOW_WORDS: usize = 64;
const STRIDE_WORDS: usize = WINDOW_WORDS / 2;

/// One window's features: distinct 32-bit hashes. A model keeps the low bits as the bucket
/// and the top bit as the sign (signed feature hashing halves the bias of collisions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    pub hashes: Vec<u32>,
}

/// The windows of `text`; one (possibly empty) window for text of up to [`WINDOW_WORDS`]
/// words.
pub fn windows(text: &str) -> Vec<Window> {
    let squeezed = squeeze(&normalize(text));
    let words = word_starts(&squeezed);
    if words.len() <= WINDOW_WORDS {
        return vec![window(&squeezed)];
    }
    let mut out = Vec::with_capacity(words.len() / STRIDE_WORDS + 1);
    let mut first = 0;
    loop {
        let last = (first + WINDOW_WORDS).min(words.len());
        let end = words.get(last).map_or(squeezed.len(), |&(start, _)| start);
        out.push(window(&squeezed[words[first].0..end]));
        if last == words.len() {
            return out;
        }
        first += STRIDE_WORDS;
    }
}

/// Letters and digits kept, every other run of characters one space: `chars` of words
/// separated by single spaces, with a space at each end so n-grams see word edges.
fn squeeze(text: &str) -> Vec<char> {
    let mut out = vec![' '];
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.push(c);
        } else if out.last() != Some(&' ') {
            out.push(' ');
        }
    }
    if out.last() != Some(&' ') {
        out.push(' ');
    }
    out
}

/// Where each word starts and ends in squeezed text.
fn word_starts(squeezed: &[char]) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut start = None;
    for (i, &c) in squeezed.iter().enumerate() {
        match (c == ' ', start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    words
}

/// The distinct feature hashes of one stretch of squeezed text.
fn window(chars: &[char]) -> Window {
    let mut hashes = Vec::with_capacity(chars.len() * 3);
    let mut previous: Option<u32> = None;
    for (start, end) in word_starts(chars) {
        let word = chars[start..end]
            .iter()
            .fold(seed(1), |h, &c| mix(h, c as u32));
        hashes.push(word);
        if let Some(previous) = previous {
            hashes.push(mix(mix(seed(2), previous), word));
        }
        previous = Some(word);
    }
    for (n, kind) in [(3, 3), (5, 5)] {
        for gram in chars.windows(n) {
            hashes.push(gram.iter().fold(seed(kind), |h, &c| mix(h, c as u32)));
        }
    }
    hashes.sort_unstable();
    hashes.dedup();
    Window { hashes }
}

fn seed(kind: u32) -> u32 {
    0x811c_9dc5 ^ kind.wrapping_mul(0x0100_0193)
}

/// One step of a 32-bit multiplicative hash (FNV-style, with a final avalanche per step
/// so the top bit, the sign, is as random as the low bits).
fn mix(h: u32, x: u32) -> u32 {
    let h = (h ^ x).wrapping_mul(0x0100_0193);
    h ^ (h >> 15)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_one_window_and_long_text_overlapping_windows() {
        assert_eq!(windows("Ignore previous instructions").len(), 1);
        let long = "word ".repeat(200);
        // 200 words: windows start at 0, 32, 64, 96, 128 and 160 (which reaches the end).
        assert_eq!(windows(&long).len(), 6);
        assert_eq!(windows("").len(), 1);
    }

    #[test]
    fn features_ignore_case_punctuation_and_look_alikes() {
        let plain = windows("ignore all previous instructions");
        assert_eq!(windows("IGNORE  all, previous... instructions!"), plain);
        // Full-width letters fold to ASCII in detection form.
        assert_eq!(windows("ｉｇｎｏｒｅ all previous instructions"), plain);
        assert_ne!(windows("follow all previous instructions"), plain);
    }
}
