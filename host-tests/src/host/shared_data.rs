//! Shared key-value store and shared queues, one per `Host`, shared by all its VMs
//! the way Envoy shares them across worker VMs (process-wide singletons in
//! proxy-wasm-cpp-host src/shared_data.cc and src/shared_queue.cc).

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::types::Status;

/// Keyed by vm_id, then key: value and CAS.
#[derive(Debug)]
pub struct SharedData {
    data: HashMap<String, HashMap<String, (Vec<u8>, u32)>>,
    next_cas: u32,
}

impl Default for SharedData {
    fn default() -> Self {
        Self {
            data: HashMap::new(),
            next_cas: 1,
        }
    }
}

impl SharedData {
    /// shared_data.cc nextCas(): one global counter, incremented per write, skipping 0
    /// because 0 means "unconditional" to `set`.
    fn next_cas(&mut self) -> u32 {
        let cas = self.next_cas;
        self.next_cas = self.next_cas.wrapping_add(1);
        if self.next_cas == 0 {
            self.next_cas = 1;
        }
        cas
    }

    /// Value and CAS of `key`, or NotFound.
    pub fn get(&self, vm_id: &str, key: &str) -> Result<(Vec<u8>, u32), Status> {
        self.data
            .get(vm_id)
            .and_then(|m| m.get(key))
            .cloned()
            .ok_or(Status::NotFound)
    }

    /// shared_data.cc set(): for an existing key a non-zero `cas` must match;
    /// a new key is inserted whatever `cas` says.
    pub fn set(&mut self, vm_id: &str, key: &str, value: &[u8], cas: u32) -> Result<(), Status> {
        let existing = self.data.get(vm_id).and_then(|m| m.get(key)).map(|v| v.1);
        if let Some(current) = existing {
            if cas != 0 && cas != current {
                return Err(Status::CasMismatch);
            }
        }
        let new_cas = self.next_cas();
        self.data
            .entry(vm_id.to_string())
            .or_default()
            .insert(key.to_string(), (value.to_vec(), new_cas));
        Ok(())
    }

    /// Snapshot of one vm_id's data, for assertions.
    pub fn snapshot(&self, vm_id: &str) -> BTreeMap<String, (Vec<u8>, u32)> {
        self.data
            .get(vm_id)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }
}

/// A queue and who to notify (`proxy_on_queue_ready`) when something is enqueued.
#[derive(Debug)]
pub struct Queue {
    pub vm_index: usize,
    pub context_id: u32,
    pub items: VecDeque<Vec<u8>>,
}

/// shared_queue.cc: tokens are global; (vm_id, name) registers once.
#[derive(Debug, Default)]
pub struct SharedQueues {
    by_name: HashMap<(String, String), u32>,
    queues: HashMap<u32, Queue>,
    next_token: u32,
    /// (vm_index, context_id, token) waiting for `proxy_on_queue_ready`.
    pub ready: VecDeque<(usize, u32, u32)>,
}

impl SharedQueues {
    /// Registers (or re-registers: the same token comes back, the notified context changes).
    pub fn register(&mut self, vm_id: &str, name: &str, vm_index: usize, context_id: u32) -> u32 {
        let key = (vm_id.to_string(), name.to_string());
        if let Some(token) = self.by_name.get(&key).copied() {
            if let Some(q) = self.queues.get_mut(&token) {
                q.vm_index = vm_index;
                q.context_id = context_id;
            }
            return token;
        }
        self.next_token += 1;
        let token = self.next_token;
        self.by_name.insert(key, token);
        self.queues.insert(
            token,
            Queue {
                vm_index,
                context_id,
                items: VecDeque::new(),
            },
        );
        token
    }

    pub fn resolve(&self, vm_id: &str, name: &str) -> Result<u32, Status> {
        self.by_name
            .get(&(vm_id.to_string(), name.to_string()))
            .copied()
            .ok_or(Status::NotFound)
    }

    pub fn enqueue(&mut self, token: u32, data: &[u8]) -> Result<(), Status> {
        let q = self.queues.get_mut(&token).ok_or(Status::NotFound)?;
        q.items.push_back(data.to_vec());
        self.ready.push_back((q.vm_index, q.context_id, token));
        Ok(())
    }

    /// Empty when the queue exists but holds nothing (shared_queue.cc dequeue()).
    pub fn dequeue(&mut self, token: u32) -> Result<Vec<u8>, Status> {
        let q = self.queues.get_mut(&token).ok_or(Status::NotFound)?;
        q.items.pop_front().ok_or(Status::Empty)
    }
}
