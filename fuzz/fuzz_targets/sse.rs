//! The SSE splitter and stream rewriter, driven with random chunk boundaries, against a
//! reference parser written from the WHATWG spec (9.2.6 "Interpreting an event stream"):
//! the same events with the same data, however the bytes are cut.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::response::output::{OutputFilter, StreamRewriter};
use psf_engine::response::sse::EventSplitter;
use psf_engine::Rejection;

/// The data of every event the spec dispatches (complete events only: the spec drops an
/// event still open when the stream ends).
fn reference(text: &str) -> Vec<String> {
    let mut events = Vec::new();
    let mut data: Option<String> = None;
    let mut rest = text;
    loop {
        let Some(at) = rest.find(['\r', '\n']) else {
            break;
        };
        let line = &rest[..at];
        let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[at + skip..];
        if line.is_empty() {
            if let Some(buffer) = data.take() {
                events.push(buffer);
            }
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (name, value) = match line.find(':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(' ').unwrap_or(value))
            }
            None => (line, ""),
        };
        if name == "data" {
            match &mut data {
                Some(buffer) => {
                    buffer.push('\n');
                    buffer.push_str(value);
                }
                None => data = Some(value.to_string()),
            }
        }
    }
    events
}

struct PassAll;

impl OutputFilter for PassAll {
    fn filter(&mut self, _: &str, _: &str) -> Result<Option<String>, Rejection> {
        Ok(None)
    }
    fn hold_from(&self, text: &str) -> usize {
        text.len()
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(stream) else {
        return;
    };
    // A lone CR at the very end waits for the next chunk to say whether it is CRLF.
    let decided = text.trim_end_matches('\r');
    let mut cuts = Vec::new();
    let mut at = 0;
    let mut step = usize::from(seed % 17) + 1;
    while at < stream.len() {
        cuts.push(at);
        at += step;
        step = (step * 7 + 3) % 23 + 1;
    }
    cuts.push(stream.len());
    let mut splitter = EventSplitter::default();
    let mut ours = Vec::new();
    for pair in cuts.windows(2) {
        for event in splitter.push(&stream[pair[0]..pair[1]]) {
            if let Some(data) = event.data() {
                ours.push(data);
            }
        }
    }
    let expected = reference(decided);
    if decided.len() == text.len() {
        assert_eq!(ours, expected, "{text:?}");
    } else {
        assert!(ours.len() >= expected.len());
    }
    // The whole rewriter never panics and passes untouched bytes through.
    let mut rewriter = StreamRewriter::new(Some(psf_engine::llm::ApiFormat::OpenAiChat), "r");
    for pair in cuts.windows(2) {
        rewriter.push(&stream[pair[0]..pair[1]], false, &mut PassAll);
    }
    rewriter.push(b"", true, &mut PassAll);
});
