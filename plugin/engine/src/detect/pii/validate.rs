//! Checksum and structure validators. Each takes the candidate as found in the text
//! (separators included) and says whether it is structurally valid, so detectors report
//! real identifiers and leave invalid look-alikes alone.

/// The ASCII digits of `text`, ignoring spaces, dashes and dots; `None` if anything else.
fn digits(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'0'..=b'9' => out.push(byte - b'0'),
            b' ' | b'-' | b'.' | b'/' | b'_' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Luhn (mod 10), as used by payment cards, Canadian SINs and IMEIs.
pub fn luhn(text: &str) -> bool {
    let Some(digits) = digits(text) else {
        return false;
    };
    if digits.len() < 2 {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A payment card: 12–19 digits, a known issuer prefix (IIN) and a valid Luhn digit.
pub fn payment_card(text: &str) -> bool {
    let Some(digits) = digits(text) else {
        return false;
    };
    if !(12..=19).contains(&digits.len()) || !luhn(text) {
        return false;
    }
    let prefix = |n: usize| {
        digits[..n]
            .iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d))
    };
    let (one, two, four, six) = (prefix(1), prefix(2), prefix(4), prefix(6));
    let len = digits.len();
    match one {
        1 => len == 15,                   // UATP
        4 => matches!(len, 13 | 16 | 19), // Visa
        5 => {
            ((51..=55).contains(&two) && len == 16)     // Mastercard
            || two == 50                                 // Maestro, Dankort (5019)
            || (56..=58).contains(&two)
        } // Maestro
        2 => (2221..=2720).contains(&four) && len == 16, // Mastercard 2-series
        3 => {
            (matches!(two, 34 | 37) && len == 15) // Amex
                || (two == 36 && (14..=19).contains(&len)) // Diners
                || ((300..=305).contains(&prefix(3)) && (14..=19).contains(&len))
                || (38..=39).contains(&two) && (14..=19).contains(&len)
                || ((3528..=3589).contains(&four) && (16..=19).contains(&len)) // JCB
        }
        6 => {
            four == 6011
                || (644..=649).contains(&prefix(3))
                || two == 65
                || (622_126..=622_925).contains(&six)
                || matches!(two, 62 | 63 | 67) // UnionPay, Maestro
        }
        _ => false,
    }
}

/// IBAN lengths by country (ISO 13616 registry).
const IBAN_LENGTHS: [(&str, usize); 89] = [
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
    ("HN", 28),
];

/// The IBAN length of a country (`"DE"` → 22, any case), if it issues IBANs.
pub fn iban_length(country: &str) -> Option<usize> {
    IBAN_LENGTHS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(country))
        .map(|(_, length)| *length)
}

/// An IBAN: the country's length and the ISO 7064 mod-97 check (spaces or dashes allowed).
pub fn iban(text: &str) -> bool {
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b' ' && *b != b'-')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() < 15 || !compact.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let country = std::str::from_utf8(&compact[..2]).unwrap_or_default();
    let Some(length) = iban_length(country) else {
        return false;
    };
    if compact.len() != length || !compact[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let rearranged: Vec<u8> = compact[4..].iter().chain(&compact[..4]).copied().collect();
    mod97_remainder(&rearranged) == Some(1)
}

/// The ISO 7064 mod-97 remainder of upper-case letters and digits, letters counting as
/// 10–35; `None` on anything else.
fn mod97_remainder(chars: &[u8]) -> Option<u32> {
    let mut remainder: u32 = 0;
    for &c in chars {
        let value = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return None,
        };
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    Some(remainder)
}

/// ISO 7064 MOD 97-10 over the letters and digits of `text` (other characters are
/// separators): the remainder must be 1 with the check digits last (LEI) or, as IBANs and
/// RF creditor references carry them, after moving the first four characters to the end.
pub fn mod97(text: &str) -> bool {
    let chars: Vec<u8> = text
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if chars.len() < 5 {
        return false;
    }
    let rearranged: Vec<u8> = chars[4..].iter().chain(&chars[..4]).copied().collect();
    mod97_remainder(&chars) == Some(1) || mod97_remainder(&rearranged) == Some(1)
}

