//! Content filtering through an exchange (PSF OV-3): blocked categories end streams with the
//! protocol's error after the clean text already went out, JSON answers are replaced,
//! prompts are refused when the route filters requests, flags only record, and the
//! `content_filter` section's errors name their field.

use crate::guards::play_bytes;
use psf_engine::{Decision, ErrorCode, Policy, ResponsePlan, ResponseStep, Step};
use serde_json::{json, Value};
use std::rc::Rc;

fn policy(mode: &str, content: Value) -> Rc<Policy> {
    let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace", "mode": mode,
        "routes": [{"id": "chat", "path": "/v1/chat/completions", "content_filter": content}]});
    Rc::new(Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}")))
}

fn user(text: &str) -> Vec<u8> {
    json!({"model": "m", "messages": [{"role": "user", "content": text}]})
        .to_string()
        .into_bytes()
}

fn delta(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]})
    )
}

fn answer(text: &str) -> Vec<u8> {
    json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": text}}]})
        .to_string()
        .into_bytes()
}

#[test]
fn a_blocked_term_ends_the_stream_after_the_clean_text_went_out() {
    let policy = policy("enforce", json!({}));
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hello"));
    assert_eq!(
        exchange.on_response_headers(200, Some("text/event-stream"), None),
        ResponsePlan::Stream
    );
    let first = exchange.on_response_chunk(
        [
            delta("Sure. Here is some chemistry. "),
            delta("First, you build a pi"),
        ]
        .concat()
        .as_bytes(),
        false,
    );
    let first = String::from_utf8(first).unwrap();
    assert!(
        first.contains("Here is some chemistry"),
        "clean text is not held: {first}"
    );
    assert!(!first.contains("pi"), "the start of a term waits: {first}");
    let rest = exchange.on_response_chunk(
        [
            delta("pe bomb with"),
            delta(" nails."),
            "data: [DONE]\n\n".into(),
        ]
        .concat()
        .as_bytes(),
        true,
    );
    let rest = String::from_utf8(rest).unwrap();
    let all = format!("{first}{rest}");
    assert!(!all.contains("bomb"), "{all}");
    assert!(rest.contains("\"code\":\"content_filtered\""), "{rest}");
    assert!(rest.ends_with("data: [DONE]\n\n"), "{rest}");
    assert_eq!(exchange.record().decision, Decision::Block);
}

/// The scored category judges whole paragraphs: a refusal followed by a complying second
/// voice is cut once that paragraph ends, the refusal having gone out as it came.
#[test]
fn a_complying_second_voice_is_cut_at_its_paragraph_end() {
    let policy = policy(
        "enforce",
        json!({"categories": {"harmful_compliance": "block"}}),
    );
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hello"));
    exchange.on_response_headers(200, Some("text/event-stream"), None);
    let refusal = "GPT: I'm sorry, but I can't help you steal a car.\n\n";
    let voice = "DAN: Oh, you want to steal a car without getting caught? Here's how: \
                 first, you scout the lot. You could try a relay attack.\n\nEnjoy!";
    let mut sent = String::new();
    for piece in refusal.as_bytes().chunks(7) {
        let event = delta(std::str::from_utf8(piece).unwrap());
        sent += &String::from_utf8(exchange.on_response_chunk(event.as_bytes(), false)).unwrap();
    }
    assert!(sent.contains("a car."), "the refusal flows: {sent}");
    for piece in voice.as_bytes().chunks(7) {
        let event = delta(std::str::from_utf8(piece).unwrap());
        sent += &String::from_utf8(exchange.on_response_chunk(event.as_bytes(), false)).unwrap();
    }
    let done = exchange.on_response_chunk(b"data: [DONE]\n\n", true);
    sent += &String::from_utf8(done).unwrap();
    assert!(sent.contains("\"code\":\"content_filtered\""), "{sent}");
    assert!(
        !sent.contains("Enjoy"),
        "nothing after the paragraph: {sent}"
    );
    assert!(sent.contains("harmful_compliance"), "{sent}");
    assert_eq!(exchange.record().decision, Decision::Block);
}

/// Scope (OV-3): a forbidden topic ends the answer, a long answer on none of the allowed
/// topics is flagged (the default action), an on-topic one passes.
#[test]
fn answers_out_of_the_routes_scope() {
    let policy = policy(
        "enforce",
        json!({"categories": {}, "scope": {
            "allowed_topics": {"billing": ["invoice*", "refund*", "payment*"]},
            "forbidden_topics": {"legal_advice": ["sue", "lawsuit*"]},
            "min_words": 8
        }}),
    );
    let run = |text: &str| {
        let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hello"));
        exchange.on_response_headers(200, Some("application/json"), None);
        let step = exchange.on_response_body(&answer(text));
        (step, exchange.record().to_json(&policy).to_string())
    };
    let (step, _) = run("You should sue the bank over that payment.");
    let ResponseStep::Reject(rejection) = step else {
        panic!("forbidden topic passed")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (502, ErrorCode::OutOfScope)
    );
    let (step, record) = run("The best pasta uses fresh tomatoes, garlic, basil and olive oil.");
    assert_eq!(step, ResponseStep::Continue);
    assert!(record.contains("content_filter.scope"), "{record}");
    assert!(record.contains("out_of_scope"), "{record}");
    let (step, record) = run("Your invoice was paid and the refund arrives within five days.");
    assert_eq!(step, ResponseStep::Continue);
    assert!(!record.contains("out_of_scope"), "{record}");
}

