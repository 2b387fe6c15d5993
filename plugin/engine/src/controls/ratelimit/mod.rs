//! Rate and token limits with reservation, abuse detection and alerts (PSF IG-4, OM-3).
//!
//! State lives in the host's shared data ([`SharedStore`]), so every worker VM of one Envoy
//! sees the same counters; updates are compare-and-swap with a bounded retry. Keys are
//! hashed before they are stored (DG-1). [`RateState`] is one request's part in it.

pub mod abuse;
pub mod alert;
pub mod bucket;
mod headers;
pub mod key;
pub mod limiter;
pub mod settings;
pub mod store;
pub mod table;

use crate::code::ErrorCode;
use crate::policy::Policy;
use crate::rejection::Rejection;
use abuse::Raised;
use alert::Alert;
use key::{hash_key, key_material, ClientFacts, KeyHash};
use limiter::{admit, release, settle, Decided, Demand, Hold, Refusal, Standing};
use settings::{Contention, KeyPart, Limit, MissingKey, Strike};
pub use store::{MemoryStore, SharedStore};

/// What one request did with the limits: its key facts, what it holds, what to report.
#[derive(Debug, Default)]
pub struct RateState {
    client: ClientFacts,
    route: Option<String>,
    model: Option<String>,
    holds: Vec<Hold>,
    /// The abuse key, once the facts it needs are known.
    abuse_key: Option<KeyHash>,
    suspension_checked: bool,
    /// `x-ratelimit-*` (and `retry-after` on refusals).
    headers: Vec<(&'static str, String)>,
    /// The export header's value.
    export: Option<String>,
    /// The hash of the first limit's key, for the decision record.
    key: Option<String>,
    alerts: Vec<Alert>,
    admitted: bool,
}

/// Why a request may not go on.
pub type Refused = Rejection;

impl RateState {
    /// Keeps the client facts the policy's keys read (see [`Policy::limit_headers`]).
    pub fn new(client: ClientFacts) -> Self {
        Self {
            client,
            ..Self::default()
        }
    }

    pub fn set_route(&mut self, route: Option<&str>) {
        self.route = route.map(str::to_string);
    }

    /// Refuses a suspended key (403 `abuse_suspended`). Checked as soon as the abuse key's
    /// facts are known: at the headers, or with the body when the key names the model.
    pub fn check_suspension(
        &mut self,
        policy: &Policy,
        store: &dyn SharedStore,
        request_id: &str,
    ) -> Option<Refused> {
        let abuse = policy.abuse.as_ref()?;
        if self.suspension_checked {
            return None;
        }
        let key = self.abuse_key(policy)?;
        self.suspension_checked = true;
        let suspended = abuse::suspended(store, &abuse.table, abuse, key)?;
        if let Some(raised) = suspended.raised {
            self.raise(policy, store, raised, key, "abuse", request_id);
        }
        self.headers = vec![(
            "retry-after",
            suspended.remaining_ms.div_ceil(1000).max(1).to_string(),
        )];
        Some(Rejection::new(
            ErrorCode::AbuseSuspended,
            "abuse",
            format!(
                "this client is suspended for repeated policy violations; retry in {} s",
                suspended.remaining_ms.div_ceil(1000).max(1)
            ),
        ))
    }

