//! The root context: hands the policy document to the engine's [`Vm`] once, creates the
//! streams, and passes on ticks and the answers to the root's own posts.

use crate::host::{carry_out, Host};
use crate::shared::HostStore;
use crate::stream::GuardStream;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType};
use psf_engine::proxy::{Effects, HostReads, Vm};
use std::cell::RefCell;
use std::rc::Rc;

pub struct GuardRoot(Rc<RefCell<Vm>>);

impl Default for GuardRoot {
    /// The VM's audit chain is named by random bytes, or the clock's if the host has none.
    fn default() -> Self {
        let mut id = [0u8; 8];
        if getrandom::fill(&mut id).is_err() {
            id = Host.now_ns().to_le_bytes();
        }
        Self(Rc::new(RefCell::new(Vm::new(id, Rc::new(HostStore)))))
    }
}

impl GuardRoot {
    fn run(&self, effects: Effects) {
        carry_out(effects, &mut |report| self.0.borrow_mut().report(report));
    }
}

impl Context for GuardRoot {
    fn on_http_call_response(&mut self, token: u32, headers: usize, _: usize, _: usize) {
        let effects = self.0.borrow_mut().call_answer(&Host, token, headers);
        self.run(effects);
    }
}

impl RootContext for GuardRoot {
    /// Envoy refuses the configuration when this answers false.
    fn on_configure(&mut self, size: usize) -> bool {
        let document = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default();
        let random = |seed: &mut [u8]| getrandom::fill(seed).map_err(|e| e.to_string());
        let (loaded, effects) = self.0.borrow_mut().configure(&document, &random);
        self.run(effects);
        loaded
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(GuardStream(Vm::stream(&self.0, context_id))))
    }

    fn on_tick(&mut self) {
        let effects = self.0.borrow_mut().tick(Host.now_ns());
        self.run(effects);
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
