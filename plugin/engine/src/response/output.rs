//! The model's output on its way to the client, complete or streamed: every text string is
//! offered to an [`OutputFilter`] (masking, restoring placeholders). A stream is handled
//! event by event; a delta event waits only while its text ends in something that may
//! still grow into an entity or a placeholder, and untouched events go out byte for byte.

use crate::json::strings::{parsed_strings, rewrite_strings};
use crate::llm::output::{
    channel_key, event_role, is_answer_delta, is_body_text, is_event_text, is_unlisted_text,
    EventRole,
};
use crate::llm::usage::Usage;
use crate::llm::ApiFormat;
use crate::rejection::Rejection;
use crate::response::confidence::token_logprobs;
use crate::response::sse::{EventSplitter, RawEvent};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What the output side does to model text.
pub trait OutputFilter {
    /// The text to send in place of `text`, `Ok(None)` to send it as it is, or the
    /// rejection that ends the response. `context` is the text of the same string that
    /// went out just before (empty for a whole string): detectors that need a keyword
    /// before a value (`password: …`) read it, but only `text` is rewritten.
    fn filter(&mut self, context: &str, text: &str) -> Result<Option<String>, Rejection>;

    /// Where the tail of a streamed text that must wait for more begins: a placeholder or
    /// an entity may be cut in two by the chunking. `text.len()` holds nothing back.
    fn hold_from(&self, text: &str) -> usize;

    /// Whether a streamed `text` may be sent in two parts cut at `at`, the first now: no
    /// match runs across `at`. The default asks whether the first part ends in something
    /// that could still grow; filters that can see past `at` answer more precisely.
    fn settled(&self, text: &str, at: usize) -> bool {
        text.get(..at).is_some_and(|p| self.hold_from(p) >= at)
    }

    /// The answer is complete: judge what can only be judged whole (the last paragraph of
    /// a harmful-compliance score; a stream's [`Transcript`], when it keeps one). Called
    /// before a body or a stream's final event goes out.
    fn finish(&mut self, transcript: Option<&Transcript>) -> Result<(), Rejection> {
        let _ = transcript;
        Ok(())
    }
}

/// A stream holds at most this much of one incomplete event before it is cut off.
pub const MAX_EVENT_BYTES: usize = 1 << 20;

/// A complete response body filtered: `Ok(None)` when unchanged (and when it is not JSON:
/// an upstream error page carries no model text), `Err` when the filter refused it.
pub fn filter_body(
    body: &[u8],
    filter: &mut dyn OutputFilter,
) -> Result<Option<Vec<u8>>, Rejection> {
    let select = |pointer: &str| is_body_text(pointer) || is_unlisted_text(pointer);
    let rewritten = filter_strings(body, &select, filter)?;
    filter.finish(None)?;
    Ok(rewritten)
}

/// Every string of the JSON `bytes` whose pointer `select` accepts, filtered whole: the
/// rewritten document (`None` when nothing changed, or when it is not JSON), or the first
/// rejection.
fn filter_strings(
    bytes: &[u8],
    select: &dyn Fn(&str) -> bool,
    filter: &mut dyn OutputFilter,
) -> Result<Option<Vec<u8>>, Rejection> {
    let mut refused = None;
    let rewritten = rewrite_strings(bytes, select, &mut |_, text| {
        if refused.is_some() {
            return None;
        }
        filter.filter("", text).unwrap_or_else(|rejection| {
            refused = Some(rejection);
            None
        })
    });
    match refused {
        Some(rejection) => Err(rejection),
        None => Ok(rewritten.ok().flatten()),
    }
}

/// One streamed string before it is sent.
#[derive(Debug)]
struct HeldEvent {
    event: RawEvent,
    data: String,
    pointer: String,
    text: String,
}

/// One text channel of a stream (a choice, content block or output item) and the delta
/// events it holds back. Whole events are held and, when nothing in them is masked or
/// restored, sent on as the very bytes that came in.
#[derive(Debug)]
struct Channel {
    key: String,
    held: Vec<HeldEvent>,
    /// The end of the text already sent on this channel, the context of what follows.
    sent: String,
}

/// How much sent text a channel keeps as context: more than any keyword-to-value gap a
/// detector looks across.
const CONTEXT_BYTES: usize = 48;

/// The per-stream state of an SSE response being filtered.
#[derive(Debug)]
pub struct StreamRewriter {
    format: Option<ApiFormat>,
    request_id: String,
    splitter: EventSplitter,
    channels: Vec<Channel>,
    /// Set once the stream was ended with an error event; later bytes are dropped.
    ended: Option<Rejection>,
    /// The upstream sent its protocol's final event (`[DONE]`, `message_stop`,
    /// `response.completed`, or an error event).
    terminated: bool,
    /// Token log-probabilities the events carried (PSF OV-4).
    logprobs: Vec<f64>,
    /// What the stream said, kept when the route judges the whole answer.
    transcript: Option<Transcript>,
    /// The token usage the events reported.
    usage: Usage,
    /// Drop OpenAI's usage-only chunk: the filter asked for it, the client did not.
    hide_usage_chunk: bool,
    /// SHA-256 of the stream as the upstream sent it, for the audit record.
    hash: Option<Sha256>,
}