/// Verhoeff's dihedral check digit, as used by India's Aadhaar.
pub fn verhoeff(text: &str) -> bool {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    let Some(digits) = digits(text) else {
        return false;
    };
    if digits.len() < 2 {
        return false;
    }
    let check = digits.iter().rev().enumerate().fold(0u8, |c, (i, &d)| {
        D[usize::from(c)][usize::from(P[i % 8][usize::from(d)])]
    });
    check == 0
}

/// An Aadhaar number: 12 digits, not starting with 0 or 1, with a Verhoeff check digit.
pub fn aadhaar(text: &str) -> bool {
    digits(text).is_some_and(|d| d.len() == 12 && d[0] >= 2) && verhoeff(text)
}

/// A US Social Security number in a range the SSA issues: area not 000, 666 or 900–999,
/// group not 00, serial not 0000, and not one of the numbers voided after appearing in
/// advertising (078-05-1120 on a wallet insert, 219-09-9999 in an SSA leaflet).
pub fn us_ssn(text: &str) -> bool {
    let Some(d) = digits(text) else {
        return false;
    };
    if d.len() != 9 {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        d[range]
            .iter()
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    let (area, group, serial) = (number(0..3), number(3..5), number(5..9));
    let voided = matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !voided
}

/// A Spanish DNI (8 digits and a letter) or NIE (X, Y or Z, 7 digits and a letter), with
/// the mod-23 control letter.
pub fn es_dni(text: &str) -> bool {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b'-' && *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    // Old DNIs are written with seven digits; the missing one is a leading zero.
    let compact = if compact.len() == 8 && compact[0].is_ascii_digit() {
        [&[b'0'][..], &compact].concat()
    } else {
        compact
    };
    if compact.len() != 9 {
        return false;
    }
    let lead = match compact[0] {
        b'X' => Some(0),
        b'Y' => Some(1),
        b'Z' => Some(2),
        b'0'..=b'9' => None,
        _ => return false,
    };
    let body = &compact[usize::from(lead.is_some())..8];
    if !body.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = body.iter().fold(lead.unwrap_or(0u32), |acc, &b| {
        acc * 10 + u32::from(b - b'0')
    });
    LETTERS[(number % 23) as usize] == compact[8]
}

/// A UK National Insurance number: two prefix letters from the allowed set, six digits and
/// a suffix A–D.
pub fn uk_nino(text: &str) -> bool {
    let compact: Vec<u8> = text
        .bytes()
        .filter(|b| *b != b' ')
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if compact.len() != 9 {
        return false;
    }
    let (first, second) = (compact[0], compact[1]);
    let letter_ok = |c: u8, banned: &[u8]| c.is_ascii_uppercase() && !banned.contains(&c);
    let prefix = [first, second];
    letter_ok(first, b"DFIQUV")
        && letter_ok(second, b"DFIOQUV")
        && !matches!(
            &prefix,
            b"BG" | b"GB" | b"NK" | b"KN" | b"TN" | b"NT" | b"ZZ"
        )
        && compact[2..8].iter().all(u8::is_ascii_digit)
        && matches!(compact[8], b'A'..=b'D')
}

/// A US ABA routing number: nine digits with the 3-7-1 weighted checksum and a Federal
/// Reserve prefix (00–12, 21–32, 61–72 or 80).
pub fn aba_routing(text: &str) -> bool {
    let Some(d) = digits(text) else {
        return false;
    };
    if d.len() != 9 {
        return false;
    }
    let prefix = d[0] * 10 + d[1];
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) {
        return false;
    }
    let weights = [3u32, 7, 1];
    let sum: u32 = d
        .iter()
        .enumerate()
        .map(|(i, &x)| u32::from(x) * weights[i % 3])
        .sum();
    sum.is_multiple_of(10) && sum > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_cards_need_luhn_and_a_known_issuer() {
        for valid in [
            "4012888888881881",
            "4111 1111 1111 1111",
            "5555-5555-5555-4444",
            "378282246310005",
            "6011111111111117",
            "2223003122003222",
            "3530111333300000",
            "122000000000003",  // UATP
            "5019717010103742", // Dankort
            "6759649826438453", // Maestro
        ] {
            assert!(payment_card(valid), "{valid}");
        }
        for invalid in [
            "4012888888881882", // bad Luhn
            "1234567812345670", // Luhn-valid, no issuer
            "4111-1111-1111",   // too short
            "4111 1111 1111 111a",
        ] {
            assert!(!payment_card(invalid), "{invalid}");
        }
    }

    #[test]
    fn ibans_need_the_country_length_and_mod_97() {
        for valid in [
            "AL47212110090000000235698741",
            "DE89 3704 0044 0532 0130 00",
            "GB82 WEST 1234 5698 7654 32",
            "fr1420041010050500013m02606",
            "XK05 1212 0123 4567 8906",
            "VA59 0011 2300 0012 3456 78",
            "AL47-2121-1009-0000-0002-3569-8741",
        ] {
            assert!(iban(valid), "{valid}");
        }
        assert_eq!(iban_length("de"), Some(22));
        assert_eq!(iban_length("XX"), None);
        assert!(mod97("DE89 3704 0044 0532 0130 00") && mod97("RF18 5390 0754 7034"));
        assert!(mod97("5493001KJTIIGC8Y1R12"), "an LEI: check digits last");
        assert!(!mod97("DE88 3704 0044 0532 0130 00") && !mod97("12") && !mod97(""));
        for invalid in [
            "DE89 3704 0044 0532 0130 01", // check digits wrong
            "DE89 3704 0044 0532 0130",    // too short for DE
            "XX89370400440532013000",      // unknown country
        ] {
            assert!(!iban(invalid), "{invalid}");
        }
    }

    #[test]
    fn national_ids_follow_their_rules() {
        assert!(verhoeff("2363") && !verhoeff("2364"));
        assert!(aadhaar("2345 6789 0124"));
        assert!(!aadhaar("2345 6789 0125") && !aadhaar("1345 6789 0124"));
        assert!(us_ssn("078-05-1121") && us_ssn("123-45-6789"));
        assert!(!us_ssn("000-12-3456") && !us_ssn("666-12-3456") && !us_ssn("912-34-5678"));
        assert!(!us_ssn("123-00-4567") && !us_ssn("123-45-0000"));
        assert!(!us_ssn("078-05-1120") && !us_ssn("219099999") && us_ssn("078-05-1121"));
        assert!(es_dni("55555555K") && es_dni("Z8078221M") && es_dni("X1234567L"));
        assert!(es_dni("1111111-G"), "seven-digit DNIs have a leading zero");
        assert!(!es_dni("55555555A") && !es_dni("Z8078221A"));
        assert!(uk_nino("AA 12 34 56 B") && !uk_nino("DA 12 34 56 B") && !uk_nino("AA 12 34 56 E"));
        assert!(aba_routing("121000358") && !aba_routing("121000359"));
        assert!(!aba_routing("421042111"), "no such Federal Reserve prefix");
    }

    #[test]
    fn hostile_candidates_are_refused_without_panic() {
        let long = "9".repeat(100_000);
        for text in ["", "-", "é", "🦀🦀", long.as_str(), "AL", "X", "ZZ12345678"] {
            let _ = (payment_card(text), iban(text), aadhaar(text), us_ssn(text));
            let _ = (es_dni(text), uk_nino(text), aba_routing(text), luhn(text));
        }
    }
}
