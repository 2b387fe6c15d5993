//! The engine's [`SharedStore`] on the host's shared data: one store for every worker VM
//! of the proxy, with compare-and-swap, which is what keeps limits exact across workers.

use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;
use psf_engine::controls::ratelimit::store::{SharedStore, StoreError};
use std::time::UNIX_EPOCH;

pub struct HostStore;

impl SharedStore for HostStore {
    fn now_ms(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64)
    }

    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(key) {
            Ok((Some(value), Some(cas))) => Some((value, cas)),
            _ => None,
        }
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> Result<(), StoreError> {
        let cas = (cas != 0).then_some(cas);
        match hostcalls::set_shared_data(key, Some(value), cas) {
            Ok(()) => Ok(()),
            Err(Status::CasMismatch) => Err(StoreError::CasMismatch),
            Err(_) => Err(StoreError::Failed),
        }
    }
}
