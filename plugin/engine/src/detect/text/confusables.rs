//! Letters from other scripts that look like Latin ones, and accented Latin letters, folded to
//! the ASCII letter a reader sees. A small, hand-picked subset of Unicode's confusables list:
//! the look-alikes used to dodge keyword filters, not every possible homoglyph.

use unicode_normalization::char::decompose_canonical;

/// Lower-case look-alikes, sorted by code point for binary search.
const LOOK_ALIKES: [(char, char); 50] = [
    ('\u{0131}', 'i'), // dotless i
    ('\u{0251}', 'a'), // Latin alpha
    ('\u{0261}', 'g'), // script g
    ('\u{0269}', 'i'), // Latin iota
    ('\u{03b1}', 'a'), // Greek
    ('\u{03b5}', 'e'),
    ('\u{03b9}', 'i'),
    ('\u{03ba}', 'k'),
    ('\u{03bd}', 'v'),
    ('\u{03bf}', 'o'),
    ('\u{03c1}', 'p'),
    ('\u{03c4}', 't'),
    ('\u{03c5}', 'u'),
    ('\u{03c7}', 'x'),
    ('\u{0430}', 'a'), // Cyrillic
    ('\u{0432}', 'b'),
    ('\u{0435}', 'e'),
    ('\u{043a}', 'k'),
    ('\u{043c}', 'm'),
    ('\u{043d}', 'h'),
    ('\u{043e}', 'o'),
    ('\u{0440}', 'p'),
    ('\u{0441}', 'c'),
    ('\u{0442}', 't'),
    ('\u{0443}', 'y'),
    ('\u{0445}', 'x'),
    ('\u{044c}', 'b'),
    ('\u{0455}', 's'),
    ('\u{0456}', 'i'),
    ('\u{0458}', 'j'),
    ('\u{04bb}', 'h'),
    ('\u{04cf}', 'l'),
    ('\u{0501}', 'd'),
    ('\u{051b}', 'q'),
    ('\u{051d}', 'w'),
    ('\u{0561}', 'w'), // Armenian
    ('\u{0563}', 'q'),
    ('\u{0566}', 'q'),
    ('\u{0570}', 'h'),
    ('\u{0578}', 'n'),
    ('\u{057c}', 'n'),
    ('\u{057d}', 'u'),
    ('\u{0585}', 'o'),
    ('\u{13a2}', 'r'), // Cherokee
    ('\u{13a5}', 'i'),
    ('\u{13aa}', 'g'),
    ('\u{2018}', '\''), // curly quotes, so patterns need one apostrophe
    ('\u{2019}', '\''),
    ('\u{201c}', '"'),
    ('\u{201d}', '"'),
];

/// The ASCII letter `c` passes for, or `c` itself.
pub fn fold(c: char) -> char {
    if let Ok(i) = LOOK_ALIKES.binary_search_by_key(&c, |&(from, _)| from) {
        return LOOK_ALIKES[i].1;
    }
    if ('\u{00c0}'..='\u{024f}').contains(&c) || ('\u{1e00}'..='\u{1eff}').contains(&c) {
        // Accented Latin: keep the base letter when the rest is combining marks.
        let mut base = None;
        let mut only_marks = true;
        decompose_canonical(c, |part| {
            if base.is_none() {
                base = Some(part);
            } else if !('\u{0300}'..='\u{036f}').contains(&part) {
                only_marks = false;
            }
        });
        if let Some(base) = base.filter(|b| b.is_ascii() && only_marks) {
            return base;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_for_binary_search() {
        assert!(LOOK_ALIKES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn folds_look_alikes_and_accents_only() {
        assert_eq!(fold('\u{0430}'), 'a');
        assert_eq!(fold('é'), 'e');
        assert_eq!(fold('ß'), 'ß');
        assert_eq!(fold('ж'), 'ж');
    }
}
