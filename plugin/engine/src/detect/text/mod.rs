//! Text as detection sees it (PSF IG-1): one canonical form for every way of writing the
//! same words, so a rule written once catches full-width letters, Cyrillic look-alikes,
//! accents, upper case and words split by invisible characters.

mod confusables;
mod hidden;
mod leet;

pub use hidden::{find_hidden, strip_hidden, HiddenKind, HiddenScan};
pub use leet::fold_leetspeak;

use unicode_normalization::UnicodeNormalization;

/// Appends the detection form of `text` to `out`: NFKC, lower case, confusables and
/// accented Latin letters folded to ASCII, hidden characters removed. Characters smuggled
/// as Unicode tags (U+E0020–U+E007E mirror ASCII) are appended to `smuggled` as ASCII.
pub fn normalize_into(text: &str, out: &mut String, smuggled: &mut String) {
    if text.is_ascii() {
        // The common case: no Unicode tables, a copy and an in-place ASCII lower-casing.
        let start = out.len();
        if any_byte(text, &ASCII_CONTROL) {
            out.extend(text.chars().filter(|c| !is_ascii_control(*c as u8)));
        } else {
            out.push_str(text);
        }
        out[start..].make_ascii_lowercase();
        return;
    }
    hidden::smuggled_ascii(text, smuggled);
    let visible = text.chars().filter(|&c| !hidden::is_invisible(c));
    for c in visible.nfkc() {
        if c.is_ascii() {
            if !is_ascii_control(c as u8) {
                out.push(c.to_ascii_lowercase());
            }
            continue;
        }
        for lower in c.to_lowercase() {
            out.push(confusables::fold(lower));
        }
    }
}

/// The detection form of `text` as a new string (smuggled tag text is dropped).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut smuggled = String::new();
    normalize_into(text, &mut out, &mut smuggled);
    out
}

/// Whether `text` holds a control character other than tab, line feed and carriage
/// return (which normalising drops, joining the letters around it).
pub fn has_ascii_control(text: &str) -> bool {
    any_byte(text, &ASCII_CONTROL)
}

/// Control characters other than tab, line feed and carriage return.
const fn is_ascii_control(byte: u8) -> bool {
    (byte < 0x20 && !matches!(byte, b'\t' | b'\n' | b'\r')) || byte == 0x7f
}

const ASCII_CONTROL: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = is_ascii_control(byte as u8);
        byte += 1;
    }
    table
};

/// Whether any byte of `text` is marked in `table`. Branch-free within each block, so the
/// compiler can unroll it: these scans run over every prompt.
fn any_byte(text: &str, table: &[bool; 256]) -> bool {
    text.as_bytes().chunks(64).any(|block| {
        block
            .iter()
            .fold(false, |found, b| found | table[usize::from(*b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_width_case_look_alikes_and_accents() {
        assert_eq!(normalize("ＩＧＮＯＲＥ"), "ignore");
        // Cyrillic і, о and е in an otherwise Latin word.
        assert_eq!(normalize("\u{456}gn\u{43e}r\u{435}"), "ignore");
        assert_eq!(normalize("Ïgnöré"), "ignore");
        assert_eq!(normalize("𝐢𝐠𝐧𝐨𝐫𝐞"), "ignore");
        assert_eq!(normalize("ﬁle"), "file");
    }

    #[test]
    fn removes_invisible_characters_inside_words() {
        assert_eq!(normalize("ig\u{200b}no\u{2060}re"), "ignore");
        assert_eq!(normalize("ig\u{202e}nore\u{0000}"), "ignore");
    }

    #[test]
    fn flag_tag_sequences_are_not_smuggled_text() {
        let mut out = String::new();
        let mut smuggled = String::new();
        normalize_into(
            "🏴\u{e0067}\u{e0062}\u{e0073}\u{e0063}\u{e0074}\u{e007f}",
            &mut out,
            &mut smuggled,
        );
        assert_eq!(smuggled, "");
    }

    #[test]
    fn decodes_tag_smuggled_ascii() {
        let hidden: String = "hi"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap_or(c))
            .collect();
        let mut out = String::new();
        let mut smuggled = String::new();
        normalize_into(&format!("ok{hidden}"), &mut out, &mut smuggled);
        assert_eq!(out, "ok");
        assert_eq!(smuggled, "hi");
    }

    #[test]
    fn folds_only_look_alikes_in_other_scripts() {
        // Detection form, not display form: Cyrillic letters shaped like Latin ones fold.
        assert_eq!(normalize("Привет мир"), "пpиbet mиp");
        assert_eq!(normalize("日本語"), "日本語");
    }
}
