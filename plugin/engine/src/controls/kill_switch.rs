//! The runtime kill switch (PSF IR-2): modes set through the admin path live in the host's
//! shared data, so every worker applies a switch on its very next request.
//!
//! The shared value is `{"global": Switch|null, "routes": {id: Switch}}`. A switch made after
//! the policy was loaded overrides it; a policy loaded (pushed) after the switch wins again:
//! the newer of the two decides.

use crate::controls::ratelimit::store::{update_json, SharedStore, StoreError};
use crate::policy::{Mode, Policy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shared-data key of the switches.
pub const KEY: &str = "psf.mode";

/// One switch: the mode, when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Switch {
    pub mode: String,
    pub set_at_ms: u64,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Switches {
    #[serde(default)]
    pub global: Option<Switch>,
    #[serde(default)]
    pub routes: BTreeMap<String, Switch>,
}

impl Switches {
    pub fn read(store: &dyn SharedStore) -> Self {
        store
            .get(KEY)
            .and_then(|(bytes, _)| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// The mode for `route`: a route switch, else a global one, made after the policy loaded.
    pub fn mode_for(&self, route: Option<&str>, loaded_ms: u64) -> Option<Mode> {
        let route_switch = route.and_then(|r| self.routes.get(r));
        [route_switch, self.global.as_ref()]
            .into_iter()
            .flatten()
            .find(|s| s.set_at_ms > loaded_ms)
            .and_then(|s| Mode::parse(&s.mode))
    }
}

/// The effective mode of a request on `route`.
pub fn effective_mode(policy: &Policy, switches: &Switches, route: Option<&str>) -> Mode {
    let route_mode = route
        .and_then(|id| policy.routes.iter().find(|r| r.id == id))
        .and_then(|r| r.mode);
    switches
        .mode_for(route, policy.loaded_ms)
        .or(route_mode)
        .unwrap_or(policy.mode)
}

/// Sets (`Some`) or clears (`None`, back to the policy) the mode of `route` (or of every
/// route) with compare-and-swap; the mode it replaces.
pub fn switch(
    store: &dyn SharedStore,
    route: Option<&str>,
    new: Option<Switch>,
) -> Result<Option<Switch>, StoreError> {
    let replaced = update_json(store, KEY, |switches: &mut Switches, _| {
        Some(match route {
            Some(route) => {
                let previous = switches.routes.remove(route);
                if let Some(new) = new.clone() {
                    switches.routes.insert(route.to_string(), new);
                }
                previous
            }
            None => std::mem::replace(&mut switches.global, new.clone()),
        })
    })?;
    Ok(replaced.flatten())
}
