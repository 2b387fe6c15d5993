use super::*;
use crate::ErrorCode;
use serde_json::json;

/// Replaces `[X]` with `x`, holding back an unfinished `[…`; refuses `BAD`.
struct Toy;

impl OutputFilter for Toy {
    fn filter(&mut self, _: &str, text: &str) -> Result<Option<String>, Rejection> {
        if text.contains("BAD") {
            return Err(Rejection::new(ErrorCode::PiiDetected, "toy", "no"));
        }
        Ok(text.contains("[X]").then(|| text.replace("[X]", "x")))
    }

    fn hold_from(&self, text: &str) -> usize {
        match text.rfind('[') {
            Some(at) if !text[at..].contains(']') => at,
            _ => text.len(),
        }
    }
}

fn chat_chunk(text: &str) -> String {
    format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": text}}]})
    )
}

fn streamed_text(out: &[u8]) -> String {
    String::from_utf8_lossy(out)
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn a_placeholder_split_across_events_and_chunks_is_restored() {
    let finish = format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    );
    let stream = [
        chat_chunk("mail to ["),
        chat_chunk("X"),
        chat_chunk("] now ["),
        finish,
    ]
    .concat();
    for cut in 0..stream.len() {
        let mut rewriter = StreamRewriter::new(Some(ApiFormat::OpenAiChat), "r");
        let mut out = rewriter.push(&stream.as_bytes()[..cut], false, &mut Toy);
        out.extend(rewriter.push(&stream.as_bytes()[cut..], true, &mut Toy));
        assert_eq!(streamed_text(&out), "mail to x now [", "cut at {cut}");
        assert!(String::from_utf8_lossy(&out).ends_with("data: [DONE]\n\n"));
    }
}

#[test]
fn untouched_events_pass_byte_for_byte() {
    let stream = [
        chat_chunk("hello"),
        chat_chunk(" world"),
        "data: [DONE]\n\n".into(),
    ]
    .concat();
    let mut rewriter = StreamRewriter::new(Some(ApiFormat::OpenAiChat), "r");
    assert_eq!(
        rewriter.push(stream.as_bytes(), true, &mut Toy),
        stream.as_bytes()
    );
}

#[test]
fn a_refused_stream_ends_with_the_protocol_error() {
    let stream = [chat_chunk("fine "), chat_chunk("BAD"), chat_chunk("later")].concat();
    let mut rewriter = StreamRewriter::new(Some(ApiFormat::OpenAiChat), "r1");
    let out = String::from_utf8(rewriter.push(stream.as_bytes(), false, &mut Toy)).unwrap();
    assert!(out.starts_with(&chat_chunk("fine ")));
    assert!(out.contains("\"code\":\"pii_detected\""));
    assert!(out.ends_with("data: [DONE]\n\n"));
    assert!(!out.contains("later"));
    assert!(rewriter.push(b"data: more\n\n", true, &mut Toy).is_empty());

    let anthropic = "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"BAD\"}}\n\n";
    let mut rewriter = StreamRewriter::new(Some(ApiFormat::AnthropicMessages), "r2");
    let out = String::from_utf8(rewriter.push(anthropic.as_bytes(), false, &mut Toy)).unwrap();
    assert!(out.starts_with("event: error\ndata: {"), "{out}");
}

#[test]
fn complete_bodies_are_filtered_in_place() {
    let body =
        br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi [X]"}}]}"#;
    let out = filter_body(body, &mut Toy).unwrap().unwrap();
    assert_eq!(
        out,
        br#"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"hi x"}}]}"#
    );
    assert_eq!(filter_body(b"<html>", &mut Toy).unwrap(), None);
    assert!(filter_body(br#"{"content":[{"type":"text","text":"BAD"}]}"#, &mut Toy).is_err());
}
