//! `content-encoding` for inspection (PSF IG-2, OV-1): a compressed body is decoded, within a
//! size bound, so the checks read what the other side will read, or it is refused. Never
//! passed on unread, and never decoded without a bound (a 1 MB gzip body can hold 1 GB).

use std::io::Read;

/// A content coding the filter can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// A coding the filter does not read, or more than one layered.
    Unsupported(String),
    /// The bytes are not a valid stream of the coding.
    Corrupt(Coding),
    /// Decoded, the body is over the bound.
    TooLarge(usize),
}

impl Coding {
    /// The coding a `content-encoding` value names; `identity` when there is none.
    pub fn parse(header: Option<&str>) -> Result<Coding, DecodeError> {
        let Some(header) = header.map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(Coding::Identity);
        };
        match header.to_ascii_lowercase().as_str() {
            "identity" => Ok(Coding::Identity),
            "gzip" | "x-gzip" => Ok(Coding::Gzip),
            "deflate" => Ok(Coding::Deflate),
            "br" => Ok(Coding::Brotli),
            other => Err(DecodeError::Unsupported(other.chars().take(32).collect())),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
        }
    }
}

/// `body` decoded, at most `max_bytes` long.
pub fn decode(coding: Coding, body: &[u8], max_bytes: usize) -> Result<Vec<u8>, DecodeError> {
    let reader: Box<dyn Read + '_> = match coding {
        Coding::Identity => return Ok(body.to_vec()),
        Coding::Gzip => Box::new(flate2::read::MultiGzDecoder::new(body)),
        // `deflate` is zlib-wrapped by the spec; some senders send it raw.
        Coding::Deflate if body.first().is_some_and(|b| b & 0x0f == 8) => {
            Box::new(flate2::read::ZlibDecoder::new(body))
        }
        Coding::Deflate => Box::new(flate2::read::DeflateDecoder::new(body)),
        Coding::Brotli => Box::new(brotli_decompressor::Decompressor::new(body, 4096)),
    };
    let mut out = Vec::new();
    // One byte past the bound tells "exactly at the bound" from "over it".
    let limit = u64::try_from(max_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    reader
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|_| DecodeError::Corrupt(coding))?;
    if out.len() > max_bytes {
        return Err(DecodeError::TooLarge(max_bytes));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn codings_round_trip() {
        let text = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
        assert_eq!(decode(Coding::Gzip, &gzip(text), 1 << 20).unwrap(), text);
        let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        zlib.write_all(text).unwrap();
        assert_eq!(
            decode(Coding::Deflate, &zlib.finish().unwrap(), 1 << 20).unwrap(),
            text
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        raw.write_all(text).unwrap();
        assert_eq!(
            decode(Coding::Deflate, &raw.finish().unwrap(), 1 << 20).unwrap(),
            text
        );
        // "hi" in brotli, by hand (RFC 7932): window 16, one uncompressed meta-block of
        // two bytes, then an empty last one.
        let br = [0x10, 0x00, 0x10, 0x68, 0x69, 0x03];
        assert_eq!(decode(Coding::Brotli, &br, 16).unwrap(), b"hi");
    }

    #[test]
    fn bombs_and_garbage_are_refused() {
        let bomb = gzip(&vec![b'a'; 10 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert_eq!(
            decode(Coding::Gzip, &bomb, 1 << 20),
            Err(DecodeError::TooLarge(1 << 20))
        );
        assert_eq!(
            decode(Coding::Gzip, b"not gzip", 100),
            Err(DecodeError::Corrupt(Coding::Gzip))
        );
        assert!(decode(Coding::Brotli, b"\xff\xff\xff", 100).is_err());
        assert_eq!(Coding::parse(Some("GZIP")), Ok(Coding::Gzip));
        assert!(matches!(
            Coding::parse(Some("gzip, br")),
            Err(DecodeError::Unsupported(_))
        ));
        assert!(matches!(
            Coding::parse(Some("zstd")),
            Err(DecodeError::Unsupported(_))
        ));
    }
}
