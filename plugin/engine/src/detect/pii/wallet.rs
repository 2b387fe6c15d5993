//! Crypto wallet addresses, validated by their own checksums: Bitcoin base58check (double
//! SHA-256) for legacy `1…`/`3…` addresses, bech32/bech32m (BIP-173/350) for `bc1…`, and
//! EIP-55 (Keccak-256) for mixed-case Ethereum addresses. An all-lower or all-upper
//! Ethereum address carries no checksum, so it needs a wallet word nearby.

use super::context::{self, Words};
use super::hit::{Found, Hit};
use super::keccak::keccak256;
use sha2::{Digest, Sha256};

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// Words that make an unchecksummed `0x…` string a wallet address rather than a hash.
const ETH_WORDS: Words = Words::new(&[
    "eth",
    "ether",
    "ethereum",
    "wallet",
    "address",
    "addr",
    "metamask",
    "erc20",
    "usdt",
    "usdc",
    "send",
    "pay",
    "deposit",
    "withdraw",
    "transfer",
    "recipient",
    "account",
]);

/// A Bitcoin mainnet address, legacy or segwit.
pub fn btc(hit: Hit<'_>) -> Option<Found> {
    let text = hit.as_str();
    let valid = if text.len() > 3 && text.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("bc1")) {
        bech32_address(text)
    } else {
        base58check(text)
    };
    valid.then(|| hit.found(0.95)).flatten()
}

/// Base58check with a P2PKH (0x00) or P2SH (0x05) version byte.
fn base58check(text: &str) -> bool {
    if !(26..=35).contains(&text.len()) {
        return false;
    }
    // Big-endian base-256 number built digit by digit; 25 bytes is all a valid one needs.
    let mut bytes: Vec<u8> = Vec::with_capacity(25);
    for c in text.bytes() {
        let Some(mut carry) = BASE58.iter().position(|&a| a == c).map(|v| v as u32) else {
            return false;
        };
        for byte in bytes.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            bytes.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = text.bytes().take_while(|&c| c == b'1').count();
    let mut decoded = vec![0u8; zeros];
    decoded.extend(bytes);
    if decoded.len() != 25 || !matches!(decoded[0], 0x00 | 0x05) {
        return false;
    }
    let (payload, checksum) = decoded.split_at(21);
    Sha256::digest(Sha256::digest(payload))[..4] == *checksum
}

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GENERATOR: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    values.fold(1u32, |checksum, value| {
        let top = checksum >> 25;
        let mut next = ((checksum & 0x01ff_ffff) << 5) ^ u32::from(value);
        for (i, g) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                next ^= g;
            }
        }
        next
    })
}

/// A `bc1` segwit address: one case, bech32 for version 0 and bech32m after, and a
/// witness program of a valid length.
fn bech32_address(text: &str) -> bool {
    if text.len() > 90
        || (text.bytes().any(|b| b.is_ascii_lowercase())
            && text.bytes().any(|b| b.is_ascii_uppercase()))
    {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let Some(data) = lower.strip_prefix("bc1") else {
        return false;
    };
    let Some(values) = data
        .bytes()
        .map(|c| BECH32.iter().position(|&a| a == c).map(|v| v as u8))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    if values.len() < 7 {
        return false;
    }
    // The human-readable part "bc", expanded as BIP-173 specifies.
    let hrp = [3u8, 3, 0, 2, 3];
    let residue = bech32_polymod(hrp.into_iter().chain(values.iter().copied()));
    let version = values[0];
    let expected = if version == 0 { 1 } else { 0x2bc8_30a3 };
    if residue != expected || version > 16 {
        return false;
    }
    // 5-bit groups back to bytes; leftover bits must be zero padding under a byte.
    let program_bits = &values[1..values.len() - 6];
    let (mut acc, mut bits, mut program) = (0u32, 0u32, Vec::with_capacity(40));
    for &v in program_bits {
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            program.push(((acc >> bits) & 0xff) as u8);
        }
    }
    if bits >= 5 || (acc & ((1 << bits) - 1)) != 0 {
        return false;
    }
    match version {
        0 => matches!(program.len(), 20 | 32),
        _ => (2..=40).contains(&program.len()),
    }
}

/// An Ethereum address: a mixed-case one must pass EIP-55; a single-case one has no
/// checksum, so it scores as format only and needs a wallet word nearby.
pub fn eth(hit: Hit<'_>) -> Option<Found> {
    let hex = hit.as_str().get(2..)?;
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        return eip55(hex).then(|| hit.found(0.95)).flatten();
    }
    let near = context::around(hit.text, hit.start, hit.end, &ETH_WORDS);
    hit.found(if near { 0.8 } else { 0.45 })
}

/// EIP-55: each letter is upper case exactly when its nibble of Keccak-256(lowercase
/// address) is 8 or more.
fn eip55(hex: &str) -> bool {
    let lower = hex.to_ascii_lowercase();
    let hash = keccak256(lower.as_bytes());
    hex.bytes().enumerate().all(|(i, c)| {
        let nibble = (hash[i / 2] >> if i % 2 == 0 { 4 } else { 0 }) & 0x0f;
        !c.is_ascii_alphabetic() || c.is_ascii_uppercase() == (nibble >= 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge(judge: fn(Hit<'_>) -> Option<Found>, text: &str) -> Option<f32> {
        judge(Hit {
            text,
            start: 0,
            end: text.len(),
        })
        .map(|f| f.score)
    }

    #[test]
    fn bitcoin_addresses_pass_their_checksums() {
        for address in [
            "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ",
            "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",
        ] {
            assert_eq!(judge(btc, address), Some(0.95), "{address}");
        }
        for bad in [
            "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyZ2", // one character too many
            "16Yeky6GMjeNkAiNcBY7ZhrLoMSgg1BoyY",  // checksum
            "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdp", // checksum
            "bc1Qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", // mixed case
            // A version-1 program with the version-0 (bech32) checksum.
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx",
        ] {
            assert_eq!(judge(btc, bad), None, "{bad}");
        }
    }

    #[test]
    fn ethereum_mixed_case_needs_eip55() {
        for address in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            assert_eq!(judge(eth, address), Some(0.95), "{address}");
        }
        assert_eq!(
            judge(eth, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"),
            None
        );
        assert!(judge(eth, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").is_some_and(|s| s < 0.5));
        let text = "my wallet: 0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        let hit = Hit {
            text,
            start: 11,
            end: text.len(),
        };
        assert!(eth(hit).is_some_and(|f| f.score >= 0.5));
    }
}
