//! The prefilter that keeps the scanner fast on ordinary text. One pass over the bytes
//! ([`super::skip`]) stops only where an entity could hinge: digits, `@ : = - _` and `A`.
//! A few byte comparisons there ([`super::seeds`]) decide whether a window opens: a run of
//! six or more digits (or a shorter one that is a dotted quad, a MAC address or a date
//! after a birth word), a long token holding digits, an `@`, a credential name before `:`
//! or `=`, an address-like colon, a curl `-u`, or a key prefix such as `AKIA`, `ghp_` or
//! `-----BEGIN`. Only windows reach the patterns; prose, even with the odd number in it,
//! opens almost none.

pub use super::seeds::seed;
use super::seeds::{
    birth_word_before, credential_name_before, curl_flag_at, mac_around, mac_at, prefix_at,
    token_seeds,
};
use super::skip::skip;

/// A stretch of text worth matching, with the seeds found in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    pub end: usize,
    pub seeds: u32,
    /// Whether the window was cut inside a token (a run with no space or quote for a long
    /// way): matches touching such an edge may be a piece of something longer.
    pub cut_start: bool,
    pub cut_end: bool,
}

/// How far around a run of digits a numeric entity may reach ("12 September 1990").
const DIGIT_REACH: usize = 24;
/// The fewest digits in a run that open a window on their own: every numeric entity but
/// an IPv4 address or a date has a run at least this long ("AB 12 34 56 C", "555-0132"),
/// and numbers in prose rarely do.
const MIN_DIGITS: usize = 6;
/// Shorter runs of at least this many digits open a window when they are a dotted quad or
/// follow a birth word ("1.1.1.1", "born 5/3/90", "born in March 1990").
const MIN_DIGITS_SHORT: usize = 3;
/// A token this long with a digit in it opens a window (wallet addresses, JWTs, AWS
/// secret keys and other generated strings).
const LONG_TOKEN: usize = 16;
/// Around an `@`: the local part before it, the domain after it, or a URL's userinfo.
const AT_BEFORE: usize = 200;
const AT_AFTER: usize = 260;
/// Before `:` or `=`, a credential name; after it, the value.
const NAME_REACH: usize = 48;
const VALUE_REACH: usize = 220;
/// Around an address-like colon: the longest IPv6 address with a zone and prefix.
const ADDRESS_REACH: usize = 64;
/// The longest token a key prefix opens (JWTs can be long).
const TOKEN_REACH: usize = 8 * 1024;
/// The longest PEM header line (`-----BEGIN ENCRYPTED PRIVATE KEY-----` and kin).
pub const PEM_HEADER: usize = 64;
/// How far a window edge moves to reach a space or a quote.
const EDGE_REACH: usize = 64;

const DIGIT: u8 = 1;
const AT: u8 = 2;
const COLON: u8 = 3;
const EQUALS: u8 = 4;
/// `-`, `_` and `A`: bytes a key prefix, a curl flag or a MAC address hinges on.
const KEY: u8 = 5;

/// The classes of the bytes the scan stops at; every other byte is skipped.
const CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = b'0';
    while b <= b'9' {
        table[b as usize] = DIGIT;
        b += 1;
    }
    table[b'@' as usize] = AT;
    table[b':' as usize] = COLON;
    table[b'=' as usize] = EQUALS;
    table[b'-' as usize] = KEY;
    table[b'_' as usize] = KEY;
    table[b'A' as usize] = KEY;
    table
};

/// Bytes a window edge may stop at: whitespace, quotes and brackets never sit inside an
/// entity's edge.
fn is_break(b: u8) -> bool {
    b.is_ascii_whitespace() || b"\"'`<>{}[](),;|".contains(&b)
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+' | b'/' | b'=' | b'~')
}

/// Separators that may sit between the digits of one number.
fn is_digit_separator(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+' | b'/' | b':')
}

/// Whether the byte at `j`, after `gap` separators, closes a " - " between two groups.
fn spaced_dash(bytes: &[u8], j: usize, gap: usize) -> bool {
    gap == 2 && j >= 2 && &bytes[j - 2..=j] == b" - "
}

