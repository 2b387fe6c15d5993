//! What one proxy-wasm VM keeps for all its streams: the policy, whether the host holds
//! headers ([`HeaderHold`]), the audit chain, and the posts the root context makes on its
//! ticks. The host's root context owns it; each stream shares it.

use super::effects::{Effect, Effects, Level, Report};
use super::posts::Posts;
use super::reads::{call_status, HostReads};
use super::stream::Stream;
use crate::audit::chain::Chain;
use crate::audit::metrics::MetricKind;
use crate::controls::ratelimit::alert::AlertLevel;
use crate::controls::ratelimit::store::SharedStore;
use crate::exchange::header_hold::{HeaderHold, Hold, Leaving};
use crate::exchange::{Concluded, Exchange};
use crate::policy::ReviewQueue;
use crate::Policy;
use std::cell::RefCell;
use std::rc::Rc;

/// How often the root sweeps expired keys and posts what is queued, in ms.
pub const TICK_MS: u64 = 1000;
/// Slots of the shared table swept per tick: a 100,000-key table in about 25 s.
const SWEEP_PER_TICK: u32 = 256;

/// The per-VM state. Create one per root context.
#[derive(Debug)]
pub struct Vm {
    policy: Option<Rc<Policy>>,
    /// Where limit and abuse counters live (the host's shared data).
    store: Rc<dyn SharedStore>,
    hold: HeaderHold,
    /// One chain per VM: a worker thread runs one VM, and its id is drawn when it starts.
    chain: Chain,
    posts: Posts,
    /// The next slot of the shared table to sweep.
    sweep_from: u32,
    /// When the root last did its own tick work.
    last_work_ns: u64,
}

