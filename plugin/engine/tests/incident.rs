//! The kill switch and incident messages (PSF IR-2, IR-4) through whole exchanges on one
//! shared store, as two Envoy workers would share it.

use psf_engine::controls::ratelimit::store::SharedStore;
use psf_engine::controls::ratelimit::MemoryStore;
use psf_engine::{ErrorCode, Exchange, Policy, RequestHead, Step};
use serde_json::{json, Value};
use std::rc::Rc;

const TOKEN: &str = "admin-token-0123456789abcdef";

fn policy() -> Policy {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions"},
                   {"id": "resp", "path": "/v1/responses"}],
        "incident": {
            "admin": {"token": TOKEN, "sources": ["127.0.0.1/32", "10.0.0.0/8"]},
            "templates": {
                "degrade": {"message": "We are answering from a reduced service.",
                            "approved_by": "Ada Lovelace", "approved_on": "2026-11-01"},
                "isolate": {"message": "The assistant is paused while we investigate.",
                            "approved_by": "Ada Lovelace", "approved_on": "2026-11-01"}}}});
    Policy::from_json(document.to_string().as_bytes()).unwrap()
}

struct Worker {
    policy: Rc<Policy>,
    store: Rc<MemoryStore>,
}

impl Worker {
    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        source: &str,
        body: &str,
    ) -> (Step, Exchange) {
        let store: Rc<dyn SharedStore> = self.store.clone();
        let mut exchange = Exchange::with_store(Rc::clone(&self.policy), store);
        let headers = headers.to_vec();
        let lookup = move |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        exchange.set_client(&lookup, Some(source));
        let step = exchange.on_request_headers(RequestHead {
            method,
            path,
            request_id: "r",
            content_length: Some(body.len() as u64),
            content_type: Some("application/json"),
            end_of_stream: body.is_empty(),
        });
        if step != Step::Pause {
            return (step, exchange);
        }
        let step = match exchange.on_request_body(body.len() as u64, true) {
            Step::NeedBody => exchange.inspect_request_body(body.as_bytes()),
            other => other,
        };
        (step, exchange)
    }

    fn switch(&self, body: Value, token: &str, source: &str) -> Step {
        let auth = format!("Bearer {token}");
        self.send(
            "POST",
            "/.psf/v1/mode",
            &[("authorization", &auth)],
            source,
            &body.to_string(),
        )
        .0
    }

    fn chat(&self, path: &str) -> Step {
        let body =
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
        self.send("POST", path, &[], "192.0.2.1:1", &body).0
    }
}

fn workers() -> (Worker, Worker, Rc<MemoryStore>) {
    let store = Rc::new(MemoryStore::new(1_800_000_000_000));
    let policy = Rc::new(policy());
    let a = Worker {
        policy: Rc::clone(&policy),
        store: Rc::clone(&store),
    };
    let b = Worker {
        policy,
        store: Rc::clone(&store),
    };
    (a, b, store)
}

fn code(step: &Step) -> Option<ErrorCode> {
    match step {
        Step::Reject(r) => Some(r.code),
        _ => None,
    }
}

#[test]
fn a_switch_on_one_worker_applies_to_the_next_request_on_every_worker() {
    let (a, b, store) = workers();
    assert!(matches!(b.chat("/v1/chat/completions"), Step::Continue));
    store.advance(10);
    let Step::Answer { status, body } = a.switch(
        json!({"mode": "isolate", "reason": "drill"}),
        TOKEN,
        "127.0.0.1:5000",
    ) else {
        panic!("the switch was refused")
    };
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (answer["mode"].as_str(), answer["previous"].clone()),
        (Some("isolate"), Value::Null)
    );
    for worker in [&a, &b] {
        let step = worker.chat("/v1/chat/completions");
        let Step::Reject(rejection) = &step else {
            panic!("{step:?}")
        };
        assert_eq!(
            (rejection.code, rejection.status()),
            (ErrorCode::ServiceIsolated, 503)
        );
        assert_eq!(
            rejection.message,
            "The assistant is paused while we investigate."
        );
    }
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    let (_, exchange) = a.send("POST", "/v1/chat/completions", &[], "192.0.2.1:1", &body);
    let record: Value =
        serde_json::from_str(&exchange.record().to_json(exchange.policy())).unwrap();
    assert_eq!(record["codes"], json!(["service_isolated"]));
    assert_eq!(record["mode"], "isolate");
    // Unrouted traffic is not AI traffic: it passes, and its record says so.
    let (step, exchange) = b.send("POST", "/healthz", &[], "192.0.2.1:1", &body);
    assert_eq!(step, Step::Continue);
    assert!(!exchange.rejected());
    let record: Value =
        serde_json::from_str(&exchange.record().to_json(exchange.policy())).unwrap();
    assert_eq!(
        (record["decision"].as_str(), record["mode"].as_str()),
        (Some("allow"), Some("enforce"))
    );
    assert_eq!(record["codes"], json!([]));
    // Back to the policy.
    store.advance(10);
    assert!(matches!(
        a.switch(json!({"mode": "policy"}), TOKEN, "10.1.2.3:1"),
        Step::Answer { .. }
    ));
    assert!(matches!(b.chat("/v1/chat/completions"), Step::Continue));
}

