//! Tamper evidence for audit records (PSF OM-5, EA-4): every record carries the VM that wrote
//! it, a sequence number, and the hash of the record before it from the same VM, and ends with
//! its own hash. Editing a record breaks its hash; deleting one breaks the next record's link.
//!
//! A sealed line is `{"vm":…,"seq":N,"prev":"<hex>",…,"hash":"<hex>"}` where `hash` is the
//! SHA-256 of the line with `,"hash":"…"` removed (so it ends in the body's own `}`).
//! Removing records on purpose (retention, erasure) leaves a signed [`Tombstone`] that bridges
//! the chain over the range it replaced.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `prev` of a VM's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One VM's chain: where the next record links to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    vm: String,
    seq: u64,
    prev: String,
}

/// What a sealed line says about its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Link {
    pub vm: String,
    pub seq: u64,
    pub prev: String,
    pub hash: String,
}

/// Why a line is not a well-sealed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// Not JSON, or without `vm`, `seq`, `prev` and `hash`.
    Unreadable(String),
    /// The hash does not match the content: the record was edited.
    HashMismatch,
}

impl Chain {
    /// A new chain for the VM `vm` (a random id drawn when the VM starts).
    pub fn new(vm: impl Into<String>) -> Self {
        Self {
            vm: vm.into(),
            seq: 0,
            prev: GENESIS.to_string(),
        }
    }

    pub fn vm(&self) -> &str {
        &self.vm
    }

    /// Seals `body`, a JSON object's text (`{…}`), as the next record: the line to write.
    pub fn seal(&mut self, body: &str) -> String {
        let rest = body.trim().strip_prefix('{').unwrap_or("}");
        let separator = if rest.trim_start().starts_with('}') {
            ""
        } else {
            ","
        };
        let mut line = format!(
            "{{\"vm\":{},\"seq\":{},\"prev\":\"{}\"{separator}{rest}",
            serde_json::Value::String(self.vm.clone()),
            self.seq,
            self.prev
        );
        let hash = sha256_hex(line.as_bytes());
        line.truncate(line.len() - 1);
        line.push_str(",\"hash\":\"");
        line.push_str(&hash);
        line.push_str("\"}");
        self.seq += 1;
        self.prev = hash;
        line
    }
}

/// Reads a sealed line and checks its hash against its content.
pub fn check_line(line: &str) -> Result<Link, LineError> {
    let line = line.trim_end_matches(['\n', '\r']);
    let link: Link =
        serde_json::from_str(line).map_err(|e| LineError::Unreadable(e.to_string()))?;
    let suffix = format!(",\"hash\":\"{}\"}}", link.hash);
    let Some(content) = line.strip_suffix(&suffix) else {
        return Err(LineError::Unreadable(
            "the hash is not the record's last field".into(),
        ));
    };
    let mut sealed = content.to_string();
    sealed.push('}');
    if sha256_hex(sealed.as_bytes()) != link.hash {
        return Err(LineError::HashMismatch);
    }
    Ok(link)
}

/// Stands in for a range of one VM's records removed on purpose, so the chain still verifies:
/// its `prev` is the link of the first removed record, `last_hash` the hash of the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tombstone {
    #[serde(rename = "type")]
    pub kind: String,
    pub vm: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub prev: String,
    pub last_hash: String,
    /// `retention` or `erasure`.
    pub reason: String,
    /// When it was written (RFC 3339).
    pub at: String,
    /// HMAC-SHA256 of the fields above under the operator's key.
    pub signature: String,
}

impl Tombstone {
    pub const TYPE: &'static str = "psf.audit.tombstone";

    /// A signed tombstone for the records `first_seq..=last_seq` of `vm`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vm: &str,
        first_seq: u64,
        last_seq: u64,
        prev: &str,
        last_hash: &str,
        reason: &str,
        at: &str,
        key: &[u8],
    ) -> Self {
        let mut tombstone = Self {
            kind: Self::TYPE.to_string(),
            vm: vm.to_string(),
            first_seq,
            last_seq,
            prev: prev.to_string(),
            last_hash: last_hash.to_string(),
            reason: reason.to_string(),
            at: at.to_string(),
            signature: String::new(),
        };
        tombstone.signature = tombstone.expected_signature(key);
        tombstone
    }

    /// Whether the signature was made with `key`.
    pub fn signed_with(&self, key: &[u8]) -> bool {
        self.signature == self.expected_signature(key)
    }

    fn expected_signature(&self, key: &[u8]) -> String {
        let fields = format!(
            "{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.kind,
            self.vm,
            self.first_seq,
            self.last_seq,
            self.prev,
            self.last_hash,
            self.reason,
            self.at
        );
        hmac_hex(key, fields.as_bytes())
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// HMAC-SHA256 of `bytes` under `key`, as hex.
pub fn hmac_hex(key: &[u8], bytes: &[u8]) -> String {
    match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(bytes);
            hex(&mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_lines_link_and_verify() {
        let mut chain = Chain::new("vm-1");
        let first = chain.seal(r#"{"type":"psf.audit","decision":"allow"}"#);
        let second = chain.seal(r#"{"type":"psf.audit","decision":"block"}"#);
        let a = check_line(&first).unwrap();
        let b = check_line(&second).unwrap();
        assert_eq!((a.seq, a.prev.as_str()), (0, GENESIS));
        assert_eq!((b.seq, b.prev), (1, a.hash));
        assert!(first.starts_with(r#"{"vm":"vm-1","seq":0,"#));
        let value: serde_json::Value = serde_json::from_str(&second).unwrap();
        assert_eq!(value["decision"], "block");
    }

    #[test]
    fn an_edit_breaks_the_hash() {
        let mut chain = Chain::new("vm-1");
        let line = chain.seal(r#"{"decision":"block","status":403}"#);
        let edited = line.replace("403", "200");
        assert_eq!(check_line(&edited), Err(LineError::HashMismatch));
        assert!(matches!(
            check_line("not json"),
            Err(LineError::Unreadable(_))
        ));
        let empty = Chain::new("v").seal("{}");
        assert!(check_line(&empty).is_ok(), "{empty}");
    }

    #[test]
    fn tombstones_are_signed() {
        let t = Tombstone::new(
            "vm",
            3,
            9,
            GENESIS,
            "ab",
            "retention",
            "2026-11-27T00:00:00Z",
            b"k",
        );
        assert!(t.signed_with(b"k"));
        assert!(!t.signed_with(b"other"));
        let mut forged = t.clone();
        forged.last_seq = 10;
        assert!(!forged.signed_with(b"k"));
        let back: Tombstone = serde_json::from_str(&t.to_line()).unwrap();
        assert_eq!(back, t);
    }
}
