//! The byte scan under the prefilter: finds the next byte an entity could hinge on,
//! eight bytes at a time with plain integer arithmetic (SWAR), so it runs as fast in a
//! WebAssembly VM as natively. Prose is mostly lower-case letters, spaces and
//! punctuation outside the stop set, so most chunks are passed over in a few operations.

/// Whether the scan stops at `b`: digits, `:;<=>?@A`, `-` and `_`:
/// every byte the window scan acts on (see [`super::window`]), plus `;<>?` which share
/// the range.
pub fn stops_at(b: u8) -> bool {
    (b'0'..=b'A').contains(&b) || b == b'-' || b == b'_'
}

/// The stop bytes of eight bytes, as bit 7 of each (plus, harmlessly, some bytes above a
/// true stop): `0`–`A` by range, `-` and `_` by equality.
fn stops_in(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let equal = |c: u8| {
        let v = x ^ (ONES * u64::from(c));
        v.wrapping_sub(ONES) & !v & HIGH
    };
    let y = x & LOW7; // no byte carries into the next below
    let from_zero = y.wrapping_add(0x5050_5050_5050_5050); // ≥ '0' sets bit 7
    let to_capital_a = !y.wrapping_add(0x3e3e_3e3e_3e3e_3e3e); // ≤ 'A' keeps bit 7
    (from_zero & to_capital_a & !x & HIGH) | equal(b'-') | equal(b'_')
}

/// The next position at or after `i` where [`stops_at`] holds, sixteen bytes at a time.
pub fn skip(bytes: &[u8], mut i: usize) -> usize {
    let word = |chunk: &[u8]| <[u8; 8]>::try_from(chunk).map_or(0, u64::from_le_bytes);
    while let Some(chunk) = bytes.get(i..i + 16) {
        let (low, high) = chunk.split_at(8);
        let (low, high) = (stops_in(word(low)), stops_in(word(high)));
        if low != 0 {
            return i + (low.trailing_zeros() / 8) as usize;
        }
        if high != 0 {
            return i + 8 + (high.trailing_zeros() / 8) as usize;
        }
        i += 16;
    }
    while i < bytes.len() && !stops_at(bytes[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_skip_stops_exactly_at_candidate_bytes() {
        let text = "plain words, then: more é words - and a Capital, AGJ_ @=9 ~\u{7f}\u{80}. Zz";
        let stops: Vec<usize> = {
            let mut stops = Vec::new();
            let mut i = 0;
            loop {
                i = skip(text.as_bytes(), i);
                if i >= text.len() {
                    break;
                }
                stops.push(i);
                i += 1;
            }
            stops
        };
        let expected: Vec<usize> = text
            .bytes()
            .enumerate()
            .filter(|(_, b)| stops_at(*b))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(stops, expected);
    }
}
