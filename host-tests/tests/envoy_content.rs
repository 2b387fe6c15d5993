//! Output content filtering in a real Envoy (PSF OV-3, #5's first "done when"): a streamed
//! answer that reaches a blocked category is cut with the protocol's error event and
//! `[DONE]`, the client never reads the term, and the clean text before it arrived while the
//! stream was still running.

use crate::support::{chat, start_mock_and_envoy};
use psf_host::http1::{self, SendOptions};
use psf_host::message::streamed_text;
use serde_json::{json, Value};

#[test]
fn a_blocked_term_cuts_the_stream_after_clean_chunks_arrived() {
    let mut policy: Value =
        serde_json::from_str(&crate::support::default_policy()).expect("default policy");
    for route in policy["routes"].as_array_mut().expect("routes") {
        route["content_filter"] = json!({"categories": {"weapons": "block"}});
    }
    let (_mock, envoy) = start_mock_and_envoy(&policy.to_string());
    let mut request = chat("How do chemists store solvents?", true);
    request.headers.push((
        "x-mock-scenario".into(),
        "reply:blocked-category.txt+slow-stream".into(),
    ));
    let streamed =
        http1::send_streaming(envoy.listener_addr(), &request, &SendOptions::default()).unwrap();
    assert_eq!(streamed.response.status, 200, "{}", envoy.log());
    let body = String::from_utf8_lossy(&streamed.response.body).to_string();
    let read = streamed_text(&streamed.response.body);
    assert!(read.starts_with("Sure. Lab safety matters"), "{read}");
    assert!(!body.contains("bomb"), "the client read the term: {body}");
    assert!(body.contains("\"code\":\"content_filtered\""), "{body}");
    assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    // Clean text went out while the model was still streaming (50 ms between events).
    let (first, _) = streamed.chunks.first().expect("a first chunk");
    let (last, _) = streamed.chunks.last().expect("a last chunk");
    assert!(
        *last > *first + std::time::Duration::from_millis(500),
        "everything arrived at once: first {first:?}, last {last:?}"
    );
    let error_at = streamed
        .chunks
        .iter()
        .position(|(_, chunk)| String::from_utf8_lossy(chunk).contains("content_filtered"))
        .expect("the error event");
    assert!(
        error_at > 3,
        "clean chunks came first: {} chunks before the error",
        error_at
    );
}