/// The scan's state: windows so far, and how far the last key token reached.
struct Scan<'b> {
    text: &'b str,
    bytes: &'b [u8],
    out: Vec<Window>,
    token_until: usize,
    cluster_until: usize,
}

/// The windows of `text`, in order and disjoint, on character boundaries.
pub fn windows(text: &str) -> Vec<Window> {
    let bytes = text.as_bytes();
    let mut scan = Scan {
        text,
        bytes,
        out: Vec::new(),
        token_until: 0,
        cluster_until: 0,
    };
    let mut i = 0;
    loop {
        i = skip(bytes, i);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let class = CLASSES[usize::from(b)];
        i = match class {
            0 => i + 1,
            DIGIT => scan.digits(i),
            AT => {
                scan.push(i.saturating_sub(AT_BEFORE), i + AT_AFTER, 0);
                i + 1
            }
            COLON | EQUALS => {
                scan.sign(i, class == COLON);
                i + 1
            }
            _ => {
                scan.other(i);
                i + 1
            }
        };
    }
    finish(text, scan.out)
}

impl Scan<'_> {
    /// Adds a window, merging it with the ones it overlaps.
    fn push(&mut self, start: usize, end: usize, seeds: u32) {
        let mut window = Window {
            start,
            end,
            seeds,
            cut_start: false,
            cut_end: false,
        };
        while let Some(last) = self.out.last() {
            if window.start > last.end {
                break;
            }
            window.start = window.start.min(last.start);
            window.end = window.end.max(last.end);
            window.seeds |= last.seeds;
            self.out.pop();
        }
        self.out.push(window);
    }

    /// A run of digits at `i`: a window if it has enough digits or sits in a long token.
    /// Returns where to resume: past these digits, so that a colon or dash among the run's
    /// separators is still looked at.
    fn digits(&mut self, i: usize) -> usize {
        let bytes = self.bytes;
        let mut resume = i;
        while bytes.get(resume).is_some_and(u8::is_ascii_digit) {
            resume += 1;
        }
        if i < self.cluster_until {
            return resume; // a later group of a run already judged
        }
        // Most numbers in prose are short and stand alone ("12 votes", "3 against"): no
        // digit within two bytes after, nothing glued before.
        let after = |n: usize| bytes.get(resume + n).copied().unwrap_or(b' ');
        let alone = after(0) == b' '
            && !after(1).is_ascii_digit()
            && !after(2).is_ascii_digit()
            && i.checked_sub(1).is_none_or(|p| !is_token(bytes[p]));
        if alone && resume - i < MIN_DIGITS_SHORT {
            return resume;
        }
        // The whole run: digits joined by at most two separators, or by " - " (a card read
        // out in groups). Separators only count once a digit follows them (a sentence's full
        // stop after a year is not a date's).
        let (mut j, mut count, mut gap, mut last) = (resume, resume - i, 0, resume);
        let (mut dots, mut date_separator, mut pending_dot, mut pending_date) =
            (0, false, false, false);
        while let Some(&b) = bytes.get(j) {
            if b.is_ascii_digit() {
                count += 1;
                gap = 0;
                last = j + 1;
                dots += usize::from(pending_dot);
                date_separator |= pending_date;
                pending_dot = false;
                pending_date = false;
            } else if is_digit_separator(b) && (gap < 2 || spaced_dash(bytes, j, gap)) {
                gap += 1;
                pending_dot |= b == b'.' && gap == 1;
                pending_date |= matches!(b, b'/' | b'-' | b'.');
            } else {
                break;
            }
            j += 1;
        }
        self.cluster_until = last;
        // A short run is a date only with date separators ("5/3/90"), or as a year with
        // its day a few bytes before ("12 March 1990", "March 12, 1990"); only then is a
        // birth word looked for.
        let year = count == 4
            && last == i + 4
            && matches!(bytes.get(i..i + 2), Some(b"19" | b"20"))
            && bytes
                .get(i.saturating_sub(DIGIT_REACH)..i)
                .is_some_and(|before| before.iter().any(u8::is_ascii_digit));
        // A MAC address with few digits: hex letters or its separators next to the run.
        let hexish =
            |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_hexdigit() || b":.-".contains(b));
        let previous = i.checked_sub(1).and_then(|p| bytes.get(p));
        let mac = hexish(bytes.get(last)) || hexish(previous);
        let opens = count >= MIN_DIGITS
            || (count >= MIN_DIGITS_SHORT
                && (dots >= 3
                    || ((date_separator || year) && birth_word_before(self.text, i, DIGIT_REACH))))
            || (mac && mac_around(bytes, i));
        if opens {
            self.push(i.saturating_sub(DIGIT_REACH), last + DIGIT_REACH, 0);
        }
        // The token around the digits, walked once however many digits it holds. Most
        // numbers stand alone, so look at the neighbours before walking anything.
        let glued = i.checked_sub(1).is_some_and(|p| is_token(bytes[p]))
            || bytes.get(resume).is_some_and(|&b| is_token(b));
        if i >= self.token_until && (glued || resume - i >= LONG_TOKEN) {
            let floor = i.saturating_sub(TOKEN_REACH);
            let mut start = i;
            while start > floor && is_token(bytes[start - 1]) {
                start -= 1;
            }
            let end = token_end(bytes, i);
            self.token_until = end;
            if end - start >= LONG_TOKEN {
                self.push(start.saturating_sub(17), end + 1, token_seeds(bytes, start));
            }
        }
        resume
    }

    /// A `:` or `=`: a window for the value when a credential name precedes it, and for an
    /// address when the colon sits between hex digits or next to another colon.
    fn sign(&mut self, i: usize, colon: bool) {
        let bytes = self.bytes;
        let before = i.checked_sub(1).and_then(|p| bytes.get(p)).copied();
        let after = bytes.get(i + 1).copied();
        let hex = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_hexdigit());
        // An IPv6 or MAC address has a second colon within a group of this one ("14:30"
        // does not).
        let second = (2..=5).any(|n| bytes.get(i + n) == Some(&b':'))
            && bytes.get(i + 1..i + 5).is_some_and(|g| {
                g.iter()
                    .take_while(|b| **b != b':')
                    .all(u8::is_ascii_hexdigit)
            });
        if colon
            && (before == Some(b':')
                || after == Some(b':')
                || (hex(before) && hex(after) && second))
        {
            self.push(i.saturating_sub(ADDRESS_REACH), i + ADDRESS_REACH, 0);
        }
        if credential_name_before(bytes, i) {
            self.push(i.saturating_sub(NAME_REACH), i + VALUE_REACH, seed::ASSIGN);
        }
        if colon && bytes.get(i + 1..i + 18) == Some(&b"//hooks.slack.com"[..]) {
            let end = token_end(bytes, i);
            self.push(i.saturating_sub(8), end + 1, seed::SLACK);
        }
    }

    /// A dash, underscore, dot or capital: a key prefix, a MAC address or a curl flag.
    fn other(&mut self, i: usize) {
        if let Some((start, seeds)) = prefix_at(self.bytes, i) {
            // A PEM header has spaces in it; the judge finds the block's end itself.
            let end = if seeds == seed::PEM {
                i + PEM_HEADER
            } else if i < self.token_until {
                self.token_until
            } else {
                self.token_until = token_end(self.bytes, i);
                self.token_until
            };
            self.push(start.saturating_sub(1), end + 1, seeds);
        } else if mac_at(self.bytes, i) {
            self.push(i.saturating_sub(8), i + 16, 0);
        } else if curl_flag_at(self.bytes, i) {
            self.push(i, i + VALUE_REACH, seed::CURL);
        }
    }
}

