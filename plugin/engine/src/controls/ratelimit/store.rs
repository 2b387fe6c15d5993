//! Where counters live. In Envoy every worker thread runs its own VM, so counters sit in
//! the host's shared data, which all of them read and write with compare-and-swap.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// The host's shared key-value store with compare-and-swap, and its clock.
pub trait SharedStore {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// The value of `key` and its CAS token, `None` when the key was never set.
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)>;
    /// Writes `value` if `key` is still at `cas` (0: whatever it holds).
    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// Another writer got there first: read again and retry.
    CasMismatch,
    /// The host refused the write.
    Failed,
}

/// An in-process store, for native hosts, tests and benches. The clock is set by hand.
#[derive(Debug, Default)]
pub struct MemoryStore {
    data: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    next_cas: RefCell<u32>,
    now_ms: RefCell<u64>,
}

impl MemoryStore {
    pub fn new(now_ms: u64) -> Self {
        let store = Self::default();
        store.set_now(now_ms);
        store
    }

    pub fn set_now(&self, now_ms: u64) {
        *self.now_ms.borrow_mut() = now_ms;
    }

    pub fn advance(&self, ms: u64) {
        *self.now_ms.borrow_mut() += ms;
    }

    /// Keys and value bytes held, for memory bounds.
    pub fn footprint(&self) -> (usize, usize) {
        let data = self.data.borrow();
        let bytes = data.iter().map(|(k, (v, _))| k.len() + v.len()).sum();
        (data.len(), bytes)
    }
}

impl SharedStore for MemoryStore {
    fn now_ms(&self) -> u64 {
        *self.now_ms.borrow()
    }

    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        self.data.borrow().get(key).cloned()
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError> {
        let mut data = self.data.borrow_mut();
        if let Some((_, current)) = data.get(key) {
            if cas != 0 && cas != *current {
                return Err(StoreError::CasMismatch);
            }
        }
        let mut next = self.next_cas.borrow_mut();
        *next = next.wrapping_add(1).max(1);
        data.insert(key.to_string(), (value.to_vec(), *next));
        Ok(())
    }
}

/// Reads the JSON value at `key` (the default when absent or unreadable), lets `change` edit
/// it, and writes it back with compare-and-swap, retrying a bounded number of times. `change`
/// may run more than once; `None` from it leaves the store as it is.
pub fn update_json<T, R>(
    store: &dyn SharedStore,
    key: &str,
    mut change: impl FnMut(&mut T, u64) -> Option<R>,
) -> Result<Option<R>, StoreError>
where
    T: Default + serde::Serialize + serde::de::DeserializeOwned,
{
    for _ in 0..crate::controls::ratelimit::table::MAX_ATTEMPTS {
        let now = store.now_ms();
        let (mut value, cas) = match store.get(key) {
            Some((bytes, cas)) => (serde_json::from_slice(&bytes).unwrap_or_default(), cas),
            None => (T::default(), 0),
        };
        let Some(result) = change(&mut value, now) else {
            return Ok(None);
        };
        let bytes = serde_json::to_vec(&value).map_err(|_| StoreError::Failed)?;
        match store.set(key, &bytes, cas) {
            Ok(()) => return Ok(Some(result)),
            Err(StoreError::CasMismatch) => continue,
            Err(StoreError::Failed) => return Err(StoreError::Failed),
        }
    }
    Err(StoreError::CasMismatch)
}

thread_local! {
    static PROCESS_STORE: Rc<MemoryStore> = Rc::new(MemoryStore::new(0));
}

/// The store exchanges use when the host gives none: one per thread, with a clock that
/// stands still, so a native host that wants windows to pass must bring its own store.
pub fn thread_store() -> Rc<dyn SharedStore> {
    PROCESS_STORE.with(|s| Rc::clone(s) as Rc<dyn SharedStore>)
}
