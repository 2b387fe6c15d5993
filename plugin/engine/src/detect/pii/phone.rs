//! Phone numbers. The pattern takes any run of digits, spaces, dashes, dots and parentheses;
//! this judge parses it into groups and scores the shape: an international `+` number or a
//! well-known national layout (NANP `(415) 555-0132`, French pairs, a trunk `0` with groups)
//! stands alone, while bare digit strings need a word such as "phone" or "call" nearby.
//! Dates, dotted quads, card-length runs and glued-on neighbours are refused.

use super::context::{self, Words};
use super::hit::{in_block, is_word, Found, Hit};

/// Words that mark a number as a phone number, in the languages of the national formats.
pub const WORDS: Words = Words::new(&[
    "phone",
    "phones",
    "telephone",
    "tel",
    "tel.",
    "tlf",
    "mobile",
    "mob",
    "cell",
    "cellphone",
    "fax",
    "call",
    "calls",
    "calling",
    "ring",
    "whatsapp",
    "sms",
    "text",
    "contact",
    "hotline",
    "helpline",
    "ph",
    "cel",
    "celular",
    "movil",
    "móvil",
    "telefono",
    "teléfono",
    "telefon",
    "telefone",
    "téléphone",
    "portable",
    "handy",
    "rufnummer",
    "mobil",
    "mobilnummer",
    "telepono",
    "cep",
    "gsm",
    "tél",
    "cellulare",
    "numero di telefono",
    "phone number",
]);

/// Words that name some number just before it ("my number is 09-7625400"): weaker than a
/// phone word, so only a layout that is already plausible becomes a phone number with one.
const NUMBER_WORDS: Words = Words::new(&[
    "number", "numero", "número", "numéro", "nummer", "no.", "nr.",
]);

/// How far before a candidate a number word counts.
const NUMBER_WORD_REACH: usize = 16;

/// Digit groups and separators of a candidate.
struct Shape {
    plus: bool,
    digits: Vec<u8>,
    groups: Vec<usize>,
    dots: bool,
    dashes_or_spaces: bool,
}

fn parse(text: &str) -> Option<Shape> {
    let mut shape = Shape {
        plus: text.starts_with('+'),
        digits: Vec::with_capacity(16),
        groups: Vec::with_capacity(6),
        dots: false,
        dashes_or_spaces: false,
    };
    let body = text.strip_prefix('+').unwrap_or(text);
    let (mut open, mut parens, mut run, mut seps) = (false, 0, 0usize, 0);
    let mut previous = b'0';
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => {
                shape.digits.push(b - b'0');
                run += 1;
                seps = 0;
                previous = b;
                continue;
            }
            b'(' if !open && parens == 0 => open = true,
            b')' if open => {
                open = false;
                parens += 1;
            }
            b' ' | b'-' => shape.dashes_or_spaces = true,
            b'.' => shape.dots = true,
            _ => return None,
        }
        if run > 0 {
            shape.groups.push(run);
            run = 0;
        }
        seps += 1;
        // Two separators in a row only around a parenthesis: ") " or " (".
        if seps > 2 || (seps == 2 && !matches!(b, b'(' | b')') && !matches!(previous, b'(' | b')'))
        {
            return None;
        }
        previous = b;
    }
    if open || run == 0 {
        return None;
    }
    shape.groups.push(run);
    // Dots only in a uniform layout: "415.555.0132", never mixed with dashes.
    if shape.dots && shape.dashes_or_spaces {
        return None;
    }
    Some(shape)
}

/// A date ("21.05.2021", "2021-05-21") or a dotted quad ("192.168.0.1").
fn looks_like_date_or_address(shape: &Shape) -> bool {
    let g = &shape.groups;
    let date = g.len() == 3
        && shape.digits.len() <= 8
        && (matches!(g.as_slice(), [4, 1 | 2, 1 | 2]) || (g[0] <= 2 && g[1] <= 2));
    let mut values = shape.digits.iter();
    let quad = shape.dots
        && g.len() == 4
        && g.iter().all(|&len| {
            let value = values
                .by_ref()
                .take(len)
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d));
            len <= 3 && value <= 255
        });
    date || quad
}