    /// Checks every limit that applies and takes each one's share. `demand` is `None` for a
    /// request whose body is not read. `Ok(Some(n))`: admitted with the completion clamped
    /// to `n` tokens.
    pub fn admit(
        &mut self,
        policy: &Policy,
        store: &dyn SharedStore,
        model: Option<&str>,
        demand: Option<Demand>,
        request_id: &str,
    ) -> Result<Option<u64>, Refused> {
        self.model = model.map(str::to_string);
        if let Some(refused) = self.check_suspension(policy, store, request_id) {
            return Err(refused);
        }
        let Some(rates) = &policy.rate_limits else {
            return Ok(None);
        };
        let asked = demand.unwrap_or_default();
        let mut demand = asked;
        let mut requests: Option<Standing> = None;
        let mut tokens: Option<Standing> = None;
        for (index, limit) in rates.limits.iter().enumerate() {
            if !limit.applies_to(self.route.as_deref()) {
                continue;
            }
            let Some(key) = self.limit_key(policy, limit) else {
                continue;
            };
            if self.key.is_none() {
                let hex = key.hex();
                if rates.export_header.is_some() {
                    self.export = Some(format!("{}:{hex}", limit.id));
                }
                self.key = Some(hex);
            }
            match admit(store, &rates.table, limit, key, demand) {
                Decided::Admit {
                    completion,
                    standing,
                } => {
                    demand.completion = demand.completion.min(completion);
                    self.holds.push(Hold {
                        limit: index,
                        key,
                        prompt: demand.prompt,
                        completion,
                        in_flight: limit.concurrent.is_some(),
                    });
                    if standing.requests.is_some() && requests.is_none() {
                        requests = Some(standing);
                    }
                    if standing.tokens.is_some() && tokens.is_none() {
                        tokens = Some(standing);
                    }
                }
                Decided::Refuse { refusal, standing } => {
                    if refusal == Refusal::Contended && rates.on_contention == Contention::Allow {
                        self.contended(policy, store, limit, key, request_id, "admitted uncounted");
                        continue;
                    }
                    self.release_all(policy, store);
                    return Err(
                        self.refuse(policy, store, limit, key, refusal, standing, request_id)
                    );
                }
            }
        }
        self.admitted = true;
        let standing = Standing {
            requests: requests.and_then(|s| s.requests),
            tokens: tokens.and_then(|s| s.tokens),
        };
        self.headers = headers::limit_headers(&standing, None);
        Ok((demand.completion < asked.completion).then_some(demand.completion))
    }

    #[allow(clippy::too_many_arguments)]
    fn refuse(
        &mut self,
        policy: &Policy,
        store: &dyn SharedStore,
        limit: &Limit,
        key: KeyHash,
        refusal: Refusal,
        standing: Standing,
        request_id: &str,
    ) -> Refused {
        let rule = |dimension: &str| format!("rate_limits.{}.{dimension}", limit.id);
        match refusal {
            Refusal::Over { dimension, wait_ms } => {
                self.headers = headers::limit_headers(&standing, Some(wait_ms));
                let seconds = wait_ms.div_ceil(1000).max(1);
                Rejection::new(ErrorCode::RateLimitExceeded, rule(dimension), format!(
                        "rate limit {} reached for {dimension}; retry in {seconds} s",
                        limit.id
                    ))
            }
            Refusal::TooLarge {
                dimension,
                needed,
                cap,
            } => Rejection::new(ErrorCode::TooManyTokens, rule(dimension), format!(
                    "the request needs about {needed} {}, more than the {cap} rate limit {} allows per window",
                    dimension.replace('_', " "),
                    limit.id
                )),
            Refusal::Contended => {
                self.contended(policy, store, limit, key, request_id, "refused");
                self.headers = vec![("retry-after", "1".into())];
                Rejection::new(ErrorCode::RateLimitExceeded, rule("contention"), format!(
                        "rate limit {} could not be checked under contention; retry in 1 s",
                        limit.id
                    ))
            }
        }
    }

    fn contended(
        &mut self,
        policy: &Policy,
        store: &dyn SharedStore,
        limit: &Limit,
        key: KeyHash,
        request_id: &str,
        outcome: &str,
    ) {
        let raised = Raised {
            kind: "rate_limit_contention",
            level: alert::AlertLevel::Warn,
            count: table::MAX_ATTEMPTS as u64,
            suspended_for_ms: None,
        };
        self.raise(policy, store, raised, key, &limit.id, request_id);
        if let Some(alert) = self.alerts.last_mut() {
            alert.message = format!("shared counters stayed contended; the request was {outcome}");
        }
    }