impl Vm {
    /// A VM whose audit chain is named by `id` (random bytes, drawn once) and whose
    /// counters live in `store`.
    pub fn new(id: [u8; 8], store: Rc<dyn SharedStore>) -> Self {
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            policy: None,
            store,
            hold: HeaderHold::new(),
            chain: Chain::new(id),
            posts: Posts::default(),
            sweep_from: 0,
            last_work_ns: 0,
        }
    }

    /// Parses and validates the policy `document`. On any error, logs every
    /// `path: reason` at error level and answers false, so the host refuses the
    /// configuration. `random` fills canary seeds when the policy asks for them.
    pub fn configure(
        &mut self,
        document: &[u8],
        random: &dyn Fn(&mut [u8]) -> Result<(), String>,
    ) -> (bool, Effects) {
        let mut effects = Effects::default();
        let policy = match Policy::from_json(document) {
            Ok(policy) => policy,
            Err(errors) => {
                for error in errors.errors() {
                    let fields = serde_json::json!({"error": error.to_string()});
                    effects.event(Level::Error, "policy_invalid", fields);
                }
                let fields = serde_json::json!({"errors": errors.errors().len()});
                effects.event(Level::Error, "policy_refused", fields);
                return (false, effects);
            }
        };
        let policy = if policy.needs_random_canaries() {
            let mut seed = [0u8; 16];
            if let Err(error) = random(&mut seed) {
                let reason = format!("no randomness for its canaries ({error})");
                effects.event(
                    Level::Error,
                    "policy_refused",
                    serde_json::json!({"reason": reason}),
                );
                return (false, effects);
            }
            policy.with_random_canaries(&seed)
        } else {
            policy
        };
        self.load(policy, &mut effects);
        (true, effects)
    }

    fn load(&mut self, mut policy: Policy, effects: &mut Effects) {
        // A runtime mode switch older than this load gives way to the policy (IR-2).
        policy.loaded_ms = self.store.now_ms();
        let fields = serde_json::json!({"policy": policy.name, "digest": policy.digest, "summary": policy.summary()});
        effects.event(Level::Info, "policy_loaded", fields);
        if let Some(table) = policy.limit_table() {
            table.create_slots(self.store.as_ref());
        }
        let reviews = policy
            .routes
            .iter()
            .any(|r| r.review.as_ref().is_some_and(|v| v.queue.is_some()));
        if policy.limit_table().is_some() || policy.audit.collector.is_some() || reviews {
            effects.push(Effect::Tick(TICK_MS));
            self.hold.set_root_tick(TICK_MS);
        }
        self.policy = Some(Rc::new(policy));
    }

    /// A new HTTP stream of the VM, `context` its host id.
    pub fn stream(this: &Rc<RefCell<Vm>>, context: u32) -> Stream {
        let vm = this.borrow();
        let store = Rc::clone(&vm.store);
        let exchange = vm
            .policy
            .clone()
            .map(|policy| Exchange::with_store(policy, store));
        Stream::new(context, Rc::clone(this), exchange)
    }

    /// The root's tick: a header-hold probe whose body has not come is released; once per
    /// [`TICK_MS`], idle keys leave the shared table and what is queued is posted.
    pub fn tick(&mut self, now_ns: u64) -> Effects {
        let mut effects = Effects::default();
        if let Some((context, leaving)) = self.with_hold(&mut effects, |h| h.due(now_ns)) {
            let remove = leaving.headers_to_remove().collect();
            effects.push(Effect::Release { context, remove });
        }
        // A probe ticks faster than the root's own work needs.
        if now_ns.saturating_sub(self.last_work_ns) < TICK_MS * 1_000_000 {
            return effects;
        }
        self.last_work_ns = now_ns;
        let Some(policy) = self.policy.clone() else {
            return effects;
        };
        if let Some(table) = policy.limit_table() {
            self.sweep_from = table.sweep(self.store.as_ref(), self.sweep_from, SWEEP_PER_TICK);
        }
        let webhook = policy.abuse.as_ref().and_then(|a| a.webhook.as_ref());
        self.posts
            .post_all(webhook, policy.audit.collector.as_ref(), &mut effects);
        effects
    }

    /// What the host reports of the root's effects: a post sent (in the order they were
    /// asked for) or not, or a probing stream that could not be released.
    pub fn report(&mut self, report: Report) -> Effects {
        match report {
            Report::Sent(result) => self.posts.sent(result),
            Report::Gone(context) => {
                self.stream_gone(context);
                Effects::default()
            }
        }
    }

    /// The answer to one of the root's posts came, with `header_count` headers.
    pub fn call_answer(
        &mut self,
        reads: &dyn HostReads,
        token: u32,
        header_count: usize,
    ) -> Effects {
        self.posts.answered(token, call_status(reads, header_count))
    }

    /// The stream `context` ended, or could not be released: a probe it ran ends without
    /// an answer.
    pub fn stream_gone(&mut self, context: u32) {
        let mut effects = Effects::default();
        self.with_hold(&mut effects, |h| h.stream_done(context));
    }

    pub(super) fn hold(&self) -> Hold {
        self.hold.hold()
    }

    /// Whether the stream `context` may hold its request headers.
    pub(super) fn may_hold(
        &mut self,
        context: u32,
        leaving: Leaving,
        now_ns: u64,
        effects: &mut Effects,
    ) -> bool {
        self.with_hold(effects, |h| h.may_hold(context, leaving, now_ns))
    }

    /// The stream `context`, which held its headers, got its first body: whether they are
    /// still held. What a probe learned is logged.
    pub(super) fn body_arrived(
        &mut self,
        context: u32,
        now_ns: u64,
        effects: &mut Effects,
    ) -> bool {
        let arrived = self.with_hold(effects, |h| h.body_arrived(context, now_ns));
        if let Some((error, event, fields)) = arrived.learned.and_then(Hold::announcement) {
            let level = if error { Level::Error } else { Level::Info };
            effects.event(level, event, fields);
        }
        arrived.still_held
    }

    /// Runs `f` on the header hold; the root's tick follows a probe that started or ended.
    fn with_hold<T>(&mut self, effects: &mut Effects, f: impl FnOnce(&mut HeaderHold) -> T) -> T {
        let before = self.hold.tick_ms();
        let out = f(&mut self.hold);
        if self.hold.tick_ms() != before {
            effects.push(Effect::Tick(self.hold.tick_ms()));
        }
        out
    }

    /// A held tool call for its review queue, posted on the next tick.
    pub(super) fn queue_review(&mut self, queue: ReviewQueue, item: String, effects: &mut Effects) {
        self.posts.queue_review(queue, item, effects);
    }

    /// A finished exchange (PSF OM-1, OM-5, EA-4): its record is sealed into the chain and
    /// goes to the log behind `psf.audit `, to filter state for access-log formatters
    /// (`%FILTER_STATE(wasm.psf_audit:PLAIN)%`) and to the collector's queue; then its
    /// metrics, then its alerts, to the log behind `psf.alert `, the counter
    /// `psf_alerts_total` by kind and the webhook's queue.
    pub(super) fn concluded(&mut self, done: Concluded, effects: &mut Effects) {
        let line = self.chain.seal(&done.record);
        effects.push(Effect::Log(Level::Info, format!("psf.audit {line}")));
        effects.push(Effect::FilterState("psf_audit", line.clone()));
        effects.count("psf_audit_records_total", 1);
        if let Some(collector) = &done.collector {
            self.posts.queue_record(line, collector, effects);
        }
        for metric in done.metrics {
            effects.push(match metric.kind {
                MetricKind::Counter => {
                    Effect::Count(metric.name, i64::try_from(metric.value).unwrap_or(i64::MAX))
                }
                MetricKind::Histogram => Effect::Observe(metric.name, metric.value),
            });
        }
        for alert in &done.alerts {
            let json = alert.to_json();
            let level = match alert.level {
                AlertLevel::Warn => Level::Warn,
                AlertLevel::Critical => Level::Critical,
            };
            effects.push(Effect::Log(level, format!("psf.alert {json}")));
            effects.count(format!("psf_alerts_total.kind.{}", alert.kind), 1);
            if done.webhook {
                self.posts.queue_alert(json, effects);
            }
        }
    }
}
