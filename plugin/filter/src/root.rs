//! The root context: reads the policy once in `on_configure` and hands it to every stream.

use crate::alerts;
use crate::audit;
use crate::header_hold;
use crate::host;
use crate::outbox;
use crate::shared::HostStore;
use crate::stream::GuardStream;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, LogLevel, MapType};
use psf_engine::Policy;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// How often the root sweeps expired keys and posts queued alerts.
const TICK: Duration = Duration::from_secs(1);
/// Slots of the shared table swept per tick: a 100,000-key table in about 25 s.
const SWEEP_PER_TICK: u32 = 256;

#[derive(Default)]
pub struct GuardRoot {
    policy: Option<Rc<Policy>>,
    /// The next slot of the shared table to sweep.
    sweep_from: u32,
    /// The root's own calls in flight, by token.
    calls: HashMap<u32, Post>,
    /// When the root last did its own tick work.
    last_work_ns: u64,
}

/// What a root-context call carries, so its failure goes back where it came from.
enum Post {
    /// A held tool call for a review queue.
    Review,
    /// A batch of this many audit records for the collector.
    Audit(usize),
    /// An alert for the webhook, and its attempt.
    Alert(String, u8),
}

impl Post {
    /// The call failed (`why`): the record of it, or the retry, goes where it belongs.
    fn failed(self, why: &str) {
        match self {
            Post::Review => outbox::failed(why),
            Post::Audit(records) => audit::batch_failed(records, why),
            Post::Alert(body, attempt) => alerts::failed(body, attempt, why),
        }
    }

    /// Who answered, for a failure's reason.
    fn peer(&self) -> &'static str {
        match self {
            Post::Review => "review queue",
            Post::Audit(_) => "collector",
            Post::Alert(..) => "webhook",
        }
    }
}

impl Context for GuardRoot {
    fn on_http_call_response(&mut self, token: u32, headers: usize, _: usize, _: usize) {
        let Some(post) = self.calls.remove(&token) else {
            return;
        };
        let status = (headers > 0)
            .then(|| host::header(MapType::HttpCallResponseHeaders, ":status"))
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        match status {
            Some(200..=299) => {}
            Some(status) => {
                let why = format!("{} answered {status}", post.peer());
                post.failed(&why);
            }
            None => {
                let why = format!("{} call failed or timed out", post.peer());
                post.failed(&why);
            }
        }
    }
}

impl GuardRoot {
    fn load(&mut self, mut policy: Policy) {
        // A runtime mode switch older than this load gives way to the policy (IR-2).
        policy.loaded_ms = psf_engine::controls::ratelimit::SharedStore::now_ms(&HostStore);
        host::event(
            LogLevel::Info,
            "policy_loaded",
            serde_json::json!({"policy": policy.name, "digest": policy.digest, "summary": policy.summary()}),
        );
        if let Some(table) = policy.limit_table() {
            table.create_slots(&HostStore);
        }
        let reviews = policy
            .routes
            .iter()
            .any(|r| r.review.as_ref().is_some_and(|v| v.queue.is_some()));
        if policy.limit_table().is_some() || policy.audit.collector.is_some() || reviews {
            self.set_tick_period(TICK);
            header_hold::set_root_tick(TICK);
        }
        self.policy = Some(Rc::new(policy));
    }

    /// POSTs `body` to `target` and tracks the call as `post`; a call the host refuses
    /// fails at once.
    fn post(&mut self, target: Target<'_>, content_type: &str, body: &str, post: Post) {
        let headers = vec![
            (":method", "POST"),
            (":path", target.path),
            (":authority", target.authority),
            ("content-type", content_type),
        ];
        let timeout = Duration::from_millis(target.timeout_ms);
        let sent = self.dispatch_http_call(
            target.cluster,
            headers,
            Some(body.as_bytes()),
            vec![],
            timeout,
        );
        match sent {
            Ok(token) => {
                self.calls.insert(token, post);
            }
            Err(status) => post.failed(&format!(
                "could not call cluster {:?}: {status:?}",
                target.cluster
            )),
        }
    }

    /// Posts held tool calls to their review queues.
    fn post_reviews(&mut self) {
        for (queue, body) in outbox::take() {
            let target = Target {
                cluster: &queue.cluster,
                path: &queue.path,
                authority: &queue.authority,
                timeout_ms: 5000,
            };
            self.post(target, "application/json", &body, Post::Review);
        }
    }

    /// Posts the queued audit records to the collector, a batch per call.
    fn post_audit(&mut self) {
        let Some(collector) = self.policy.as_ref().and_then(|p| p.audit.collector.clone()) else {
            return;
        };
        while let Some((body, records)) = audit::next_batch(collector.batch) {
            let target = Target {
                cluster: &collector.cluster,
                path: &collector.path,
                authority: &collector.authority,
                timeout_ms: collector.timeout_ms,
            };
            self.post(target, "application/x-ndjson", &body, Post::Audit(records));
        }
    }

    /// Posts queued alerts to the policy's webhook.
    fn post_alerts(&mut self) {
        let Some(hook) = self
            .policy
            .as_ref()
            .and_then(|p| p.abuse.as_ref())
            .and_then(|a| a.webhook.clone())
        else {
            return;
        };
        for (body, attempt) in alerts::take_pending() {
            let target = Target {
                cluster: &hook.cluster,
                path: &hook.path,
                authority: &hook.authority,
                timeout_ms: hook.timeout_ms,
            };
            let post = Post::Alert(body.clone(), attempt);
            self.post(target, "application/json", &body, post);
        }
    }
}

/// Where a root-context post goes.
struct Target<'a> {
    cluster: &'a str,
    path: &'a str,
    authority: &'a str,
    timeout_ms: u64,
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
                    host::event(
                        LogLevel::Error,
                        "policy_refused",
                        serde_json::json!({"reason": format!("no randomness for its canaries ({error})")}),
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
                    host::event(
                        LogLevel::Error,
                        "policy_invalid",
                        serde_json::json!({"error": error.to_string()}),
                    );
                }
                host::event(
                    LogLevel::Error,
                    "policy_refused",
                    serde_json::json!({"errors": errors.errors().len()}),
                );
                false
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(GuardStream::new(context_id, self.policy.clone())))
    }

    /// Expiry on ticks: idle keys leave the shared table; queued alerts are posted.
    fn on_tick(&mut self) {
        header_hold::on_tick();
        // A probe ticks faster than the root's own work needs.
        let now = host::now_ns();
        if now.saturating_sub(self.last_work_ns) < TICK.as_nanos() as u64 {
            return;
        }
        self.last_work_ns = now;
        if let Some(table) = self.policy.as_ref().and_then(|p| p.limit_table()) {
            self.sweep_from = table.sweep(&HostStore, self.sweep_from, SWEEP_PER_TICK);
        }
        self.post_alerts();
        self.post_audit();
        self.post_reviews();
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