/// What a stream said, for the checks that judge a whole answer (its output schema, its
/// edge states): collected as the events pass.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Transcript {
    /// The answer text of each channel (bounded by [`MAX_TRANSCRIPT_BYTES`]).
    pub texts: Vec<(String, String)>,
    /// The bytes of all texts.
    pub bytes: usize,
    /// Finish and stop reasons the events gave (`length`, `max_tokens`, `content_filter`…).
    pub stop_reasons: Vec<String>,
    /// Tool-call arguments streamed.
    pub tool_calls: bool,
    /// The provider marked a refusal (OpenAI `delta.refusal`).
    pub refusal: bool,
}

/// A transcript keeps at most this much text; a longer answer is judged on its start.
const MAX_TRANSCRIPT_BYTES: usize = 1 << 20;

impl StreamRewriter {
    pub fn new(format: Option<ApiFormat>, request_id: &str) -> Self {
        Self {
            format,
            request_id: request_id.to_string(),
            splitter: EventSplitter::default(),
            channels: Vec::new(),
            ended: None,
            terminated: false,
            logprobs: Vec::new(),
            transcript: None,
            usage: Usage::default(),
            hide_usage_chunk: false,
            hash: None,
        }
    }

    /// Hashes the stream as it comes from the upstream ([`StreamRewriter::take_hash`]).
    pub fn hash_input(&mut self) {
        self.hash.get_or_insert_with(Sha256::new);
    }