#[test]
fn degrade_per_route_serves_its_template_and_off_passes_uninspected() {
    let (a, b, store) = workers();
    store.advance(10);
    a.switch(
        json!({"mode": "degrade", "route": "resp"}),
        TOKEN,
        "127.0.0.1:1",
    );
    let step = b.chat("/v1/responses");
    let Step::Reject(rejection) = &step else {
        panic!("{step:?}")
    };
    assert_eq!(rejection.code, ErrorCode::ServiceDegraded);
    assert_eq!(
        rejection.message,
        "We are answering from a reduced service."
    );
    assert!(
        matches!(b.chat("/v1/chat/completions"), Step::Continue),
        "other routes run as before"
    );
    a.switch(json!({"mode": "off"}), TOKEN, "127.0.0.1:1");
    let body = "{not json";
    let (step, exchange) = b.send("POST", "/v1/chat/completions", &[], "192.0.2.1:1", body);
    assert_eq!(step, Step::Continue, "off: not even the JSON is checked");
    let _ = exchange;
}

#[test]
fn a_wrong_token_or_source_is_refused_and_changes_nothing() {
    let (a, b, _store) = workers();
    for (token, source) in [
        ("wrong-token-0123456789abcdef", "127.0.0.1:1"),
        (TOKEN, "192.168.1.9:1"),
        ("", "127.0.0.1:1"),
    ] {
        let step = a.switch(json!({"mode": "isolate"}), token, source);
        assert_eq!(
            code(&step),
            Some(ErrorCode::AdminForbidden),
            "{token} from {source}"
        );
    }
    assert!(matches!(b.chat("/v1/chat/completions"), Step::Continue));
    let step = a.switch(json!({"mode": "panic"}), TOKEN, "127.0.0.1:1");
    assert_eq!(code(&step), Some(ErrorCode::InvalidRequest));
    let step = a.switch(
        json!({"mode": "isolate", "route": "nope"}),
        TOKEN,
        "127.0.0.1:1",
    );
    assert_eq!(code(&step), Some(ErrorCode::InvalidRequest));
    assert!(matches!(b.chat("/v1/chat/completions"), Step::Continue));
}

#[test]
fn the_newer_of_switch_and_policy_load_wins() {
    let (a, _b, store) = workers();
    store.advance(10);
    a.switch(json!({"mode": "isolate"}), TOKEN, "127.0.0.1:1");
    // A config push after the switch: the pushed policy decides again.
    let mut pushed = policy();
    pushed.loaded_ms = store.now_ms() + 5;
    let later = Worker {
        policy: Rc::new(pushed),
        store: Rc::clone(&store),
    };
    assert!(matches!(later.chat("/v1/chat/completions"), Step::Continue));
    let get = a
        .send(
            "GET",
            "/.psf/v1/mode",
            &[("authorization", &format!("Bearer {TOKEN}"))],
            "127.0.0.1:1",
            "",
        )
        .0;
    let Step::Answer { body, .. } = get else {
        panic!("{get:?}")
    };
    let state: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(state["switches"]["global"]["mode"], "isolate");
}

#[test]
fn incident_settings_are_checked_at_load() {
    for (incident, path) in [
        (
            json!({"admin": {"token": "short", "sources": ["127.0.0.1"]}}),
            "incident.admin.token",
        ),
        (json!({"admin": {"token": TOKEN}}), "incident.admin.sources"),
        (
            json!({"admin": {"token": TOKEN, "sources": ["10.0.0.0/40"]}}),
            "incident.admin.sources[0]",
        ),
        (
            json!({"templates": {"isolate": {"approved_by": "x"}}}),
            "incident.templates.isolate.message",
        ),
    ] {
        let document =
            json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "incident": incident});
        let errors = Policy::from_json(document.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(errors.contains(path), "{path} not in {errors}");
    }
}