    fn release_all(&mut self, policy: &Policy, store: &dyn SharedStore) {
        let Some(rates) = &policy.rate_limits else {
            return;
        };
        for hold in std::mem::take(&mut self.holds) {
            release(store, &rates.table, &rates.limits[hold.limit], &hold);
        }
    }

    /// The request is over: settles what it reserved with what it `used` (`None` when it
    /// never reached the model) and counts a strike when `strike` names one.
    pub fn finish(
        &mut self,
        policy: &Policy,
        store: &dyn SharedStore,
        used: Option<(u64, u64)>,
        strike: Option<Strike>,
        request_id: &str,
    ) {
        if let Some(rates) = &policy.rate_limits {
            for hold in std::mem::take(&mut self.holds) {
                let limit = &rates.limits[hold.limit];
                settle(store, &rates.table, limit, &hold, used.unwrap_or((0, 0)));
            }
        }
        let (Some(abuse), Some(strike)) = (&policy.abuse, strike) else {
            return;
        };
        let Some(key) = self.abuse_key(policy) else {
            return;
        };
        if let Some(raised) = abuse::strike(store, &abuse.table, abuse, key, strike) {
            self.raise(policy, store, raised, key, "abuse", request_id);
            if let Some(alert) = self.alerts.last_mut() {
                alert.message = format!(
                    "{} strikes ({} last) within {} s",
                    raised.count,
                    strike.as_str(),
                    abuse.window_ms / 1000
                );
            }
        }
    }

    fn raise(
        &mut self,
        policy: &Policy,
        store: &dyn SharedStore,
        raised: Raised,
        key: KeyHash,
        rule: &str,
        request_id: &str,
    ) {
        let message = match raised.kind {
            "abuse_persisting" => format!(
                "a suspended client sent {} more requests during its suspension",
                raised.count
            ),
            _ => String::new(),
        };
        self.alerts.push(Alert {
            kind_tag: Alert::TYPE,
            level: raised.level,
            kind: raised.kind,
            key: key.hex(),
            rule: rule.to_string(),
            policy: policy.name.clone(),
            request_id: request_id.to_string(),
            count: raised.count,
            suspended_for_s: raised.suspended_for_ms.map(|ms| ms.div_ceil(1000)),
            message,
            timestamp_ms: store.now_ms(),
        });
    }

    fn limit_key(&self, policy: &Policy, limit: &Limit) -> Option<KeyHash> {
        let rates = policy.rate_limits.as_ref()?;
        let material = key_material(
            &limit.key,
            &self.client,
            self.route.as_deref(),
            self.model.as_deref(),
        );
        let material = match (material, limit.missing_key) {
            (Some(material), _) => material,
            // One shared budget for every request that leaves the key out.
            (None, MissingKey::Shared) => "\u{0}missing".to_string(),
            (None, MissingKey::Skip) => return None,
        };
        Some(hash_key(&rates.hash_secret, &limit.id, &material))
    }

    fn abuse_key(&mut self, policy: &Policy) -> Option<KeyHash> {
        if self.abuse_key.is_none() {
            let abuse = policy.abuse.as_ref()?;
            if abuse.key.contains(&KeyPart::Model) && self.model.is_none() {
                return None;
            }
            let material = key_material(
                &abuse.key,
                &self.client,
                self.route.as_deref(),
                self.model.as_deref(),
            )?;
            self.abuse_key = Some(hash_key(&abuse.hash_secret, "abuse", &material));
        }
        self.abuse_key
    }

    /// Whether the request was admitted by its limits (and so holds a share to settle).
    pub fn admitted(&self) -> bool {
        self.admitted
    }

    /// `x-ratelimit-*` for the response (and `retry-after` after a refusal).
    pub fn headers(&self) -> &[(&'static str, String)] {
        &self.headers
    }

    /// The value of the export header, `<limit id>:<key hash>`.
    pub fn export(&self) -> Option<&str> {
        self.export.as_deref()
    }

    /// The hash of the first limit's key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn take_alerts(&mut self) -> Vec<Alert> {
        std::mem::take(&mut self.alerts)
    }
}
