//! The root context: reads the policy once in `on_configure` and hands it to every stream.

use crate::host;
use crate::stream::GuardStream;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel};
use psf_engine::Policy;
use std::rc::Rc;

#[derive(Default)]
pub struct GuardRoot {
    policy: Option<Rc<Policy>>,
}

impl Context for GuardRoot {}

impl GuardRoot {
    fn load(&mut self, policy: Policy) {
        host::log(
            LogLevel::Info,
            &format!("psf-guard: loaded {}", policy.summary()),
        );
        self.policy = Some(Rc::new(policy));
    }
}

impl RootContext for GuardRoot {
    /// Parses and validates the policy. On any error, logs every `path: reason` at error
    /// level and returns false, so Envoy refuses the configuration.
    fn on_configure(&mut self, plugin_configuration_size: usize) -> bool {
        let document = hostcalls::get_buffer(
            BufferType::PluginConfiguration,
            0,
            plugin_configuration_size,
        )
        .ok()
        .flatten()
        .unwrap_or_default();
        match Policy::from_json(&document) {
            Ok(policy) if policy.needs_random_canaries() => {
                let mut seed = [0u8; 16];
                if let Err(error) = getrandom::fill(&mut seed) {
                    host::log(
                        LogLevel::Error,
                        &format!(
                            "psf-guard: policy refused: no randomness for its canaries ({error})"
                        ),
                    );
                    return false;
                }
                self.load(policy.with_random_canaries(&seed));
                true
            }
            Ok(policy) => {
                self.load(policy);
                true
            }
            Err(errors) => {
                for error in errors.errors() {
                    host::log(
                        LogLevel::Error,
                        &format!("psf-guard: invalid policy: {error}"),
                    );
                }
                host::log(
                    LogLevel::Error,
                    &format!(
                        "psf-guard: policy refused with {} error(s)",
                        errors.errors().len()
                    ),
                );
                false
            }
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(GuardStream::new(self.policy.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