#[test]
fn the_accountability_document_is_served_from_the_policy() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../policies/default.json"
    ))
    .unwrap();
    let policy = Rc::new(Policy::from_json(text.as_bytes()).unwrap());
    let worker = Worker {
        policy,
        store: Rc::new(MemoryStore::new(0)),
    };
    let (step, exchange) = worker.send(
        "GET",
        "/.well-known/ai-accountability",
        &[],
        "192.0.2.1:1",
        "",
    );
    let Step::Answer { status, body } = step else {
        panic!("{step:?}")
    };
    assert_eq!(status, 200);
    let document: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(document["owner"], "Jane Doe <jane.doe@example.com>");
    assert_eq!(
        document["accountability"]["chain"][0]["since"],
        "2026-11-27"
    );
    assert_eq!(
        exchange.record().route.as_deref(),
        Some("psf-accountability")
    );
    let bad = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "accountability": {"model_cards": [{"model": "m", "reviewed_on": "last week"}]}});
    let errors = Policy::from_json(bad.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("accountability.model_cards[0].reviewed_on"),
        "{errors}"
    );
}

#[test]
fn oversight_and_governance_settings_are_checked_at_load() {
    let route = |extra: Value| {
        let mut route = json!({"id": "chat", "path": "/v1/chat/completions"});
        for (k, v) in extra.as_object().unwrap() {
            route[k] = v.clone();
        }
        json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "routes": [route]})
    };
    for (document, path) in [
        (
            route(json!({"review": {"tools": ["transfer_*"], "key": "k".repeat(16)}})),
            "routes[0].review",
        ),
        (
            route(json!({"autonomy": "supervised", "review": {"tools": [], "key": "short"}})),
            "routes[0].review.tools",
        ),
        (route(json!({"autonomy": "reckless"})), "routes[0].autonomy"),
        (
            route(json!({"approved_models": {"pinned": ["m-1"], "aliases": {"m": "m-2"}}})),
            "routes[0].approved_models.aliases.m",
        ),
        (
            route(json!({"disclosure": {"text": "é"}})),
            "routes[0].disclosure.text",
        ),
        (
            json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "residency": {"allowed_regions": []}}),
            "residency.allowed_regions",
        ),
    ] {
        let errors = Policy::from_json(document.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(errors.contains(path), "{path} not in {errors}");
    }
}

#[test]
fn a_degrade_fallback_answers_failures_and_then_every_request_while_the_breaker_is_open() {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "chat", "path": "/v1/chat/completions",
            "fallback": {"action": "degrade", "breaker": {"failures": 2, "open_seconds": 10}}}],
        "incident": {"templates": {"degrade": {"message": "Reduced service.",
            "approved_by": "Ada Lovelace", "approved_on": "2026-11-01"}}}});
    let policy = Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap());
    let store = Rc::new(MemoryStore::new(1_800_000_000_000));
    let worker = Worker {
        policy,
        store: Rc::clone(&store),
    };
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).to_string();
    for _ in 0..2 {
        let (step, mut exchange) =
            worker.send("POST", "/v1/chat/completions", &[], "192.0.2.1:1", &body);
        assert_eq!(step, Step::Continue);
        // The provider fails: the client gets the approved message, not a bare 502.
        assert_eq!(
            exchange.on_response_headers(503, Some("application/json"), None),
            psf_engine::ResponsePlan::Refuse
        );
        let rejection = exchange.take_refusal().unwrap();
        assert_eq!(
            (rejection.code, rejection.message.as_str()),
            (ErrorCode::ServiceDegraded, "Reduced service.")
        );
    }
    // The breaker is open: the provider is not called at all.
    let (step, _) = worker.send("POST", "/v1/chat/completions", &[], "192.0.2.1:1", &body);
    assert_eq!(code(&step), Some(ErrorCode::ServiceDegraded));
    store.advance(10_001);
    let (step, _) = worker.send("POST", "/v1/chat/completions", &[], "192.0.2.1:1", &body);
    assert_eq!(step, Step::Continue, "the primary is tried again");
    let bad = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
        "routes": [{"id": "c", "path": "/x", "fallback": {"action": "retry", "on": ["4xx"]}}]});
    let errors = Policy::from_json(bad.to_string().as_bytes())
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("routes[0].fallback.action") && errors.contains("routes[0].fallback.on[0]"),
        "{errors}"
    );
}
