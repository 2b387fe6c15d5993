//! Reading an audit trail back (PSF OM-5, DG-3, EA-4): what each line of a file holds,
//! and a walk over the per-VM chains that names every break (a record edited, removed,
//! replaced, moved or forged). `psf-guard audit verify`, `prune` and `erase` read files
//! through this; the file handling stays in the CLI.

use super::chain::{check_line, LineError, Link, Tombstone, GENESIS};
use std::collections::HashMap;

/// Where a log line holds a record: Envoy's log (`[…][info][wasm] … psf.audit {…}`) and the
/// shipped access-log format (`… psf_audit={…}`, from `%FILTER_STATE(wasm.psf_audit:PLAIN)%`).
pub const LOG_MARKERS: [&str; 2] = ["psf.audit {", "psf_audit={"];
/// No record is this long; a longer line (say, a binary file without newlines) is skipped
/// rather than held in memory.
pub const MAX_LINE: usize = 16 << 20;
/// The fields a tombstone's signature covers; any other field would be unauthenticated.
pub const TOMBSTONE_FIELDS: [&str; 9] = [
    "type",
    "vm",
    "first_seq",
    "last_seq",
    "prev",
    "last_hash",
    "reason",
    "at",
    "signature",
];

/// What one line of an audit file holds.
pub enum Item<'a> {
    Blank,
    /// Text without a record, such as Envoy's other log lines: ignored.
    Other,
    Record {
        link: Link,
        json: &'a str,
        /// What comes before the record on its line: empty in JSONL, Envoy's log prefix
        /// ending in `psf.audit ` in a log.
        prefix: &'a str,
    },
    Tombstone(Tombstone),
    /// Should hold a record but does not. `link` when the chain fields still read (an edited
    /// record), so the walk can go on from it.
    Broken {
        why: String,
        link: Option<Link>,
    },
}

/// `line` as read, with or without its newline; `None` for a line over [`MAX_LINE`].
pub fn classify(line: Option<&[u8]>) -> Item<'_> {
    let Some(line) = line else {
        return broken(format!(
            "line longer than {} MiB: not an audit record",
            MAX_LINE >> 20
        ));
    };
    let Ok(text) = std::str::from_utf8(line) else {
        return broken("binary data, not text: not an audit record");
    };
    let text = text.trim();
    if text.is_empty() {
        return Item::Blank;
    }
    let (prefix, json) = if text.starts_with('{') {
        ("", text)
    } else if let Some(at) = LOG_MARKERS
        .iter()
        .filter_map(|marker| Some(text.find(marker)? + marker.len() - 1))
        .min()
    {
        text.split_at(at)
    } else if text.chars().any(|c| c.is_control() && c != '\t') {
        return broken("binary data, not text: not an audit record");
    } else {
        return Item::Other;
    };
    if json.contains("\"psf.audit.tombstone\"") {
        if let Some(item) = read_tombstone(json) {
            return item;
        }
    }
    match check_line(json) {
        Ok(link) => Item::Record { link, json, prefix },
        Err(LineError::HashMismatch) => Item::Broken {
            why: "hash does not match: the record was edited".into(),
            link: serde_json::from_str(json).ok(),
        },
        Err(LineError::Unreadable(why)) => broken(format!(
            "not a readable audit record ({}): truncated, or not written by psf-guard",
            printable(&why)
        )),
    }
}

pub fn broken(why: impl Into<String>) -> Item<'static> {
    Item::Broken {
        why: why.into(),
        link: None,
    }
}

/// `None` when `json` is not a tombstone after all (say, a record quoting the type name).
pub fn read_tombstone(json: &str) -> Option<Item<'static>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    if value.get("type")?.as_str()? != Tombstone::TYPE {
        return None;
    }
    let extra: Vec<&str> = value
        .as_object()?
        .keys()
        .map(String::as_str)
        .filter(|k| !TOMBSTONE_FIELDS.contains(k))
        .collect();
    if !extra.is_empty() {
        return Some(broken(format!(
            "tombstone with fields its signature does not cover ({}): not written by psf-guard",
            printable(&extra.join(", "))
        )));
    }
    Some(match serde_json::from_value::<Tombstone>(value) {
        Ok(tombstone) => Item::Tombstone(tombstone),
        Err(error) => broken(format!(
            "unreadable tombstone ({})",
            printable(&error.to_string())
        )),
    })
}

/// Text from the input, safe to print on a terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The chains seen so far, one per VM, in the order the VMs first appear.
pub struct Walk<'k> {
    /// Checks tombstone signatures when set.
    key: Option<&'k [u8]>,
    pub vms: Vec<VmChain>,
    index: HashMap<String, usize>,
}

pub struct VmChain {
    pub vm: String,
    /// The last record (or tombstone end) in seq order: what the next one must link to.
    pub head: Option<Head>,
    pub first_seq: u64,
    pub last_seq: u64,
    pub records: u64,
    pub tombstones: u64,
}

pub struct Head {
    seq: u64,
    hash: String,
}