/// The base score of a layout, before context.
fn layout_score(shape: &Shape) -> Option<f32> {
    let d = &shape.digits;
    let n = d.len();
    let g = &shape.groups;
    if n < 7 {
        return None;
    }
    if g.iter().filter(|&&len| len == 1).count() > 2 {
        return None; // "1 2 3 4 5 6 7": a list, not a number
    }
    if shape.plus {
        return ((8..=15).contains(&n) && d[0] != 0).then_some(0.75);
    }
    if looks_like_date_or_address(shape) {
        return None;
    }
    // International prefix written as 00 instead of +.
    if (10..=17).contains(&n) && d[0] == 0 && d[1] == 0 && d[2] != 0 && g.len() >= 3 {
        return Some(0.6);
    }
    // Chinese mobile: 1, then 3 to 9, then nine digits, bare or as 3-4-4.
    if n == 11 && d[0] == 1 && d[1] >= 3 && matches!(g.as_slice(), [11] | [3, 4, 4]) {
        return Some(0.4);
    }
    let nanp = |a: usize| d[a] >= 2 && d[a + 3] >= 2 && !(d[a + 1] == 1 && d[a + 2] == 1);
    if (n == 10 && nanp(0)) || (n == 11 && d[0] == 1 && nanp(1)) {
        let layout = matches!(g.as_slice(), [3, 3, 4] | [1, 3, 3, 4]);
        return Some(if layout { 0.6 } else { 0.3 });
    }
    if d[0] == 0 && d[1] != 0 {
        if n == 10 && g.as_slice() == [2, 2, 2, 2, 2] {
            return Some(0.6); // French pairs
        }
        // Mobile numbers in many plans are 0 + [5-9] + nine digits (UK 07, Turkey 05,
        // Philippines 09, Nigeria 08, Japan 090), and are often written bare.
        let mobile = n == 11 && d[1] >= 5;
        return Some(match (g.len(), n) {
            (3.., 10..=12) => 0.5,
            (_, 11) if mobile => 0.5,
            (2.., 9..=12) | (1, 10..=11) => 0.4,
            (_, 7..=12) => 0.3,
            _ => return None,
        });
    }
    // Russian and Turkish style "532 123 45 67", with or without the area in parentheses.
    if matches!(g.as_slice(), [3, 3, 2, 2] | [1, 3, 3, 2, 2]) {
        return Some(0.5);
    }
    if n == 10 && d[0] >= 6 {
        return Some(0.35); // Indian mobile
    }

    (7..=12).contains(&n).then_some(0.25)
}

/// Judges a phone-number candidate.
pub fn phone(hit: Hit<'_>) -> Option<Found> {
    // Glued to a word, an amount, a path or a longer number: not a phone number. A
    // `tel:` link (`href="tel:+14155550132"`) is a number written for dialling.
    if hit
        .before(1)
        .is_some_and(|b| b.is_ascii_alphanumeric() || b"._/#$%&*@:=+-".contains(&b))
        && !tel_link(&hit)
    {
        return None;
    }
    let continues = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_digit());
    let extension = extension_len(&hit);
    match hit.after(0) {
        _ if extension > 0 => {}
        Some(b) if b.is_ascii_alphanumeric() || b == b'_' => return None,
        Some(b'.' | b'-' | b'/' | b':') if continues(hit.after(1)) => return None,
        _ => {}
    }
    let shape = parse(hit.as_str())?;
    if !shape.plus && in_block(&hit) {
        return None;
    }
    let base = layout_score(&shape)?;
    let boost = if context::around(hit.text, hit.start, hit.end, &WORDS) {
        0.35
    } else if context::before(hit.text, hit.start, NUMBER_WORD_REACH, &NUMBER_WORDS) {
        // Enough for a layout at 0.4 (a trunk 0 with groups, a Chinese mobile), not for
        // a bare ten digits.
        0.12
    } else {
        0.0
    };
    let mut found = hit.found((base + boost).min(1.0))?;
    found.end += extension;
    Some(found)
}

/// Whether the number follows a `tel:` or `sms:` scheme that starts a word.
fn tel_link(hit: &Hit<'_>) -> bool {
    let head = &hit.text.as_bytes()[..hit.start];
    [b"tel:".as_slice(), b"sms:"].iter().any(|scheme| {
        head.len() >= scheme.len()
            && head[head.len() - scheme.len()..].eq_ignore_ascii_case(scheme)
            && (head.len() == scheme.len()
                || !head[head.len() - scheme.len() - 1].is_ascii_alphanumeric())
    })
}

