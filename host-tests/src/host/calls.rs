//! Host-call recording and expectations: every host function the guest calls is
//! recorded per VM, and a VM can be restricted to an allow-list so that any other
//! call traps ("unexpected host call proxy_xxx") and the driving method fails.

use std::collections::BTreeSet;

/// One recorded host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostCall {
    /// Import name, e.g. `proxy_get_header_map_value` or `fd_write`.
    pub name: String,
    /// Short human-readable argument summary, e.g. `map=0 key=":path"`.
    pub args: String,
    /// The effective context id when the call was made.
    pub context_id: u32,
}

/// Which `proxy_*` host functions a VM may call.
///
/// Default: every implemented `proxy_*` function is allowed (the filter is
/// trusted to use the ABI; tests tighten it with [`CallPolicy::allow_only`] or
/// [`CallPolicy::deny`]). WASI functions are never restricted because the Rust
/// standard library calls them behind the filter's back (hash seeds, panics), and
/// imports this host does not implement always trap.
#[derive(Debug, Clone, Default)]
pub struct CallPolicy {
    allow: Option<BTreeSet<String>>,
    deny: BTreeSet<String>,
}

impl CallPolicy {
    /// Only these `proxy_*` functions may be called.
    pub fn allow_only(names: &[&str]) -> Self {
        Self {
            allow: Some(names.iter().map(|s| s.to_string()).collect()),
            deny: BTreeSet::new(),
        }
    }

    /// Additionally forbids these functions.
    pub fn deny(mut self, names: &[&str]) -> Self {
        self.deny.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Whether a call to `name` is expected.
    pub fn allows(&self, name: &str) -> bool {
        if self.deny.contains(name) {
            return false;
        }
        if !name.starts_with("proxy_") {
            return true;
        }
        self.allow.as_ref().is_none_or(|a| a.contains(name))
    }
}

/// The trap message for a call outside the policy.
pub fn unexpected_call(name: &str) -> anyhow::Error {
    anyhow::anyhow!("unexpected host call {name}")
}
