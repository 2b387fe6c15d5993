//! Hidden characters: text a person reviewing a prompt does not see but a model reads
//! (PSF IG-1). Zero-width characters split keywords, bidi controls reorder what is shown,
//! Unicode tags (U+E0000–U+E007F) mirror ASCII invisibly, control characters hide in logs.
//!
//! Legitimate uses are not flagged: joiners inside emoji and non-Latin scripts, direction
//! marks in right-to-left text, and the tag sequences of subdivision flags (🏴 + tags).

use std::borrow::Cow;

/// The kinds of hidden character, in the order they are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HiddenKind {
    ZeroWidth,
    Bidi,
    Tag,
    Control,
}

impl HiddenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HiddenKind::ZeroWidth => "zero_width",
            HiddenKind::Bidi => "bidi_control",
            HiddenKind::Tag => "unicode_tag",
            HiddenKind::Control => "control",
        }
    }
}

/// How many hidden characters of each kind a text holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HiddenScan {
    pub zero_width: usize,
    pub bidi: usize,
    pub tag: usize,
    pub control: usize,
}

impl HiddenScan {
    pub fn total(&self) -> usize {
        self.zero_width + self.bidi + self.tag + self.control
    }

    /// The kinds present, for messages and records.
    pub fn kinds(&self) -> Vec<HiddenKind> {
        [
            (HiddenKind::ZeroWidth, self.zero_width),
            (HiddenKind::Bidi, self.bidi),
            (HiddenKind::Tag, self.tag),
            (HiddenKind::Control, self.control),
        ]
        .into_iter()
        .filter_map(|(kind, count)| (count > 0).then_some(kind))
        .collect()
    }

    fn add(&mut self, kind: HiddenKind) {
        match kind {
            HiddenKind::ZeroWidth => self.zero_width += 1,
            HiddenKind::Bidi => self.bidi += 1,
            HiddenKind::Tag => self.tag += 1,
            HiddenKind::Control => self.control += 1,
        }
    }
}

/// Counts the hidden characters in `text`.
pub fn find_hidden(text: &str) -> HiddenScan {
    let mut scan = HiddenScan::default();
    if !super::any_byte(text, &MIGHT_HIDE) {
        return scan;
    }
    walk(text, |_, kind| {
        if let Some(kind) = kind {
            scan.add(kind);
        }
    });
    scan
}

/// `text` without its hidden characters.
pub fn strip_hidden(text: &str) -> Cow<'_, str> {
    if find_hidden(text).total() == 0 {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    walk(text, |c, kind| {
        if kind.is_none() {
            out.push(c);
        }
    });
    Cow::Owned(out)
}

/// Appends the ASCII that hidden Unicode tags mirror (not those of flag sequences).
pub(super) fn smuggled_ascii(text: &str, out: &mut String) {
    walk(text, |c, kind| {
        if kind == Some(HiddenKind::Tag) {
            out.extend(tag_to_ascii(c));
        }
    });
}

/// The ASCII character a Unicode tag character mirrors.
fn tag_to_ascii(c: char) -> Option<char> {
    let code = u32::from(c);
    (0xE0020..=0xE007E)
        .contains(&code)
        .then(|| char::from((code - 0xE0000) as u8))
}

/// Characters detection ignores wherever they are, including the legitimate joiners, marks
/// and variation selectors that [`find_hidden`] does not flag.
pub(super) fn is_invisible(c: char) -> bool {
    context_free_kind(c).is_some()
        || matches!(
            c,
            '\u{200c}' | '\u{200d}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{fe00}'..='\u{fe0f}').contains(&c)
        || ('\u{e0000}'..='\u{e007f}').contains(&c)
}

/// Bytes that start a character that may be hidden: ASCII controls, and the UTF-8 lead bytes
/// of U+0080–U+00BF (C1 controls, soft hyphen), U+0600–U+063F, U+1000–U+1FFF (U+180E),
/// U+2000–U+2FFF, U+F000–U+FFFF (U+FEFF) and U+C0000–U+FFFFF (the tags). Text without any
/// of them skips the walk.
const MIGHT_HIDE: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] =
            super::is_ascii_control(b) || matches!(b, 0xc2 | 0xd8 | 0xe1 | 0xe2 | 0xef | 0xf3);
        byte += 1;
    }
    table
};

fn context_free_kind(c: char) -> Option<HiddenKind> {
    match c {
        '\u{200b}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{180e}' | '\u{00ad}' => {
            Some(HiddenKind::ZeroWidth)
        }
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => Some(HiddenKind::Bidi),
        '\t' | '\n' | '\r' => None,
        c if c.is_control() => Some(HiddenKind::Control),
        _ => None,
    }
}

/// Calls `visit` with every character and its hidden kind, if it is hidden in its context.
fn walk(text: &str, mut visit: impl FnMut(char, Option<HiddenKind>)) {
    let mut previous: Option<char> = None;
    let mut in_flag = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let kind = match c {
            '\u{e0000}'..='\u{e007f}' => {
                // Subdivision flags: U+1F3F4, tag letters, then U+E007F CANCEL TAG.
                in_flag = in_flag || previous == Some('\u{1f3f4}');
                let legit = in_flag;
                if c == '\u{e007f}' {
                    in_flag = false;
                }
                (!legit).then_some(HiddenKind::Tag)
            }
            '\u{200c}' | '\u{200d}' => {
                // Joiners are needed in emoji and many scripts; between Latin letters they
                // only split words.
                let latin = |n: Option<char>| n.is_some_and(|n| n.is_ascii_alphanumeric());
                (latin(previous) || latin(next)).then_some(HiddenKind::ZeroWidth)
            }
            _ => {
                in_flag = false;
                context_free_kind(c)
            }
        };
        visit(c, kind);
        previous = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_each_kind() {
        let scan = find_hidden("a\u{200b}b\u{202e}c\u{e0041}d\u{0007}e\u{0085}");
        assert_eq!(
            scan,
            HiddenScan {
                zero_width: 1,
                bidi: 1,
                tag: 1,
                control: 2
            }
        );
    }

    #[test]
    fn leaves_legitimate_uses_alone() {
        // Family emoji (ZWJ), Persian with ZWNJ, Hebrew with RLM, the Scotland flag.
        for text in [
            "👨\u{200d}👩\u{200d}👧",
            "می\u{200c}خواهم",
            "שלום\u{200f} world",
            "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
            "tabs\tand\nnew lines\r\n",
        ] {
            assert_eq!(find_hidden(text).total(), 0, "{text:?}");
        }
    }

    #[test]
    fn strips_only_what_it_flags() {
        assert_eq!(
            strip_hidden("ig\u{200b}nore 👨\u{200d}👩"),
            "ignore 👨\u{200d}👩"
        );
        assert!(matches!(strip_hidden("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn joiner_between_latin_letters_is_hidden() {
        assert_eq!(find_hidden("ig\u{200d}nore").zero_width, 1);
    }
}
