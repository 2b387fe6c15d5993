use psf_engine::{Decision, ErrorCode, Exchange, Policy, RequestHead, Step};
use std::rc::Rc;

fn policy(mode: &str, action: &str) -> Rc<Policy> {
    let document = format!(
        r#"{{"version":1,"name":"t","owner":"Ada Lovelace","mode":"{mode}",
            "rules":[{{"id":"body-size","type":"request_body_size","max_bytes":100,"action":"{action}"}}]}}"#
    );
    Rc::new(Policy::from_json(document.as_bytes()).expect("policy"))
}

fn head(content_length: Option<u64>, end_of_stream: bool) -> RequestHead<'static> {
    RequestHead {
        method: "POST",
        path: "/v1/chat/completions",
        request_id: "req-1",
        content_length,
        content_type: Some("application/json"),
        end_of_stream,
    }
}

/// Plays headers then body sizes (cumulative, ending with end_of_stream) and returns the steps.
fn play(policy: Rc<Policy>, content_length: Option<u64>, sizes: &[u64]) -> (Vec<Step>, Exchange) {
    let mut exchange = Exchange::new(policy);
    let mut steps = vec![exchange.on_request_headers(head(content_length, sizes.is_empty()))];
    for (i, size) in sizes.iter().enumerate() {
        if matches!(steps.last(), Some(Step::Reject(_))) {
            break;
        }
        steps.push(exchange.on_request_body(*size, i + 1 == sizes.len()));
    }
    (steps, exchange)
}

fn is_reject(step: &Step) -> bool {
    matches!(step, Step::Reject(r) if r.code == ErrorCode::RequestTooLarge && r.status() == 413)
}

#[test]
fn content_length_over_limit_is_rejected_before_any_body() {
    let (steps, exchange) = play(policy("enforce", "block"), Some(101), &[50, 101]);
    assert_eq!(steps.len(), 1);
    assert!(is_reject(&steps[0]));
    assert_eq!(exchange.record().decision, Decision::Block);
    assert_eq!(exchange.record().status, Some(413));
    assert!(exchange.rejected());
}

#[test]
fn content_length_within_limit_streams_without_buffering() {
    let (steps, exchange) = play(policy("enforce", "block"), Some(100), &[60, 100]);
    assert_eq!(steps, vec![Step::Continue, Step::Continue, Step::Continue]);
    assert_eq!(exchange.record().decision, Decision::Allow);
    assert!(exchange.record().findings.is_empty());
}

#[test]
fn unknown_length_is_held_then_rejected_as_soon_as_it_passes_the_limit() {
    let (steps, _) = play(policy("enforce", "block"), None, &[60, 120, 180, 180]);
    assert_eq!(steps[0], Step::Pause);
    assert_eq!(steps[1], Step::Pause);
    assert!(is_reject(&steps[2]), "{steps:?}");
    assert_eq!(steps.len(), 3);
}

#[test]
fn unknown_length_within_limit_is_released_at_end_of_stream() {
    // Envoy ends the body with an empty end_of_stream chunk: the size repeats.
    let (steps, exchange) = play(policy("enforce", "block"), None, &[60, 100, 100]);
    assert_eq!(
        steps,
        vec![Step::Pause, Step::Pause, Step::Pause, Step::Continue]
    );
    assert_eq!(exchange.record().request_bytes, 100);
}

#[test]
fn monitor_mode_records_but_never_blocks() {
    let (steps, exchange) = play(policy("monitor", "block"), Some(500), &[500]);
    assert!(steps.iter().all(|s| *s == Step::Continue), "{steps:?}");
    let record = exchange.record();
    assert_eq!(record.decision, Decision::Allow);
    assert_eq!(record.findings.len(), 1);
    assert!(!record.findings[0].enforced);
}

#[test]
fn flag_action_records_but_never_blocks() {
    let (steps, exchange) = play(policy("enforce", "flag"), None, &[500, 500]);
    assert!(!steps.iter().any(is_reject), "{steps:?}");
    assert_eq!(steps.last(), Some(&Step::Continue));
    assert_eq!(
        exchange.record().findings.len(),
        1,
        "a finding is recorded once"
    );
}

