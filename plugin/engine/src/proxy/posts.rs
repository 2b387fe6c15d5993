//! What the root context posts, on its ticks, for every stream of the VM (PSF OM-3, OM-5,
//! HO-2): audit records to the collector in batches, alerts to the webhook, and held tool
//! calls to their review queues. A stream's own calls are cancelled when it ends, so these
//! wait in bounded queues for the root; a post that fails is logged and counted where it
//! belongs.

use super::effects::{Call, Effect, Effects, Level};
use crate::audit::settings::Collector;
use crate::controls::ratelimit::settings::Webhook;
use crate::policy::ReviewQueue;
use std::collections::{HashMap, VecDeque};

/// Alerts waiting for the webhook at most.
const MAX_ALERTS: usize = 256;
/// Held tool calls waiting for their queue at most.
const MAX_REVIEWS: usize = 1024;
/// How long a review queue has to answer.
const REVIEW_TIMEOUT_MS: u64 = 5000;

/// The queues, and the posts in flight.
#[derive(Debug, Default)]
pub(super) struct Posts {
    /// Sealed audit records for the collector.
    records: VecDeque<String>,
    /// Alerts for the webhook, and how often each was tried.
    alerts: VecDeque<(String, u8)>,
    reviews: VecDeque<(ReviewQueue, String)>,
    /// Posts asked of the host whose token has not come back yet, in order.
    unsent: VecDeque<(Post, String)>,
    /// Posts in flight, by token.
    calls: HashMap<u32, Post>,
}

/// What a post carries, so its failure goes back where it came from.
#[derive(Debug)]
enum Post {
    Review,
    /// A batch of this many audit records.
    Audit(usize),
    /// An alert, and its attempt.
    Alert(String, u8),
}

impl Posts {
    /// Queues a sealed record for `collector`; past its bound the oldest is dropped.
    pub(super) fn queue_record(
        &mut self,
        line: String,
        collector: &Collector,
        effects: &mut Effects,
    ) {
        if self.records.len() >= collector.max_pending {
            self.records.pop_front();
            effects.count("psf_audit_dropped_total.reason.queue_full", 1);
        }
        self.records.push_back(line);
    }

    pub(super) fn queue_alert(&mut self, alert: String, effects: &mut Effects) {
        if self.alerts.len() >= MAX_ALERTS {
            self.alerts.pop_front();
            alert_dropped("queue full", effects);
        }
        self.alerts.push_back((alert, 0));
    }

    pub(super) fn queue_review(&mut self, queue: ReviewQueue, item: String, effects: &mut Effects) {
        if self.reviews.len() >= MAX_REVIEWS {
            self.reviews.pop_front();
            review_failed("queue full", effects);
        }
        self.reviews.push_back((queue, item));
    }

    /// Everything queued, as calls: alerts, then audit batches, then reviews.
    pub(super) fn post_all(
        &mut self,
        webhook: Option<&Webhook>,
        collector: Option<&Collector>,
        effects: &mut Effects,
    ) {
        if let Some(hook) = webhook {
            for (body, attempt) in std::mem::take(&mut self.alerts) {
                let target =
                    Target::new(&hook.cluster, &hook.path, &hook.authority, hook.timeout_ms);
                let post = Post::Alert(body.clone(), attempt);
                self.post(target, "application/json", body, post, effects);
            }
        }
        if let Some(collector) = collector {
            while !self.records.is_empty() {
                let take = collector.batch.min(self.records.len()).max(1);
                let lines: Vec<String> = self.records.drain(..take).collect();
                let c = collector;
                let target = Target::new(&c.cluster, &c.path, &c.authority, c.timeout_ms);
                let body = lines.join("\n") + "\n";
                self.post(
                    target,
                    "application/x-ndjson",
                    body,
                    Post::Audit(take),
                    effects,
                );
            }
        }
        for (queue, body) in std::mem::take(&mut self.reviews) {
            let q = &queue;
            let target = Target::new(&q.cluster, &q.path, &q.authority, REVIEW_TIMEOUT_MS);
            self.post(target, "application/json", body, Post::Review, effects);
        }
    }

    fn post(
        &mut self,
        target: Target<'_>,
        content_type: &str,
        body: String,
        post: Post,
        effects: &mut Effects,
    ) {
        let headers = [
            (":method", "POST"),
            (":path", target.path),
            (":authority", target.authority),
            ("content-type", content_type),
        ];
        effects.push(Effect::Call(Call {
            cluster: target.cluster.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.into_bytes(),
            timeout_ms: target.timeout_ms,
        }));
        self.unsent.push_back((post, target.cluster.to_string()));
    }

    /// The host sent the oldest unsent post (its token) or could not (why).
    pub(super) fn sent(&mut self, result: Result<u32, String>) -> Effects {
        let mut effects = Effects::default();
        let Some((post, cluster)) = self.unsent.pop_front() else {
            return effects;
        };
        match result {
            Ok(token) => {
                self.calls.insert(token, post);
            }
            Err(status) => {
                let why = format!("could not call cluster {cluster:?}: {status}");
                self.failed(post, &why, &mut effects);
            }
        }
        effects
    }

    /// A post's answer came, with its `status` (`None`: it failed or timed out).
    pub(super) fn answered(&mut self, token: u32, status: Option<u16>) -> Effects {
        let mut effects = Effects::default();
        let Some(post) = self.calls.remove(&token) else {
            return effects;
        };
        let peer = match post {
            Post::Review => "review queue",
            Post::Audit(_) => "collector",
            Post::Alert(..) => "webhook",
        };
        match status {
            Some(200..=299) => {}
            Some(status) => self.failed(post, &format!("{peer} answered {status}"), &mut effects),
            None => self.failed(
                post,
                &format!("{peer} call failed or timed out"),
                &mut effects,
            ),
        }
        effects
    }

    /// A post failed (`why`): an alert is tried again once on the next tick; otherwise it is
    /// logged and counted.
    fn failed(&mut self, post: Post, why: &str, effects: &mut Effects) {
        match post {
            Post::Review => review_failed(why, effects),
            Post::Audit(records) => {
                let fields = serde_json::json!({"records": records, "reason": why});
                effects.event(Level::Warn, "audit_collector_failed", fields);
                let dropped = i64::try_from(records).unwrap_or(i64::MAX);
                effects.count("psf_audit_dropped_total.reason.collector", dropped);
            }
            Post::Alert(body, 0) => self.alerts.push_back((body, 1)),
            Post::Alert(..) => alert_dropped(why, effects),
        }
    }
}

fn alert_dropped(why: &str, effects: &mut Effects) {
    effects.event(
        Level::Error,
        "alert_webhook_failed",
        serde_json::json!({"reason": why}),
    );
    effects.count("psf_alert_webhook_failures_total", 1);
}

fn review_failed(why: &str, effects: &mut Effects) {
    effects.event(
        Level::Error,
        "review_queue_failed",
        serde_json::json!({"reason": why}),
    );
    effects.count("psf_review_queue_failures_total", 1);
}

/// Where a post goes.
struct Target<'a> {
    cluster: &'a str,
    path: &'a str,
    authority: &'a str,
    timeout_ms: u64,
}

impl<'a> Target<'a> {
    fn new(cluster: &'a str, path: &'a str, authority: &'a str, timeout_ms: u64) -> Self {
        Self {
            cluster,
            path,
            authority,
            timeout_ms,
        }
    }
}