/// The length of an extension written right after a number ("x123", " ext. 45", " x 6789"),
/// which belongs to it, or 0. Only digits that end there count: "555-0132xyz" is no number.
fn extension_len(hit: &Hit<'_>) -> usize {
    let rest = hit.text.as_bytes().get(hit.end..).unwrap_or_default();
    let spaced = usize::from(rest.first() == Some(&b' '));
    let after_space = &rest[spaced..];
    let marker = [&b"ext."[..], b"ext", b"x", b"X", b"Ext."]
        .iter()
        .find(|m| after_space.starts_with(m))
        .map_or(0, |m| m.len());
    if marker == 0 {
        return 0;
    }
    let mut at = spaced + marker;
    at += usize::from(rest.get(at) == Some(&b' '));
    let digits = rest[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    let ends = !rest.get(at + digits).is_some_and(|&b| is_word(b));
    if (1..=6).contains(&digits) && ends {
        at + digits
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(text: &str, span: &str) -> f32 {
        let start = text.find(span).unwrap_or(0);
        phone(Hit {
            text,
            start,
            end: start + span.len(),
        })
        .map_or(0.0, |f| f.score)
    }

    #[test]
    fn strong_layouts_stand_alone() {
        for number in [
            "+1 415 555 0132",
            "(415) 555-0132",
            "415-555-0132",
            "+44 (20) 7123 4567",
            "+49 30 1234567",
            "01 42 68 53 00",
            "+91 98765 43210",
            "0917 123 4567",
            "0 532 123 45 67",
            "532 123 45 67",
            "09171234567",
            "532.123.45.67",
        ] {
            assert!(score(number, number) >= 0.5, "{number}");
        }
    }

    #[test]
    fn weak_layouts_need_a_context_word() {
        for number in [
            "4155550132",
            "030 1234567",
            "555-0132",
            "9876543210",
            "02121234567",
            "13812345678",
        ] {
            assert!(score(number, number) < 0.5, "{number}");
            let text = format!("call me on {number}");
            assert!(score(&text, number) >= 0.5, "{text}");
        }
    }

    #[test]
    fn an_extension_belongs_to_the_number() {
        let found = |text: &str, number: &str| {
            let start = text.find(number).unwrap_or(0);
            phone(Hit {
                text,
                start,
                end: start + number.len(),
            })
            .and_then(|f| text.get(f.start..f.end))
            .unwrap_or_default()
            .to_owned()
        };
        for (text, number, whole) in [
            ("212-555-0187x4567", "212-555-0187", "212-555-0187x4567"),
            (
                "001-212-555-0187x123 ok",
                "001-212-555-0187",
                "001-212-555-0187x123",
            ),
            (
                "+1-212-555-0187 ext. 89",
                "+1-212-555-0187",
                "+1-212-555-0187 ext. 89",
            ),
            ("(212)555-0187 x 12.", "(212)555-0187", "(212)555-0187 x 12"),
        ] {
            assert_eq!(found(text, number), whole, "{text}");
        }
        // Letters or too many digits after the marker: not an extension, and still glued.
        for (text, number) in [
            ("212-555-0187xyz", "212-555-0187"),
            ("212-555-0187x12345678", "212-555-0187"),
        ] {
            assert_eq!(found(text, number), "", "{text}");
        }
        assert_eq!(found("212-555-0187 extra", "212-555-0187"), "212-555-0187");
    }

    #[test]
    fn a_number_word_lifts_only_a_plausible_layout() {
        for (text, number) in [
            ("My Israeli number is 09-7625400", "09-7625400"),
            ("My CN number is 13812345678", "13812345678"),
        ] {
            assert!(score(text, number) >= 0.5, "{text}");
        }
        for (text, number) in [
            ("order number 12345678", "12345678"),
            ("invoice no. 4417 2031", "4417 2031"),
            ("the number 1234567 is prime", "1234567"),
            ("Numero: 9171234567", "9171234567"),
        ] {
            assert!(score(text, number) < 0.5, "{text}");
        }
    }

    #[test]
    fn a_tel_link_is_a_number_but_a_glued_word_is_not() {
        assert!(score("<a href=\"tel:+14155550132\">", "+14155550132") >= 0.5);
        assert!(score("SMS:+44 20 7946 0958", "+44 20 7946 0958") >= 0.5);
        assert!(score("hotel:+14155550132", "+14155550132") < 0.5);
        assert!(score("id:+14155550132", "+14155550132") < 0.5);
    }

    #[test]
    fn dates_addresses_cards_and_neighbours_are_refused() {
        for (text, span) in [
            ("2021-05-21", "2021-05-21"),
            ("phone 21.05.2021", "21.05.2021"),
            ("call 192.168.0.1", "192.168.0.1"),
            ("4111 1111 1111 1111", "4111 1111 1111 1111"),
            ("+0 123 456 789", "+0 123 456 789"),
            ("v1234567890", "1234567890"),
            ("#12345678", "12345678"),
            ("(415 555-0132", "(415 555-0132"),
            ("415--555--0132", "415--555--0132"),
            ("1 2 3 4 5 6 7", "1 2 3 4 5 6 7"),
        ] {
            assert!(score(text, span) < 0.5, "{text}");
        }
        assert!(
            score("123-456-7890", "123-456-7890") < 0.5,
            "NANP area code"
        );
    }
}