    /// The SHA-256 (hex) of everything pushed, once.
    pub fn take_hash(&mut self) -> Option<String> {
        let digest = self.hash.take()?.finalize();
        Some(digest.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// What the stream said, when a transcript is kept.
    pub fn transcript(&self) -> Option<&Transcript> {
        self.transcript.as_ref()
    }

    /// Keeps OpenAI's final usage-only chunk (`choices: []`) from the client, for a stream
    /// whose request the filter made ask for it.
    pub fn hide_usage_chunk(&mut self) {
        self.hide_usage_chunk = true;
    }

    /// The token usage the stream reported so far.
    pub fn usage(&self) -> Usage {
        self.usage
    }

    /// Bytes of answer text the stream carried (0 without a transcript).
    pub fn answer_bytes(&self) -> usize {
        self.transcript.as_ref().map_or(0, |t| t.bytes)
    }

    /// Keeps a [`Transcript`] for [`OutputFilter::finish`].
    pub fn keep_transcript(&mut self) {
        self.transcript.get_or_insert_with(Transcript::default);
    }

    /// The token log-probabilities seen so far.
    pub fn logprobs(&self) -> &[f64] {
        &self.logprobs
    }

    /// Whether the upstream's stream reached its protocol's final event.
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// Ends the stream now with `rejection`'s error event; the bytes to send.
    pub fn end_with_error(&mut self, rejection: Rejection) -> Vec<u8> {
        let mut out = Vec::new();
        self.end_with(rejection, &mut out);
        out
    }

    /// The rejection that ended the stream, if one did.
    pub fn ended(&self) -> Option<&Rejection> {
        self.ended.as_ref()
    }

    /// Bytes to send for `chunk`; at `end` everything held is released.
    pub fn push(&mut self, chunk: &[u8], end: bool, filter: &mut dyn OutputFilter) -> Vec<u8> {
        if let Some(hash) = self.hash.as_mut() {
            hash.update(chunk);
        }
        let mut out = Vec::with_capacity(chunk.len());
        if self.ended.is_some() {
            return out;
        }
        let mut events = self.splitter.push(chunk);
        if end {
            events.extend(self.splitter.finish());
        }
        for event in events {
            if let Err(rejection) = self.event(event, filter, &mut out) {
                self.end_with(rejection, &mut out);
                return out;
            }
        }
        if self.splitter.held() > MAX_EVENT_BYTES {
            let rejection = Rejection::new(
                crate::ErrorCode::OutputUnreadable,
                "psf-guard.stream",
                format!("a stream event grew past {MAX_EVENT_BYTES} bytes"),
            );
            self.end_with(rejection, &mut out);
            return out;
        }
        if end {
            let released = self.release(&|_| true, filter, &mut out);
            let transcript = self.transcript.as_ref();
            if let Err(rejection) = released.and_then(|()| filter.finish(transcript)) {
                self.end_with(rejection, &mut out);
            }
        }
        out
    }

    fn event(
        &mut self,
        event: RawEvent,
        filter: &mut dyn OutputFilter,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        if std::str::from_utf8(&event.bytes).is_err() {
            return Err(unreadable("a stream event is not UTF-8"));
        }
        let Some(mut data) = event.data() else {
            out.extend_from_slice(&event.bytes);
            return Ok(());
        };
        let mut event = event;
        if data.trim() == "[DONE]" {
            self.terminated = true;
            self.release(&|_| true, filter, out)?;
            filter.finish(self.transcript.as_ref())?;
            out.extend_from_slice(&event.bytes);
            return Ok(());
        }
        let Ok(mut value) = serde_json::from_str::<Value>(&data) else {
            // Not its API's event: the data is inspected as text, never forwarded unread.
            self.release(&|_| true, filter, out)?;
            match filter.filter("", &data)? {
                Some(new) => out.extend_from_slice(&event.with_data(&new)),
                None => out.extend_from_slice(&event.bytes),
            }
            return Ok(());
        };
        if !parsed_strings(&value, &is_unlisted_text).is_empty() {
            // Fields no format lists are inspected whole, before the event is read further.
            if let Some(new) = filter_strings(data.as_bytes(), &is_unlisted_text, filter)? {
                data = String::from_utf8_lossy(&new).into_owned();
                event = RawEvent {
                    bytes: event.with_data(&data),
                };
                value = serde_json::from_str(&data).unwrap_or(value);
            }
        }
        self.usage.read(&value);
        if self.hide_usage_chunk && is_usage_chunk(&value) {
            return Ok(());
        }
        let role = event_role(&value);
        if let Some(transcript) = self.transcript.as_mut() {
            stop_reasons(&value, &mut transcript.stop_reasons);
        }
        token_logprobs(&value, &mut self.logprobs);
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if value.get("error").is_some()
            || matches!(
                kind,
                "error"
                    | "message_stop"
                    | "response.completed"
                    | "response.failed"
                    | "response.incomplete"
            )
        {
            self.terminated = true;
        }
        match &role {
            EventRole::Ends(prefixes) => self.release(
                &|key| prefixes.iter().any(|p| key.starts_with(p)),
                filter,
                out,
            )?,
            EventRole::EndsAll => {
                self.release(&|_| true, filter, out)?;
                filter.finish(self.transcript.as_ref())?;
            }
            EventRole::Delta | EventRole::Other => {}
        }
        let mut texts: Vec<(String, String)> = parsed_strings(&value, &is_event_text)
            .into_iter()
            .map(|(pointer, text)| (pointer, text.to_string()))
            .collect();
        if role == EventRole::Delta && texts.len() == 1 {
            let (pointer, text) = texts.remove(0);
            let key = channel_key(&value, &pointer);
            if let Some(transcript) = self.transcript.as_mut() {
                if is_answer_delta(&value, &pointer) {
                    keep(transcript, &key, &text);
                } else if pointer.ends_with("/refusal") {
                    transcript.refusal = true;
                } else {
                    transcript.tool_calls = true;
                }
            }
            return self.delta(
                key,
                HeldEvent {
                    event,
                    data,
                    pointer,
                    text,
                },
                filter,
                out,
            );
        }
        if texts.is_empty() {
            out.extend_from_slice(&event.bytes);
            return Ok(());
        }
        // Full texts (a `.done` event, a finished response), or several channels at once:
        // each string is complete as it is, so it is filtered whole.
        if role == EventRole::Delta {
            let keys: Vec<String> = texts.iter().map(|(p, _)| channel_key(&value, p)).collect();
            self.release(&|key| keys.iter().any(|k| k == key), filter, out)?;
        }
        match filter_strings(data.as_bytes(), &is_event_text, filter)? {
            Some(new) => out.extend_from_slice(&event.with_data(&String::from_utf8_lossy(&new))),
            None => out.extend_from_slice(&event.bytes),
        }
        Ok(())
    }

    /// A delta joins its channel; the held events wholly before the tail that must wait
    /// (see [`OutputFilter::hold_from`]) are sent.
    fn delta(
        &mut self,
        key: String,
        held: HeldEvent,
        filter: &mut dyn OutputFilter,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        let position = match self.channels.iter().position(|c| c.key == key) {
            Some(position) => position,
            None => {
                self.channels.push(Channel {
                    key,
                    held: Vec::new(),
                    sent: String::new(),
                });
                self.channels.len() - 1
            }
        };
        let channel = &mut self.channels[position];
        channel.held.push(held);
        let pending: String = channel.held.iter().map(|h| h.text.as_str()).collect();
        let cut = filter.hold_from(&pending).min(pending.len());
        // Event boundaries before the cut; the last one that is settled (no entity, term or
        // mask runs across it) decides what goes out.
        let mut boundaries = Vec::with_capacity(channel.held.len());
        let mut length = 0;
        for held in &channel.held {
            length += held.text.len();
            if length > cut {
                break;
            }
            boundaries.push(length);
        }
        let ready = boundaries
            .iter()
            .rposition(|&end| end == pending.len() || filter.settled(&pending, end))
            .map_or(0, |index| index + 1);
        let released: Vec<HeldEvent> = channel.held.drain(..ready).collect();
        send(released, &mut channel.sent, filter, out)
    }

    /// Sends everything held by the channels `which` selects.
    fn release(
        &mut self,
        which: &dyn Fn(&str) -> bool,
        filter: &mut dyn OutputFilter,
        out: &mut Vec<u8>,
    ) -> Result<(), Rejection> {
        let mut index = 0;
        while index < self.channels.len() {
            if which(&self.channels[index].key) {
                let mut channel = self.channels.remove(index);
                send(channel.held, &mut channel.sent, filter, out)?;
            } else {
                index += 1;
            }
        }
        Ok(())
    }

    /// Ends the stream the way its protocol reports errors, never by silent truncation.
    fn end_with(&mut self, rejection: Rejection, out: &mut Vec<u8>) {
        self.channels.clear();
        out.extend_from_slice(&rejection.stream_end(self.format, &self.request_id));
        self.ended = Some(rejection);
    }
}

/// Adds the finish or stop reasons one event gives to `reasons`: OpenAI
/// `choices[].finish_reason`, Anthropic `message_delta`'s `delta.stop_reason`, the
/// Responses API's `response.incomplete_details.reason`. Runs on every event, so it looks
/// the fields up directly.
/// OpenAI's last chunk when usage is asked for: no choices, only `usage`.
fn unreadable(message: &str) -> Rejection {
    Rejection::new(
        crate::ErrorCode::OutputUnreadable,
        "psf-guard.stream",
        message.to_string(),
    )
}

fn is_usage_chunk(value: &Value) -> bool {
    value.get("usage").is_some_and(|u| !u.is_null())
        && value
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty)
}

fn stop_reasons(data: &Value, reasons: &mut Vec<String>) {
    let mut add = |reason: Option<&Value>| {
        if let Some(reason) = reason.and_then(Value::as_str) {
            if !reasons.iter().any(|r| r == reason) {
                reasons.push(reason.to_string());
            }
        }
    };
    if let Some(choices) = data.get("choices").and_then(Value::as_array) {
        for choice in choices {
            add(choice.get("finish_reason"));
        }
    }
    add(data.get("delta").and_then(|d| d.get("stop_reason")));
    add(data
        .get("response")
        .and_then(|r| r.get("incomplete_details"))
        .and_then(|d| d.get("reason")));
}

/// Appends `text` to the transcript of channel `key`, within [`MAX_TRANSCRIPT_BYTES`].
fn keep(transcript: &mut Transcript, key: &str, text: &str) {
    if transcript.bytes + text.len() > MAX_TRANSCRIPT_BYTES {
        return;
    }
    transcript.bytes += text.len();
    match transcript.texts.iter_mut().find(|(k, _)| k == key) {
        Some((_, all)) => all.push_str(text),
        None => transcript.texts.push((key.to_string(), text.to_string())),
    }
}

/// Sends held events of one channel: as they came when the filter leaves their joined text
/// alone; otherwise the first carries the filtered text and the rest carry empty strings,
/// so an entity or placeholder cut across events is handled whole.
fn send(
    events: Vec<HeldEvent>,
    sent: &mut String,
    filter: &mut dyn OutputFilter,
    out: &mut Vec<u8>,
) -> Result<(), Rejection> {
    if events.is_empty() {
        return Ok(());
    }
    let text: String = events.iter().map(|h| h.text.as_str()).collect();
    let filtered = filter.filter(sent, &text)?;
    sent.push_str(&text);
    if sent.len() > CONTEXT_BYTES {
        let mut start = sent.len() - CONTEXT_BYTES;
        while !sent.is_char_boundary(start) {
            start += 1;
        }
        sent.drain(..start);
    }
    let Some(filtered) = filtered else {
        for held in &events {
            out.extend_from_slice(&held.event.bytes);
        }
        return Ok(());
    };
    for (index, held) in events.iter().enumerate() {
        let replacement = if index == 0 { filtered.as_str() } else { "" };
        let data = rewrite_strings(held.data.as_bytes(), &|p| p == held.pointer, &mut |_, _| {
            Some(replacement.to_string())
        });
        match data {
            Ok(Some(data)) => {
                out.extend_from_slice(&held.event.with_data(&String::from_utf8_lossy(&data)))
            }
            _ => out.extend_from_slice(&held.event.bytes),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
