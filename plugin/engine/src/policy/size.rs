//! Byte sizes in a policy: a whole number of bytes, or a string such as `"1MiB"` or `"512 KiB"`.

use serde_json::Value;

const UNITS: [(&str, u64); 7] = [
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

/// Reads a byte size, or says why it is not one.
pub fn parse_size(value: &Value) -> Result<u64, String> {
    match value {
        Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| format!("{n} is not a whole number of bytes")),
        Value::String(text) => parse_size_text(text),
        _ => Err("expected a number of bytes or a string such as \"1MiB\"".to_string()),
    }
}

fn parse_size_text(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let (digits, multiplier) = UNITS
        .iter()
        .find_map(|(unit, mult)| {
            trimmed
                .strip_suffix(unit)
                .map(|rest| (rest.trim_end(), *mult))
        })
        .unwrap_or((trimmed, 1));
    let count: u64 = digits.parse().map_err(|_| {
        format!("{text:?} is not a size; write bytes, or a number with KiB, MiB or GiB")
    })?;
    count
        .checked_mul(multiplier)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;
    use serde_json::json;

    #[test]
    fn sizes() {
        let cases = [
            (json!(1024), Ok(1024)),
            (json!("1MiB"), Ok(1 << 20)),
            (json!("512 KiB"), Ok(512 << 10)),
            (json!("2GB"), Ok(2_000_000_000)),
            (json!("10B"), Ok(10)),
            (json!("77"), Ok(77)),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_size(&input), expected, "{input}");
        }
        for bad in [
            json!(-1),
            json!(1.5),
            json!("lots"),
            json!("1 TiB"),
            json!(true),
            json!("99999999999999999999GiB"),
        ] {
            assert!(parse_size(&bad).is_err(), "{bad} should be refused");
        }
    }
}
