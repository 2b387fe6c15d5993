//! Context words: a weak format (a bare number, a date) becomes an entity when a word such
//! as "phone" or "born" stands near it. Matching is on whole words, ASCII case-insensitive;
//! words may carry non-ASCII letters ("téléphone"), which are compared byte for byte.

/// How far before an entity a context word may stand (about a short clause).
pub const BEFORE: usize = 48;
/// How far after an entity a context word may stand ("555-0132 (mobile)").
pub const AFTER: usize = 32;

/// A list of context words, indexed by lower-cased first byte so that a scan compares
/// only the words that could start at each position. At most 64 words.
pub trait WordList {
    /// For each first byte, a bit per word that starts with it.
    fn index(&self) -> &[u64; 256];
    fn word(&self, i: usize) -> &str;
}

/// A built-in word list, indexed at compile time.
#[derive(Debug)]
pub struct Words {
    list: &'static [&'static str],
    index: [u64; 256],
}

impl Words {
    pub const fn new(list: &'static [&'static str]) -> Words {
        Words {
            list,
            index: index_of(list),
        }
    }
}

const fn index_of(list: &[&str]) -> [u64; 256] {
    let mut index = [0u64; 256];
    let mut i = 0;
    while i < list.len() && i < 64 {
        let bytes = list[i].as_bytes();
        if !bytes.is_empty() {
            index[bytes[0].to_ascii_lowercase() as usize] |= 1 << i;
        }
        i += 1;
    }
    index
}

impl WordList for Words {
    fn index(&self) -> &[u64; 256] {
        &self.index
    }

    fn word(&self, i: usize) -> &str {
        self.list.get(i).copied().unwrap_or_default()
    }
}

/// A word list from a policy (a custom entity's context words).
#[derive(Debug, Clone)]
pub struct OwnedWords {
    list: Vec<String>,
    index: [u64; 256],
}

impl OwnedWords {
    /// Indexes the first 64 words; a custom entity rarely needs more.
    pub fn new(list: &[String]) -> OwnedWords {
        let list: Vec<String> = list.iter().take(64).cloned().collect();
        let mut index = [0u64; 256];
        for (i, word) in list.iter().enumerate() {
            if let Some(&b) = word.as_bytes().first() {
                index[usize::from(b.to_ascii_lowercase())] |= 1 << i;
            }
        }
        OwnedWords { list, index }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl WordList for OwnedWords {
    fn index(&self) -> &[u64; 256] {
        &self.index
    }

    fn word(&self, i: usize) -> &str {
        self.list.get(i).map_or("", String::as_str)
    }
}

/// Whether one of `words` occurs as a whole word in `text[from..to]` (clamped). A space in
/// a word also matches `_`, `-` or `.`, so "date of birth" finds `date_of_birth`.
pub fn any_in(text: &str, from: usize, to: usize, words: &impl WordList) -> bool {
    let bytes = text.as_bytes();
    let to = to.min(bytes.len());
    let index = words.index();
    let mut at = from.min(to);
    while at < to {
        let mut candidates = index[usize::from(bytes[at].to_ascii_lowercase())];
        if candidates != 0 && is_word_start(bytes, at) {
            while candidates != 0 {
                let i = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if word_at(bytes, at, to, words.word(i)) {
                    return true;
                }
            }
        }
        at += 1;
    }
    false
}

/// Whether one of `words` stands within the usual distance before or after `start..end`.
pub fn around(text: &str, start: usize, end: usize, words: &impl WordList) -> bool {
    any_in(text, start.saturating_sub(BEFORE), start, words)
        || any_in(text, end, end.saturating_add(AFTER), words)
}

/// Whether one of `words` stands within `distance` bytes before `start`.
pub fn before(text: &str, start: usize, distance: usize, words: &impl WordList) -> bool {
    any_in(text, start.saturating_sub(distance), start, words)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

fn is_word_start(bytes: &[u8], at: usize) -> bool {
    bytes.get(at).is_some_and(|b| is_word_byte(*b))
        && (at == 0 || bytes.get(at - 1).is_some_and(|b| !is_word_byte(*b)))
}

fn word_at(bytes: &[u8], at: usize, to: usize, word: &str) -> bool {
    let word = word.as_bytes();
    let Some(candidate) = bytes.get(at..at + word.len()) else {
        return false;
    };
    if at + word.len() > to {
        return false;
    }
    let same = candidate.iter().zip(word).all(|(&c, &w)| {
        c.eq_ignore_ascii_case(&w) || (w == b' ' && matches!(c, b'_' | b'-' | b'.'))
    });
    // A word ends at anything but a letter: "phone:", "dob=" and "tel." all count.
    let ends = bytes
        .get(at + word.len())
        .is_none_or(|&b| !(b.is_ascii_alphabetic() || b >= 0x80));
    same && ends
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALL: Words = Words::new(&["call"]);
    const DOB: Words = Words::new(&["dob", "date of birth"]);
    const TEL: Words = Words::new(&["tel", "téléphone", "phone"]);

    #[test]
    fn matches_whole_words_case_insensitively() {
        assert!(any_in("Call me on", 0, 10, &CALL));
        assert!(any_in("my DOB: 1990", 0, 12, &DOB));
        assert!(any_in("date_of_birth=", 0, 14, &DOB));
        assert!(!any_in("hotel", 0, 5, &TEL), "inside a word");
        assert!(!any_in("telling", 0, 7, &TEL), "prefix of a word");
        assert!(any_in("Téléphone : 01", 0, 14, &TEL));
        assert!(!any_in("phone", 0, 4, &TEL), "runs past the range");
        assert_eq!(TEL.list.len(), 3);
    }

    #[test]
    fn around_looks_both_ways_and_is_safe_at_the_edges() {
        let text = "555-0132 (mobile) and more";
        assert!(around(text, 0, 8, &Words::new(&["mobile"])));
        assert!(!around(text, 0, 8, &TEL));
        assert!(!around("", 0, 0, &CALL));
        assert!(around(
            "tel 1",
            4,
            5,
            &OwnedWords::new(&[String::from("tel")])
        ));
        assert!(!around("é", 1, 99, &CALL));
        assert!(before("born 1990", 5, 40, &Words::new(&["born"])));
    }
}
