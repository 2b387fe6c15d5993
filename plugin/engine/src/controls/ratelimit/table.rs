//! The shared table: limit and abuse state per key, spread over a fixed number of slots.
//!
//! Envoy's shared data has no delete, so one shared-data key per client key would grow
//! without bound. Instead keys hash into `slots` fixed shared-data keys, each holding at
//! most `per_slot` entries of [`ENTRY_BYTES`]. Memory is therefore bounded by
//! `slots × (HEADER + per_slot × ENTRY_BYTES)` whatever the traffic; a full slot drops
//! expired entries first, then the one that expires soonest.

use super::key::KeyHash;
use super::store::{SharedStore, StoreError};

/// Bytes of one entry: id, expiry, last update and five counters.
pub const ENTRY_BYTES: usize = 8 * 8;
const HEADER: usize = 4;
const FORMAT: u8 = 1;
/// Reads and writes per update before giving up on a contended slot. Every failed
/// compare-and-swap means another worker's write landed, so the table always progresses.
pub const MAX_ATTEMPTS: usize = 32;

/// One key's state. What the counters mean is up to the caller (buckets, strikes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    pub id: u64,
    /// When the entry carries no information any more and may be dropped (ms).
    pub expires_ms: u64,
    pub updated_ms: u64,
    pub counters: [i64; 5],
}

/// The table's shape, derived from the key cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    prefix: String,
    pub slots: u32,
    pub per_slot: usize,
}

/// What an update ends with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Updated<R> {
    Done(R),
    /// The slot stayed contended for [`MAX_ATTEMPTS`] tries; nothing was written.
    Contended,
    /// The host refused reads or writes.
    Failed,
}

/// What an update callback decides.
pub enum Change<R> {
    /// Write the entry back and return `R`.
    Write(R),
    /// Leave the table as it is and return `R`.
    Keep(R),
}

impl Table {
    /// A table for `max_keys` keys: about 16 per slot, so a slot stays around a kilobyte,
    /// with half again as much room so uneven hashing does not evict below the cap.
    pub fn new(name: &str, max_keys: u64) -> Self {
        let slots = (max_keys / 16).clamp(16, 1 << 16) as u32;
        let per_slot = (max_keys * 3 / 2).div_ceil(u64::from(slots)).max(4) as usize;
        Self {
            prefix: format!("psf.{name}.{slots}."),
            slots,
            per_slot,
        }
    }

    /// The most bytes the table's values can take, whatever the traffic.
    pub fn max_bytes(&self) -> usize {
        self.slots as usize * (HEADER + self.per_slot * ENTRY_BYTES + self.prefix.len() + 5)
    }

    fn slot_key(&self, slot: u32) -> String {
        format!("{}{slot}", self.prefix)
    }

    /// Reads the entry of `key` (a fresh one when absent or expired).
    pub fn read(&self, store: &dyn SharedStore, key: KeyHash) -> Entry {
        let now = store.now_ms();
        let slot = store.get(&self.slot_key(key.slot(self.slots)));
        slot.map(|(bytes, _)| decode(&bytes))
            .unwrap_or_default()
            .into_iter()
            .find(|e| e.id == key.id() && e.expires_ms > now)
            .unwrap_or(Entry {
                id: key.id(),
                ..Entry::default()
            })
    }

    /// Applies `change` to the entry of `key` with compare-and-swap, retrying on conflict.
    /// `change` may run several times; it gets the entry as it is now.
    pub fn update<R>(
        &self,
        store: &dyn SharedStore,
        key: KeyHash,
        mut change: impl FnMut(&mut Entry, u64) -> Change<R>,
    ) -> Updated<R> {
        let slot_key = self.slot_key(key.slot(self.slots));
        for _ in 0..MAX_ATTEMPTS {
            let now = store.now_ms();
            let (bytes, cas) = match store.get(&slot_key) {
                Some(found) => found,
                None => {
                    // A new slot: written empty first, so the real write below is a
                    // compare-and-swap like any other (a CAS of 0 would overwrite blindly).
                    if store.set(&slot_key, &encode(&[]), 0).is_err() {
                        return Updated::Failed;
                    }
                    continue;
                }
            };
            let mut entries = decode(&bytes);
            entries.retain(|e| e.expires_ms > now);
            let index = match entries.iter().position(|e| e.id == key.id()) {
                Some(index) => index,
                None => {
                    if entries.len() >= self.per_slot {
                        evict_one(&mut entries);
                    }
                    entries.push(Entry {
                        id: key.id(),
                        updated_ms: now,
                        ..Entry::default()
                    });
                    entries.len() - 1
                }
            };
            let result = match change(&mut entries[index], now) {
                Change::Keep(result) => return Updated::Done(result),
                Change::Write(result) => result,
            };
            entries[index].updated_ms = now;
            match store.set(&slot_key, &encode(&entries), cas) {
                Ok(()) => return Updated::Done(result),
                Err(StoreError::CasMismatch) => continue,
                Err(StoreError::Failed) => return Updated::Failed,
            }
        }
        Updated::Contended
    }

