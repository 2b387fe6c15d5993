//! The features every learned scorer reads: hashed word unigrams and bigrams and character
//! 3- and 5-grams of the detection form of a text (see [`crate::detect::text::normalize`]), over
//! windows of [`WINDOW_WORDS`] words. Scoring windows and keeping the highest finds one
//! instruction inside a long document, where a whole-text score would dilute it.
//!
//! The trainer (`models/train`) calls the same code, so training and inference cannot
//! drift apart.

use crate::detect::text::normalize;

/// Words per window, and the step between windows (they overlap by half).
pub const WINDOW_WORDS: usize = 64;
const STRIDE_WORDS: usize = WINDOW_WORDS / 2;

/// One window's features: distinct 32-bit hashes (presence, not counts: a long document
/// repeating one word must not outweigh the sentence that carries an instruction). A model keeps the low bits as the bucket and the top bit as the sign
/// (signed feature hashing halves the bias of collisions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Window {
    pub hashes: Vec<u32>,
}

/// The windows of `text`; one (possibly empty) window for text of up to [`WINDOW_WORDS`]
/// words. Longer text is featurised once, in chunks of half a window, and each window is
/// two neighbouring chunks: every character is hashed once, and only the few n-grams that
/// straddle a chunk edge are left out.
pub fn windows(text: &str) -> Vec<Window> {
    let squeezed = squeeze(&normalize(text));
    let words = word_starts(&squeezed);
    let mut seen = Seen::default();
    if words.len() <= WINDOW_WORDS {
        let mut only = window(&squeezed);
        seen.dedup(&mut only.hashes);
        return vec![only];
    }
    let chunks: Vec<Vec<u32>> = words
        .chunks(STRIDE_WORDS)
        .map(|chunk| {
            // With the spaces around it, so n-grams see the first and last word's edges.
            let start = chunk[0].0 - 1;
            let end = chunk[chunk.len() - 1].1 + 1;
            window(&squeezed[start..end]).hashes
        })
        .collect();
    chunks
        .windows(2)
        .map(|pair| {
            let mut hashes = [pair[0].as_slice(), pair[1].as_slice()].concat();
            seen.dedup(&mut hashes);
            Window { hashes }
        })
        .collect()
}

/// A 2^16-bit set for dropping repeated hashes in linear time (sorting each window cost
/// five times the hashing). Hashes that share their folded 16 bits count as one: about
/// one feature in a hundred in a full window, the same in training and inference.
struct Seen {
    bits: Vec<u64>,
}

impl Default for Seen {
    fn default() -> Self {
        Self {
            bits: vec![0; 1 << 10],
        }
    }
}

impl Seen {
    fn dedup(&mut self, hashes: &mut Vec<u32>) {
        let slot = |h: u32| ((h ^ (h >> 16)) & 0xffff) as usize;
        hashes.retain(|&h| {
            let (word, bit) = (slot(h) >> 6, 1u64 << (slot(h) & 63));
            let fresh = self.bits[word] & bit == 0;
            self.bits[word] |= bit;
            fresh
        });
        for &h in hashes.iter() {
            self.bits[slot(h) >> 6] = 0;
        }
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

/// The feature hashes of one stretch of squeezed text.
fn window(chars: &[char]) -> Window {
    let mut hashes = Vec::with_capacity(chars.len() * 2 + chars.len() / 4);
    each_feature(chars, |hash, _| hashes.push(hash));
    Window { hashes }
}

/// Where a feature comes from in squeezed text, so the trainer can name a bucket by the
/// n-grams behind it (`models/weights/<scorer>.features.tsv`) without a second featuriser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gram {
    Word(usize, usize),
    /// Two words: the first's start and the second's end.
    Bigram(usize, usize),
    Chars(usize, usize),
}

/// Calls `f` with every feature hash of `chars` and where it comes from.
fn each_feature(chars: &[char], mut f: impl FnMut(u32, Gram)) {
    let mut previous: Option<(u32, usize)> = None;
    for (start, end) in word_starts(chars) {
        let word = chars[start..end]
            .iter()
            .fold(seed(1), |h, &c| mix(h, c as u32));
        f(word, Gram::Word(start, end));
        if let Some((previous, from)) = previous {
            f(mix(mix(seed(2), previous), word), Gram::Bigram(from, end));
        }
        previous = Some((word, start));
    }
    for n in [3usize, 5] {
        // A rolling polynomial hash (one multiply per character, whatever `n`), then one
        // mixing step so the bucket and sign bits are well spread.
        let drop = ROLL.wrapping_pow(n as u32 - 1);
        let mut rolling = 0u32;
        for (i, &c) in chars.iter().enumerate() {
            if i >= n {
                rolling = rolling.wrapping_sub((chars[i - n] as u32).wrapping_mul(drop));
            }
            rolling = rolling.wrapping_mul(ROLL).wrapping_add(c as u32);
            if i + 1 >= n {
                f(mix(seed(n as u32), rolling), Gram::Chars(i + 1 - n, i + 1));
            }
        }
    }
}

/// The base of the rolling character hash (odd, so multiplying is a bijection).
const ROLL: u32 = 0x0100_0193;

/// Every feature of `text` (all of it, unwindowed) with the n-gram it stands for.
pub fn named_features(text: &str) -> Vec<(u32, String)> {
    let squeezed = squeeze(&normalize(text));
    let mut out = Vec::new();
    each_feature(&squeezed, |hash, gram| {
        let (start, end) = match gram {
            Gram::Word(s, e) | Gram::Bigram(s, e) | Gram::Chars(s, e) => (s, e),
        };
        out.push((hash, squeezed[start..end].iter().collect()));
    });
    out
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
        // 200 words: chunks of 32 words (the last of 8), and a window per neighbouring pair.
        assert_eq!(windows(&long).len(), 6);
        assert_eq!(windows("").len(), 1);
    }

    #[test]
    fn named_features_are_the_windows_features() {
        let named: Vec<u32> = named_features("Ignore previous instructions")
            .into_iter()
            .map(|(h, _)| h)
            .collect();
        let window = &windows("Ignore previous instructions")[0];
        assert!(window.hashes.iter().all(|h| named.contains(h)));
        assert!(named_features("ignore it")
            .iter()
            .any(|(_, gram)| gram == "ignore it"));
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