#[test]
fn bodiless_request_passes() {
    let (steps, _) = play(policy("enforce", "block"), None, &[]);
    assert_eq!(steps, vec![Step::Continue]);
}

#[test]
fn rejection_body_has_the_one_error_shape() {
    let (steps, exchange) = play(policy("enforce", "block"), Some(2048), &[2048]);
    let Step::Reject(rejection) = &steps[0] else {
        panic!("{steps:?}")
    };
    let body: serde_json::Value = serde_json::from_slice(&rejection.body("req-1")).expect("json");
    assert_eq!(
        body,
        serde_json::json!({"error": {
            "message": "request body of 2048 bytes is over the limit of 100 bytes",
            "type": "psf_policy_violation",
            "code": "request_too_large",
            "param": null,
            "psf": {"rule": "body-size", "request_id": "req-1"}
        }})
    );
    let record: serde_json::Value =
        serde_json::from_str(&exchange.record().to_json(exchange.policy())).expect("json");
    assert_eq!(record["decision"], "block");
    assert_eq!(record["rules"], serde_json::json!(["body-size"]));
    assert_eq!(record["policy"]["owner"], "Ada Lovelace");
    assert_eq!(record["type"], "psf.audit");
    assert_eq!(record["codes"], serde_json::json!(["request_too_large"]));
    assert_eq!(record["findings"][0]["enforced"], true);
    assert_eq!(record["entities"], serde_json::json!([]));
}

/// A finished exchange hands the host everything at once, once: the record to seal, the
/// metric updates (named by the engine) and its alerts.
#[test]
fn conclude_gives_the_record_and_its_metrics_once() {
    let (_, mut exchange) = play(policy("enforce", "block"), Some(101), &[50, 101]);
    let done = exchange.conclude().expect("concluded");
    assert!(
        done.record.contains("\"decision\":\"block\""),
        "{}",
        done.record
    );
    let names: Vec<&str> = done.metrics.iter().map(|m| m.name.as_str()).collect();
    assert!(
        names.contains(&"psf_requests_total.route.unrouted.decision.block")
            && names.contains(&"psf_blocks_total.code.request_too_large"),
        "{names:?}"
    );
    assert!(done.collector.is_none() && done.alerts.is_empty() && !done.webhook);
    assert!(exchange.conclude().is_none());
}

/// The filter's own answers come from the engine whole: the error for a rejection, and an
/// admin or degraded answer with its content type and the record's id; other steps are not
/// answers.
#[test]
fn local_replies_carry_the_record_id() {
    let (steps, exchange) = play(policy("enforce", "block"), Some(101), &[50, 101]);
    let reply = exchange.local_reply(&steps[0]).expect("the error");
    assert_eq!(reply.status, 413);
    let answer = Step::Answer {
        status: 200,
        body: b"{}".to_vec(),
    };
    let reply = exchange.local_reply(&answer).expect("an answer");
    assert_eq!(reply.status, 200);
    assert!(reply
        .headers
        .contains(&("x-request-id", exchange.record().request_id.clone())));
    assert!(reply
        .headers
        .contains(&("content-type", "application/json".to_string())));
    assert_eq!(exchange.local_reply(&Step::Continue), None);
}

/// A callback's time adds up per side, and a request-side callback that lets the request go
/// marks it forwarded (so the upstream's latency is measured from there), unless refused.
#[test]
fn callback_done_adds_time_and_marks_a_request_forwarded() {
    let (_, mut exchange) = play(policy("enforce", "block"), Some(10), &[10]);
    exchange.callback_done(false, 7, true);
    exchange.callback_done(true, 3, true);
    assert_eq!(exchange.record().latency.filter_request_us, 7);
    assert_eq!(exchange.record().latency.filter_response_us, 3);
    exchange.on_response_headers(200, Some("application/json"), None);
    assert!(exchange.record().latency.upstream_ms.is_some());
    let (_, mut refused) = play(policy("enforce", "block"), Some(101), &[50, 101]);
    refused.callback_done(false, 1, true);
    refused.on_response_headers(200, Some("application/json"), None);
    assert!(refused.record().latency.upstream_ms.is_none());
}
