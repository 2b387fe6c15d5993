//! Dates of birth. A date on its own is not personal ("the meeting on 12 March 1990"), so a
//! date counts only with a birth word ("born", "DOB", "Geburtsdatum", "né le", "fecha de
//! nacimiento", …) shortly before it. The judge checks it is a real calendar date.

use super::context::{self, Words};
use super::hit::{Found, Hit};

/// How far before a date its birth word may stand.
pub const REACH: usize = 40;

/// Birth words in the languages of the month names below.
pub const WORDS: Words = Words::new(&[
    "born",
    "birth",
    "birthday",
    "birthdate",
    "date of birth",
    "dob",
    "d.o.b",
    "geburtsdatum",
    "geboren",
    "geb",
    "geb.",
    "né",
    "née",
    "naissance",
    "nacimiento",
    "nacido",
    "nacida",
    "nascita",
    "nato",
    "nata",
    "nascimento",
    "nascido",
    "nascida",
    "geboortedatum",
    "födelsedatum",
    "född",
    "fødselsdato",
    "født",
    "syntymäaika",
    "urodzony",
    "urodzona",
    "urodzenia",
    "doğum",
    "dogum",
]);

/// The date layouts, case-insensitive: ISO, day/month/year in either order, and written
/// months ("12 March 1990", "March 12, 1990", "12. März 1990", "12 de marzo de 1990"). A
/// month is any word of 3–10 letters here (accented ones included); the judge checks it.
pub const PATTERN: &str = concat!(
    r"(?i)\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b",
    r"|\b\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2})\b",
    r"|\b\d{1,2}(?:st|nd|rd|th|er|\.)?(?: of| de)?[ -]{1,2}",
    r"(?:[a-z]|ä|é|è|û|ô|í|ó|ú|ñ|ç){3,10}\.?,?(?: de)?[ -]{1,2}\d{4}\b",
    r"|\b(?:[a-z]|ä|é|è|û|ô|í|ó|ú|ñ|ç){3,10}\.?[ -]{1,2}",
    r"\d{1,2}(?:st|nd|rd|th|er|\.)?,?[ -]{1,2}\d{4}\b",
);

/// Month names and abbreviations in English, German, French, Spanish, Italian and
/// Portuguese, with their number.
const MONTHS: &[(&str, u8)] = &[
    ("january", 1),
    ("jan", 1),
    ("januar", 1),
    ("janvier", 1),
    ("enero", 1),
    ("gennaio", 1),
    ("janeiro", 1),
    ("february", 2),
    ("feb", 2),
    ("februar", 2),
    ("février", 2),
    ("fevrier", 2),
    ("febrero", 2),
    ("febbraio", 2),
    ("fevereiro", 2),
    ("march", 3),
    ("mar", 3),
    ("märz", 3),
    ("maerz", 3),
    ("mars", 3),
    ("marzo", 3),
    ("março", 3),
    ("marco", 3),
    ("april", 4),
    ("apr", 4),
    ("avril", 4),
    ("abril", 4),
    ("aprile", 4),
    ("may", 5),
    ("mai", 5),
    ("mayo", 5),
    ("maggio", 5),
    ("maio", 5),
    ("june", 6),
    ("jun", 6),
    ("juni", 6),
    ("juin", 6),
    ("junio", 6),
    ("giugno", 6),
    ("junho", 6),
    ("july", 7),
    ("jul", 7),
    ("juli", 7),
    ("juillet", 7),
    ("julio", 7),
    ("luglio", 7),
    ("julho", 7),
    ("august", 8),
    ("aug", 8),
    ("août", 8),
    ("aout", 8),
    ("agosto", 8),
    ("september", 9),
    ("sep", 9),
    ("sept", 9),
    ("septembre", 9),
    ("septiembre", 9),
    ("setiembre", 9),
    ("settembre", 9),
    ("setembro", 9),
    ("october", 10),
    ("oct", 10),
    ("oktober", 10),
    ("octobre", 10),
    ("octubre", 10),
    ("ottobre", 10),
    ("outubro", 10),
    ("november", 11),
    ("nov", 11),
    ("novembre", 11),
    ("noviembre", 11),
    ("novembro", 11),
    ("december", 12),
    ("dec", 12),
    ("dezember", 12),
    ("décembre", 12),
    ("decembre", 12),
    ("diciembre", 12),
    ("dicembre", 12),
    ("dezembro", 12),
];

