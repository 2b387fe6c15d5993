//! What a window holds, counted in one pass, so each detector's gate can say whether its
//! pattern could match there at all (a card needs twelve digits in a run, an IPv4 address
//! three dots between digits, a date of birth a birth word).

use super::context;
use super::date;
use super::window::Window;

/// Counts over a window's bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// All ASCII digits.
    pub digits: usize,
    /// The most digits in one run: digits joined by at most two of ` -.()+/:`.
    pub cluster: usize,
    /// The most dots inside one such run.
    pub dotted: usize,
    pub at: usize,
    pub colons: usize,
    /// The most colons, dashes and dots in one run of hex digits joined by them (IPv6 and
    /// MAC addresses), each counted on its own.
    pub hex_colons: usize,
    pub hex_dashes: usize,
    pub hex_dots: usize,
    /// The longest run of letters and digits.
    pub alnum_run: usize,
    /// The longest run of base64 characters (`A-Za-z0-9+/`).
    pub base64_run: usize,
    /// Whether a birth word stands shortly before a run of four or more digits (dates only
    /// count as dates of birth with one).
    pub birth_word: bool,
    /// A `Q~` (an Azure AD client secret carries one after its fourth character, and its
    /// letter runs are short).
    pub q_tilde: bool,
    /// What opened the window (see [`super::window::seed`]).
    pub seeds: u32,
}

const DIGIT: u8 = 1;
const SEPARATOR: u8 = 2;
const LETTER: u8 = 3;
const BASE64: u8 = 4;
const OTHER: u8 = 0;

/// Byte kinds for the counting pass.
const KINDS: [u8; 256] = {
    let mut table = [OTHER; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        table[b] = if c.is_ascii_digit() {
            DIGIT
        } else if c.is_ascii_alphabetic() {
            LETTER
        } else if c == b'+' || c == b'/' {
            // Both a digit separator and a base64 character; handled below.
            BASE64
        } else if matches!(c, b' ' | b'-' | b'.' | b'(' | b')' | b':') {
            SEPARATOR
        } else {
            OTHER
        };
        b += 1;
    }
    table
};

/// How far before a run of digits its date may start ("12 de septiembre de 1990").
const DATE_LEAD: usize = 24;

/// The features of `text[w.start..w.end]`.
pub fn features(text: &str, w: &Window) -> Features {
    let bytes = text.as_bytes().get(w.start..w.end).unwrap_or_default();
    let mut f = Features {
        seeds: w.seeds,
        ..Features::default()
    };
    let (mut cluster, mut dotted, mut gap, mut alnum, mut b64) = (0, 0, 3, 0, 0);
    let mut cluster_start = 0;
    let (mut colons, mut dashes, mut dots) = (0, 0, 0);
    let mut birth_checked_to = 0;
    for (at, &b) in bytes.iter().enumerate() {
        let kind = KINDS[usize::from(b)];
        f.q_tilde |= b == b'~' && at > 0 && bytes[at - 1] == b'Q';
        if kind == DIGIT {
            f.digits += 1;
            if gap > 2 {
                cluster = 0;
                dotted = 0;
                cluster_start = at;
            }
            cluster += 1;
            gap = 0;
            f.cluster = f.cluster.max(cluster);
            f.dotted = f.dotted.max(dotted);
            // A date of birth has a run of four digits or more (a year, "5/3/90"); look
            // for its birth word once per run, in the stretch before it.
            if cluster == 4 && !f.birth_word && cluster_start >= birth_checked_to {
                let run = w.start + cluster_start;
                let from = run.saturating_sub(date::REACH + DATE_LEAD);
                f.birth_word = context::any_in(text, from, run, &date::WORDS);
                birth_checked_to = cluster_start + 1;
            }
        } else if kind == SEPARATOR || kind == BASE64 {
            gap += 1;
            match b {
                b'.' => dotted += usize::from(gap == 1),
                b':' => f.colons += 1,
                _ => {}
            }
        } else {
            gap = 3;
            f.at += usize::from(b == b'@');
        }
        let hex = b.is_ascii_hexdigit();
        colons = if hex || b == b'.' || b == b'%' {
            colons
        } else if b == b':' {
            colons + 1
        } else {
            0
        };
        dashes = if hex {
            dashes
        } else if b == b'-' {
            dashes + 1
        } else {
            0
        };
        dots = if hex {
            dots
        } else if b == b'.' {
            dots + 1
        } else {
            0
        };
        f.hex_colons = f.hex_colons.max(colons);
        f.hex_dashes = f.hex_dashes.max(dashes);
        f.hex_dots = f.hex_dots.max(dots);
        alnum = if kind == DIGIT || kind == LETTER {
            alnum + 1
        } else {
            0
        };
        b64 = if kind == DIGIT || kind == LETTER || kind == BASE64 {
            b64 + 1
        } else {
            0
        };
        f.alnum_run = f.alnum_run.max(alnum);
        f.base64_run = f.base64_run.max(b64);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Features {
        features(
            text,
            &Window {
                start: 0,
                end: text.len(),
                seeds: 0,
                cut_start: false,
                cut_end: false,
            },
        )
    }

    #[test]
    fn counts_runs_and_separators() {
        let f = of("call +1 (415) 555-0132 or 12 34");
        assert_eq!((f.cluster, f.digits), (11, 15));
        let f = of("at 192.168.0.1. Then 1.2");
        assert_eq!((f.cluster, f.dotted), (8, 3));
        let f = of("fe80::1 and 00-1A-2B-3C-4D-5E, aabb.ccdd.eeff; 14:30");
        assert_eq!((f.hex_colons, f.hex_dashes, f.hex_dots), (2, 5, 2));
        let f = of("ada@example.com key wJalrXUtnFEMI/K7MDENG+bPxRfiCY");
        assert_eq!((f.at, f.alnum_run, f.base64_run), (1, 13, 30));
        assert!(of("born 12 March 1990").birth_word);
        assert!(of("date of birth: 12 de septiembre de 1990").birth_word);
        assert!(!of("met 12 March 1990").birth_word);
    }
}
