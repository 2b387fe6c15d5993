//! A pattern match being judged, and the verdict. Judges see the whole text, because the
//! bytes around a match decide as much as the match itself ("v1.2.3.4", "std::cout").

/// A match of a detector's pattern: the whole text and the match's byte range.
#[derive(Debug, Clone, Copy)]
pub struct Hit<'t> {
    pub text: &'t str,
    pub start: usize,
    pub end: usize,
}

impl<'t> Hit<'t> {
    pub fn as_str(&self) -> &'t str {
        self.text.get(self.start..self.end).unwrap_or_default()
    }

    /// The byte `n` places before the match (1 = the one just before).
    pub fn before(&self, n: usize) -> Option<u8> {
        let at = self.start.checked_sub(n)?;
        self.text.as_bytes().get(at).copied()
    }

    /// The byte `n` places after the match (0 = the one just after).
    pub fn after(&self, n: usize) -> Option<u8> {
        self.text.as_bytes().get(self.end.checked_add(n)?).copied()
    }

    /// A verdict on the whole match.
    pub fn found(&self, score: f32) -> Option<Found> {
        Some(Found {
            start: self.start,
            end: self.end,
            score,
        })
    }
}

/// A judged candidate: its range (the match, or a part of it) and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub score: f32,
}

/// A judge: `None` rejects the match.
pub type Judge = fn(Hit<'_>) -> Option<Found>;

/// Letters, digits and `_`: what the regex crate's ASCII `\b` treats as a word.
pub fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The bytes of API keys and tokens: a key is only a key if it is not part of a longer run.
pub fn is_token(b: u8) -> bool {
    is_word(b) || b == b'-'
}

/// Whether `hit` stands alone as a token: no token byte right before or after it.
pub fn token_alone(hit: &Hit<'_>) -> bool {
    !hit.before(1).is_some_and(is_token) && !hit.after(0).is_some_and(is_token)
}

/// Whether a number sits inside a longer block-formatted code ("AL47 2121 1009 0000 0002",
/// "NL91 ABNA 0417 1643 00"): the group just before it, or just after it, across one
/// separator, holds a digit or is four capitals, as IBAN and account groups are. Such a
/// piece is not a phone number or a national id of its own.
pub fn in_block(hit: &Hit<'_>) -> bool {
    let bytes = hit.text.as_bytes();
    let group = |from: usize, to: usize| {
        let g = bytes.get(from..to).unwrap_or_default();
        let code = g
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        !g.is_empty() && code && (g.iter().any(u8::is_ascii_digit) || g.len() == 4)
    };
    let is_gap = |b: Option<u8>| matches!(b, Some(b' ' | b'-' | b':' | b'.' | b'/'));
    let before = is_gap(hit.before(1)) && {
        let end = hit.start - 1;
        let start = bytes[..end]
            .iter()
            .rposition(|b| !b.is_ascii_alphanumeric())
            .map_or(0, |p| p + 1);
        group(start, end)
    };
    let after = is_gap(hit.after(0)) && {
        let start = hit.end + 1;
        let end = bytes
            .get(start..)
            .unwrap_or_default()
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .map_or(bytes.len(), |p| start + p);
        group(start, end)
    };
    before || after
}

/// Test support: what `judge` keeps of the matches of `pattern` in `text`.
#[cfg(test)]
pub fn judged<'t>(pattern: &str, judge: Judge, text: &'t str) -> Vec<&'t str> {
    let Ok(re) = regex::RegexBuilder::new(pattern).unicode(false).build() else {
        return vec!["<pattern does not compile>"];
    };
    re.find_iter(text)
        .filter_map(|m| {
            judge(Hit {
                text,
                start: m.start(),
                end: m.end(),
            })
        })
        .filter_map(|f| text.get(f.start..f.end))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_read_safely() {
        let hit = Hit {
            text: "ab-cd",
            start: 3,
            end: 5,
        };
        assert_eq!(hit.as_str(), "cd");
        assert_eq!(hit.before(1), Some(b'-'));
        assert_eq!(hit.before(9), None);
        assert_eq!(hit.after(0), None);
        assert!(!token_alone(&hit));
        let odd = Hit {
            text: "é",
            start: 1,
            end: 2,
        };
        assert_eq!(odd.as_str(), "");
    }

    #[test]
    fn pieces_of_block_codes_are_recognised() {
        let piece = |text: &'static str, span: &str| {
            let start = text.find(span).unwrap_or(0);
            in_block(&Hit {
                text,
                start,
                end: start + span.len(),
            })
        };
        assert!(piece("AL47 2121 1009 0000 0002", "2121 1009 0000"));
        assert!(piece("NL91 ABNA 0417 1643 00", "0417 1643 00"));
        assert!(!piece("Call 0417 1643 00 now", "0417 1643 00"));
        assert!(!piece("Aadhaar 2345 6789 0124 on file", "2345 6789 0124"));
        assert!(!piece("2345 6789 0124", "2345 6789 0124"));
    }
}