fn month_number(word: &str) -> Option<u8> {
    let word = word.to_ascii_lowercase();
    MONTHS
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, n)| *n)
}

fn days_in(month: u8, year: u32) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A plausible birth date: a real day of a real month, years 1900–2099 or two digits.
fn valid(day: u32, month: u32, year: u32, year_digits: usize) -> bool {
    let full = match year_digits {
        4 if (1900..=2099).contains(&year) => year,
        2 => 2000 + year,
        _ => return false,
    };
    (1..=12).contains(&month) && day >= 1 && day <= u32::from(days_in(month as u8, full))
}

/// The numbers (value, digit count) and the month named in a date, if any. An ordinal
/// suffix ("12th", "1er") is dropped from its number.
fn parts(text: &str) -> (Vec<(u32, usize)>, Option<u8>) {
    let mut numbers = Vec::with_capacity(3);
    let mut month = None;
    let separator = |c: char| c.is_ascii() && !c.is_ascii_alphanumeric();
    for token in text.split(separator).filter(|t| !t.is_empty()) {
        let digits = token.bytes().take_while(u8::is_ascii_digit).count();
        match token.get(..digits) {
            Some(number) if digits > 0 => numbers.push((number.parse().unwrap_or(0), digits)),
            _ => month = month.or(month_number(token)),
        }
    }
    (numbers, month)
}

/// Judges a date candidate: valid, and with a birth word shortly before it.
pub fn birth_date(hit: Hit<'_>) -> Option<Found> {
    if !context::before(hit.text, hit.start, REACH, &WORDS) {
        return None;
    }
    let (numbers, month) = parts(hit.as_str());
    let ok = match (month, numbers.as_slice()) {
        (Some(m), [(day, 1..=2), (year, digits)]) => valid(*day, u32::from(m), *year, *digits),
        (None, [(y, 4), (m, _), (d, _)]) => valid(*d, *m, *y, 4),
        (None, [(a, _), (b, _), (y, digits)]) => {
            valid(*a, *b, *y, *digits) || valid(*b, *a, *y, *digits)
        }
        _ => false,
    };
    ok.then(|| hit.found(0.85)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(text: &str) -> Vec<&str> {
        crate::detect::pii::hit::judged(PATTERN, birth_date, text)
    }

    #[test]
    fn dates_after_a_birth_word_in_every_layout() {
        for (text, date) in [
            ("DOB: 1990-03-12", "1990-03-12"),
            ("born on 12/03/1990.", "12/03/1990"),
            ("born 03/25/90", "03/25/90"),
            ("Date of birth: 12 March 1990", "12 March 1990"),
            ("birthday is March 12th, 1990", "March 12th, 1990"),
            ("Geburtsdatum: 12. März 1990", "12. März 1990"),
            ("né le 1er mars 1990", "1er mars 1990"),
            (
                "fecha de nacimiento: 12 de marzo de 1990",
                "12 de marzo de 1990",
            ),
        ] {
            assert_eq!(find(text), vec![date], "{text}");
        }
    }

    #[test]
    fn dates_without_a_birth_word_or_impossible_dates_are_left() {
        for text in [
            "the meeting on 12 March 1990",
            "Today is 2021-05-21",
            "born 31/02/1990",
            "born 2024-13-01",
            "DOB: 12 Marchy 1990",
            "born 12.03.1850",
        ] {
            assert!(find(text).is_empty(), "{text}");
        }
    }
}