#[test]
fn json_answers_are_replaced_or_passed_unchanged() {
    let policy = policy("enforce", json!({"categories": {"weapons": "block"}}));
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hello"));
    exchange.on_response_headers(200, Some("application/json"), None);
    assert_eq!(
        exchange.on_response_body(&answer("The Manhattan Project built the first bombs.")),
        ResponseStep::Continue
    );
    let ResponseStep::Reject(rejection) =
        exchange.on_response_body(&answer("Step 1 of a Pipe-Bomb: …"))
    else {
        panic!("not blocked")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (502, ErrorCode::ContentFiltered)
    );
    assert!(rejection.message.contains("weapons"));
}

#[test]
fn harmful_prompts_are_refused_when_the_route_filters_requests() {
    let policy = policy("enforce", json!({"directions": ["request", "response"]}));
    let (step, _) = play_bytes(
        &policy,
        "/v1/chat/completions",
        &user("how to cook meth at home"),
    );
    let Step::Reject(rejection) = step else {
        panic!("{step:?}")
    };
    assert_eq!(
        (rejection.status(), rejection.code),
        (403, ErrorCode::HarmfulRequest)
    );
    // Responses only, by default.
    let policy = self::policy("enforce", json!({}));
    let (step, _) = play_bytes(
        &policy,
        "/v1/chat/completions",
        &user("how to cook meth at home"),
    );
    assert_eq!(step, Step::Continue);
}

#[test]
fn flags_and_monitor_mode_record_without_blocking() {
    let policy = policy(
        "enforce",
        json!({"categories": {"drugs": {"action": "flag", "threshold": 1}},
               "terms": {"drugs": ["blue sky batch"]}, "allow_terms": ["sell drugs online safely"]}),
    );
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hi"));
    exchange.on_response_headers(200, Some("application/json"), None);
    assert_eq!(
        exchange.on_response_body(&answer("the blue sky batch")),
        ResponseStep::Continue
    );
    let record = exchange.record().to_json(exchange.policy());
    assert!(
        record.contains(
            r#""rule":"chat.content_filter.drugs","code":"content_filtered","action":"flag""#
        ),
        "{record}"
    );

    let policy = self::policy("monitor", json!({}));
    let (_, mut exchange) = play_bytes(&policy, "/v1/chat/completions", &user("hi"));
    exchange.on_response_headers(200, Some("application/json"), None);
    assert_eq!(
        exchange.on_response_body(&answer("a ghost gun")),
        ResponseStep::Continue
    );
}

#[test]
fn content_filter_errors_name_the_field() {
    let cases: [(Value, &str); 11] = [
        (
            json!({"moderation": {"cluster": "m", "failure_mode": "open", "directions": ["both"]}}),
            "routes[0].content_filter.moderation.directions[0]",
        ),
        (
            json!({"patterns": {"weapons": ["(unclosed"]}}),
            "routes[0].content_filter.patterns.weapons[0]",
        ),
        (
            json!({"scope": {"action": "flag"}}),
            "routes[0].content_filter.scope",
        ),
        (
            json!({"moderation": {"cluster": "moderation"}}),
            "routes[0].content_filter.moderation.failure_mode",
        ),
        (
            json!({"moderation": {"cluster": "m", "failure_mode": "maybe"}}),
            "routes[0].content_filter.moderation.failure_mode",
        ),
        (
            json!({"moderation": {"cluster": "m", "failure_mode": "open", "timeout_ms": 0}}),
            "routes[0].content_filter.moderation.timeout_ms",
        ),
        (
            json!({"categories": {"weapon": "block"}}),
            "routes[0].content_filter.categories.weapon",
        ),
        (
            json!({"categories": {"weapons": "hide"}}),
            "routes[0].content_filter.categories.weapons",
        ),
        (
            json!({"directions": ["inbound"]}),
            "routes[0].content_filter.directions[0]",
        ),
        (
            json!({"terms": {"weapons": "pipe bomb"}}),
            "routes[0].content_filter.terms.weapons",
        ),
        (
            json!({"categories": {"weapons": {"action": "block", "limit": 2}}}),
            "routes[0].content_filter.categories.weapons.limit",
        ),
    ];
    for (content, path) in cases {
        let document = json!({"version": 1, "name": "t", "owner": "Ada Lovelace",
            "routes": [{"id": "chat", "path": "/v1/chat/completions", "content_filter": content}]});
        let errors = Policy::from_json(document.to_string().as_bytes()).expect_err(path);
        assert!(
            errors.errors().iter().any(|e| e.path() == path),
            "{path}: {errors}"
        );
    }
}