impl<'k> Walk<'k> {
    pub fn new(key: Option<&'k [u8]>) -> Self {
        Self {
            key,
            vms: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The problems `item` shows, each a sentence naming its VM.
    pub fn step(&mut self, item: &Item<'_>) -> Vec<String> {
        let mut problems = Vec::new();
        match item {
            Item::Blank | Item::Other => {}
            Item::Record { link, .. } => self.record(link, &mut problems),
            Item::Tombstone(tombstone) => self.tombstone(tombstone, &mut problems),
            Item::Broken { why, link } => match link {
                Some(link) => {
                    problems.push(format!("vm {:?}: seq {}: {why}", link.vm, link.seq));
                    self.record(link, &mut problems);
                }
                None => problems.push(why.clone()),
            },
        }
        problems
    }

    fn chain(&mut self, vm: &str) -> &mut VmChain {
        let at = match self.index.get(vm) {
            Some(&at) => at,
            None => {
                self.index.insert(vm.to_string(), self.vms.len());
                self.vms.push(VmChain {
                    vm: vm.to_string(),
                    head: None,
                    first_seq: 0,
                    last_seq: 0,
                    records: 0,
                    tombstones: 0,
                });
                self.vms.len() - 1
            }
        };
        &mut self.vms[at]
    }

    fn record(&mut self, link: &Link, problems: &mut Vec<String>) {
        let chain = self.chain(&link.vm);
        let name = format!("vm {:?}", link.vm);
        chain.records += 1;
        let advance = match &chain.head {
            None => {
                if link.seq == 0 && link.prev != GENESIS {
                    problems.push(format!(
                        "{name}: seq 0 starts the chain but its prev is not the genesis hash: a record was replaced"
                    ));
                }
                chain.first_seq = link.seq;
                true
            }
            Some(head) => follows(head, link.seq, &link.prev, &name, "", problems),
        };
        if advance {
            chain.head = Some(Head {
                seq: link.seq,
                hash: link.hash.clone(),
            });
            chain.last_seq = link.seq;
        }
    }

    fn tombstone(&mut self, tombstone: &Tombstone, problems: &mut Vec<String>) {
        let key = self.key;
        let chain = self.chain(&tombstone.vm);
        let name = format!("vm {:?}", tombstone.vm);
        let what = format!(
            "tombstone for seq {} to {}",
            tombstone.first_seq, tombstone.last_seq
        );
        chain.tombstones += 1;
        if let Some(key) = key {
            if !tombstone.signed_with(key) {
                problems.push(format!(
                    "{name}: {what}: the signature does not match the signing key: forged, edited, or signed with another key"
                ));
            }
        }
        if tombstone.first_seq > tombstone.last_seq {
            problems.push(format!(
                "{name}: {what}: first_seq is after last_seq: not a valid tombstone"
            ));
            return;
        }
        let advance = match &chain.head {
            None => {
                if tombstone.first_seq == 0 && tombstone.prev != GENESIS {
                    problems.push(format!(
                        "{name}: {what} starts the chain but its prev is not the genesis hash: a record was replaced"
                    ));
                }
                chain.first_seq = tombstone.first_seq;
                true
            }
            Some(head) => follows(
                head,
                tombstone.first_seq,
                &tombstone.prev,
                &name,
                &format!("{what}: "),
                problems,
            ),
        };
        if advance {
            chain.head = Some(Head {
                seq: tombstone.last_seq,
                hash: tombstone.last_hash.clone(),
            });
            chain.last_seq = tombstone.last_seq;
        }
    }
}

/// Whether `seq` with `prev` comes right after `head`, naming the break when it does not.
/// Returns whether the walk goes on from it (not when it lies behind the head).
pub fn follows(
    head: &Head,
    seq: u64,
    prev: &str,
    name: &str,
    what: &str,
    problems: &mut Vec<String>,
) -> bool {
    if head.seq.checked_add(1) == Some(seq) {
        if prev != head.hash {
            problems.push(format!(
                "{name}: {what}prev does not match the hash of seq {}: a record was replaced or removed",
                head.seq
            ));
        }
        true
    } else if seq > head.seq {
        let missing = seq - head.seq - 1;
        problems.push(format!(
            "{name}: {what}seq {seq} follows seq {}: {missing} record{} missing (deleted?)",
            head.seq,
            plural(missing)
        ));
        true
    } else {
        problems.push(format!(
            "{name}: {what}seq {seq} follows seq {}: out of order or repeated (records moved, swapped or copied?)",
            head.seq
        ));
        false
    }
}

pub fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_classified_without_panicking() {
        for line in [
            &b"\xff\xfe\x00binary"[..],
            b"{\"vm\":\"a\",\"seq\":1,\"prev\":\"",
            b"[info][wasm] psf.audit {",
            b"\x01\x02\x03",
            b"{\"type\":\"psf.audit.tombstone\"}",
            b"{\"type\":\"psf.audit.tombstone\",\"vm\":\"a\",\"first_seq\":1,\"last_seq\":0,\"prev\":\"\",\"last_hash\":\"\",\"reason\":\"x\",\"at\":\"\",\"signature\":\"\",\"extra\":1}",
        ] {
            assert!(matches!(classify(Some(line)), Item::Broken { .. }));
        }
        assert!(matches!(classify(Some(b"  \r\n")), Item::Blank));
        assert!(matches!(
            classify(Some(b"[info] something else\n")),
            Item::Other
        ));
        assert!(matches!(classify(None), Item::Broken { .. }));
    }
}
