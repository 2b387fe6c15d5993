//! High-entropy tokens: long runs of base64 or hex characters whose Shannon entropy per
//! character is high, as generated keys are and words are not. Off unless configured,
//! since hashes, ids and encoded data have the same shape.

use super::hit::Found;

/// The longest token judged: longer runs are encoded data (an image, a bundle), not keys.
pub const MAX_TOKEN: usize = 1024;

/// The characters of base64, base64url and hex tokens.
fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-')
}

/// Shannon entropy of `bytes`, in bits per character.
pub fn bits_per_char(bytes: &[u8]) -> f32 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f32;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f32 / n;
            -p * p.log2()
        })
        .sum()
}

/// Every token of `text` at least `min_length` long (trailing `=` padding aside), with at
/// least two of upper case, lower case and digits, and at least `min_bits` bits per
/// character.
pub fn find(text: &str, min_length: usize, min_bits: f32) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        if !is_token(bytes[at]) {
            at += 1;
            continue;
        }
        let start = at;
        while at < bytes.len() && is_token(bytes[at]) {
            at += 1;
        }
        let mut end = at;
        while end > start && bytes[end - 1] == b'=' {
            end -= 1;
        }
        let token = &bytes[start..end];
        if token.len() < min_length.max(1) || token.len() > MAX_TOKEN {
            continue;
        }
        let classes = [
            token.iter().any(u8::is_ascii_uppercase),
            token.iter().any(u8::is_ascii_lowercase),
            token.iter().any(u8::is_ascii_digit),
        ];
        if classes.iter().filter(|c| **c).count() >= 2 && bits_per_char(token) >= min_bits {
            out.push(Found {
                start,
                end,
                score: 0.6,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(bits_per_char(b"aaaa"), 0.0);
        assert!((bits_per_char(b"abcd") - 2.0).abs() < 1e-6);
    }

    #[test]
    fn finds_random_tokens_and_leaves_words_and_repeats() {
        let key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB";
        let text = format!("key {key}, internationalization, aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1, é");
        let found = find(&text, 20, 4.0);
        assert_eq!(found.len(), 1);
        assert_eq!(text.get(found[0].start..found[0].end), Some(key));
        assert!(
            find(&"A1".repeat(5000), 20, 0.5).is_empty(),
            "too long to be a key"
        );
    }
}