/// Where the token that starts at or before `i` ends, at most `TOKEN_REACH` away.
fn token_end(bytes: &[u8], i: usize) -> usize {
    let limit = bytes.len().min(i + TOKEN_REACH);
    let mut end = i;
    while end < limit && (is_token(bytes[end]) || bytes[end] == b':') {
        end += 1;
    }
    end
}

/// Clamps windows to the text, moves their edges out to a break (noting where none was
/// near), aligns them to character boundaries and merges any that now touch.
fn finish(text: &str, raw: Vec<Window>) -> Vec<Window> {
    let bytes = text.as_bytes();
    let len = bytes.len();
    let mut out: Vec<Window> = Vec::with_capacity(raw.len());
    for mut w in raw {
        w.end = w.end.min(len);
        w.start = w.start.min(w.end);
        let floor = w.start.saturating_sub(EDGE_REACH);
        while w.start > floor && !is_break(bytes[w.start - 1]) {
            w.start -= 1;
        }
        w.cut_start = w.start > 0 && !is_break(bytes[w.start - 1]);
        let ceiling = (w.end + EDGE_REACH).min(len);
        while w.end < ceiling && !is_break(bytes[w.end]) {
            w.end += 1;
        }
        w.cut_end = w.end < len && !is_break(bytes[w.end]);
        while !text.is_char_boundary(w.start) {
            w.start -= 1;
        }
        while !text.is_char_boundary(w.end) {
            w.end += 1;
        }
        match out.last_mut() {
            Some(last) if w.start <= last.end => {
                last.end = last.end.max(w.end);
                last.cut_end = w.cut_end;
                last.seeds |= w.seeds;
            }
            _ => out.push(w),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_without_triggers_has_no_windows() {
        for text in [
            "the committee met on tuesday to review the budget, and agreed.",
            "Our CFO, Dr. Jane Miller, wants a short note: what changed, and why. In 12 days.",
            "Meeting: Tue 14:30, room B-12. Call the help-desk if the build fails; see #4821.",
            "In 2023 the team shipped 4.2; latency fell 35% (p99: 120 ms) on 12 servers.",
        ] {
            assert!(windows(text).is_empty(), "{text}: {:?}", windows(text));
        }
    }

    #[test]
    fn digits_open_a_window_reaching_to_the_nearest_breaks() {
        let text = "Plain words here. Call (415) 555-0132 today, thanks to everyone for coming by";
        let w = windows(text);
        assert_eq!(w.len(), 1);
        let slice = &text[w[0].start..w[0].end];
        assert!(slice.contains("(415) 555-0132"));
        assert!(!w[0].cut_start && !w[0].cut_end);
    }

    #[test]
    fn credential_names_and_address_colons_open_windows() {
        let assign = windows("config: db_password = 'x' here");
        assert_eq!(assign.len(), 1);
        assert_ne!(assign[0].seeds & seed::ASSIGN, 0);
        assert_eq!(windows("src=:: dst").len(), 1);
        assert_eq!(windows("mac aa:bb:cc:dd:ee:ff").len(), 1);
        assert!(windows("note: this").is_empty());
        let curl = windows("curl -u admin:secret https://x");
        assert!(curl.iter().any(|w| w.seeds & seed::CURL != 0));
    }

    #[test]
    fn key_prefixes_seed_their_family() {
        let text = "token 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 and AKIAIOSFODNN7EXAMPLE and x=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig";
        let all = windows(text).iter().fold(0, |acc, w| acc | w.seeds);
        let want = seed::GITHUB | seed::AWS | seed::JWT;
        assert_eq!(all & want, want);
        let text = "-----BEGIN RSA PRIVATE KEY----- glpat-abc sk-ant-x sk_live_x xoxb-1";
        let all = windows(text).iter().fold(0, |acc, w| acc | w.seeds);
        for s in [
            seed::PEM,
            seed::GITLAB,
            seed::ANTHROPIC,
            seed::STRIPE,
            seed::SLACK,
        ] {
            assert_ne!(all & s, 0, "{s}");
        }
    }

    #[test]
    fn windows_are_disjoint_sorted_and_on_char_boundaries() {
        let text = "é123é@é:é=é".repeat(50) + &"🦀 AKIA".repeat(20);
        let w = windows(&text);
        for pair in w.windows(2) {
            assert!(pair[0].end < pair[1].start);
        }
        for window in &w {
            assert!(text.is_char_boundary(window.start) && text.is_char_boundary(window.end));
        }
    }
}