    /// Drops expired entries from `count` slots starting at `from`; the next slot to sweep.
    /// Called on ticks, so idle slots give their memory back.
    pub fn sweep(&self, store: &dyn SharedStore, from: u32, count: u32) -> u32 {
        let now = store.now_ms();
        for i in 0..count.min(self.slots) {
            let slot = (from + i) % self.slots;
            let key = self.slot_key(slot);
            let Some((bytes, cas)) = store.get(&key) else {
                continue;
            };
            let mut entries = decode(&bytes);
            let before = entries.len();
            entries.retain(|e| e.expires_ms > now);
            if entries.len() != before {
                // A conflict means a request just wrote the slot; it dropped them too.
                let _ = store.set(&key, &encode(&entries), cas);
            }
        }
        (from + count) % self.slots.max(1)
    }

    /// Creates the slots not created yet, so that the first writes race on CAS rather than
    /// on creation. Existing slots (from before a config push) are left as they are.
    pub fn create_slots(&self, store: &dyn SharedStore) {
        for slot in 0..self.slots {
            let key = self.slot_key(slot);
            if store.get(&key).is_none() {
                let _ = store.set(&key, &encode(&[]), 0);
            }
        }
    }
}

/// Drops the entry that expires soonest: the one least worth keeping.
fn evict_one(entries: &mut Vec<Entry>) {
    if let Some(index) = entries
        .iter()
        .enumerate()
        .min_by_key(|(_, e)| e.expires_ms)
        .map(|(i, _)| i)
    {
        entries.swap_remove(index);
    }
}

fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + entries.len() * ENTRY_BYTES);
    out.push(FORMAT);
    out.push(0);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for entry in entries {
        out.extend_from_slice(&entry.id.to_le_bytes());
        out.extend_from_slice(&entry.expires_ms.to_le_bytes());
        out.extend_from_slice(&entry.updated_ms.to_le_bytes());
        for counter in entry.counters {
            out.extend_from_slice(&counter.to_le_bytes());
        }
    }
    out
}

/// Entries of a slot; a slot in another format (an older filter) reads as empty.
fn decode(bytes: &[u8]) -> Vec<Entry> {
    if bytes.len() < HEADER || bytes[0] != FORMAT {
        return Vec::new();
    }
    let word = |chunk: &[u8], i: usize| -> u64 {
        u64::from_le_bytes(chunk[i * 8..i * 8 + 8].try_into().unwrap_or_default())
    };
    bytes[HEADER..]
        .chunks_exact(ENTRY_BYTES)
        .map(|chunk| Entry {
            id: word(chunk, 0),
            expires_ms: word(chunk, 1),
            updated_ms: word(chunk, 2),
            counters: std::array::from_fn(|i| word(chunk, 3 + i) as i64),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::controls::ratelimit::key::hash_key;
    use crate::controls::ratelimit::store::MemoryStore;

    #[test]
    fn entries_round_trip_and_expire() {
        let store = MemoryStore::new(1_000);
        let table = Table::new("t", 1_000);
        let key = hash_key("s", "l", "k");
        let set = table.update(&store, key, |e, now| {
            e.counters[0] = 7;
            e.expires_ms = now + 500;
            Change::Write(())
        });
        assert_eq!(set, Updated::Done(()));
        assert_eq!(table.read(&store, key).counters[0], 7);
        store.advance(500);
        assert_eq!(table.read(&store, key).counters[0], 0, "expired");
    }

    #[test]
    fn a_full_slot_evicts_the_entry_that_expires_soonest() {
        let store = MemoryStore::new(0);
        let table = Table::new("t", 16);
        assert_eq!((table.slots, table.per_slot), (16, 4));
        let mut in_slot = Vec::new();
        for i in 0.. {
            let key = hash_key("s", "l", &i.to_string());
            if key.slot(table.slots) == 0 {
                in_slot.push(key);
            }
            if in_slot.len() == 5 {
                break;
            }
        }
        for (n, key) in in_slot.iter().enumerate() {
            table.update(&store, *key, |e, _| {
                e.expires_ms = 100 + n as u64;
                e.counters[0] = 1;
                Change::Write(())
            });
        }
        assert_eq!(table.read(&store, in_slot[0]).counters[0], 0, "evicted");
        for key in &in_slot[1..] {
            assert_eq!(table.read(&store, *key).counters[0], 1);
        }
    }
}
