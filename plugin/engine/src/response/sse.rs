//! Server-sent events as they arrive: chunk boundaries fall anywhere (mid-line, mid-event,
//! inside a UTF-8 sequence), so bytes are held until an event is complete.

/// One complete event as it was received, terminator included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent {
    pub bytes: Vec<u8>,
}

impl RawEvent {
    /// The `data:` lines joined with `\n`, as the SSE spec assembles them; `None` when the
    /// event has no data or it is not UTF-8.
    pub fn data(&self) -> Option<String> {
        let text = std::str::from_utf8(&self.bytes).ok()?;
        let mut data: Option<String> = None;
        for line in lines(text) {
            if let Some(value) = field(line, "data") {
                match &mut data {
                    Some(joined) => {
                        joined.push('\n');
                        joined.push_str(value);
                    }
                    None => data = Some(value.to_string()),
                }
            }
        }
        data
    }

    /// The same event with its data replaced: every other line (`event:`, `id:`, comments)
    /// stays in place, and multi-line data gets one `data:` line per line.
    pub fn with_data(&self, data: &str) -> Vec<u8> {
        let Ok(text) = std::str::from_utf8(&self.bytes) else {
            return self.bytes.clone();
        };
        let mut out = String::with_capacity(text.len() + data.len());
        let mut written = false;
        for line in lines(text) {
            if field(line, "data").is_some() {
                if !written {
                    for part in data.split('\n') {
                        out.push_str("data: ");
                        out.push_str(part);
                        out.push('\n');
                    }
                    written = true;
                }
            } else if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
        out.into_bytes()
    }
}

/// The lines of an event: the SSE spec ends a line with CRLF, LF or a lone CR.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// The value of `name: value` (one optional space after the colon, per the spec); a line
/// that is the field name alone has the empty value.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    if rest.is_empty() {
        return Some("");
    }
    let value = rest.strip_prefix(':')?;
    Some(value.strip_prefix(' ').unwrap_or(value))
}

/// Splits a byte stream into events.
#[derive(Debug, Default)]
pub struct EventSplitter {
    held: Vec<u8>,
}

impl EventSplitter {
    /// Adds `chunk` and returns every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<RawEvent> {
        // A terminator may straddle the previous chunk and this one.
        let search_from = self.held.len().saturating_sub(3);
        self.held.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        let mut at = search_from;
        while let Some((end, length)) = find_terminator(&self.held, at) {
            events.push(RawEvent {
                bytes: self.held[start..end + length].to_vec(),
            });
            start = end + length;
            at = start;
        }
        self.held.drain(..start);
        events
    }

    /// Bytes of an event not yet complete.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// What is left at the end of the stream, as a last event (a stream may end without
    /// the final blank line).
    pub fn finish(&mut self) -> Option<RawEvent> {
        if self.held.is_empty() {
            return None;
        }
        Some(RawEvent {
            bytes: std::mem::take(&mut self.held),
        })
    }
}

/// The length of the line break at `at`, or `None` when there is none, or when a CR ends
/// the bytes so far and the next chunk decides whether it is CRLF.
fn line_break(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'\n' => Some(1),
        b'\r' => match bytes.get(at + 1) {
            Some(b'\n') => Some(2),
            Some(_) => Some(1),
            None => None,
        },
        _ => None,
    }
}

/// The first blank line at or after `from`: where the line break before it starts, and the
/// length of both breaks. Every pairing of CRLF, LF and CR counts, as the spec says.
fn find_terminator(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' | b'\r' => {
                let first = line_break(bytes, i)?;
                match bytes.get(i + first) {
                    Some(b'\n' | b'\r') => {
                        // A CR that ends the bytes so far is a whole break: an LF after it
                        // would be an empty line, which dispatches nothing.
                        let second = line_break(bytes, i + first).unwrap_or(1);
                        return Some((i, first + second));
                    }
                    Some(_) => i += first,
                    None => return None,
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream = b"event: a\ndata: {\"x\":1}\n\ndata: two\r\n\r\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut splitter = EventSplitter::default();
            let mut events = splitter.push(&stream[..cut]);
            events.extend(splitter.push(&stream[cut..]));
            let data: Vec<_> = events.iter().filter_map(RawEvent::data).collect();
            assert_eq!(data, ["{\"x\":1}", "two", "[DONE]"], "cut at {cut}");
            assert_eq!(splitter.held(), 0);
        }
    }

    #[test]
    fn every_line_ending_ends_an_event() {
        // See: #15 (finding 7): `\r\r` is a valid terminator, and lone CRs end lines.
        let stream = b"data: one\r\rdata: t\rdata: wo\r\n\r\ndata: three\n\r\ndata: four\r\n\n";
        for cut in 0..stream.len() {
            let mut splitter = EventSplitter::default();
            let mut events = splitter.push(&stream[..cut]);
            events.extend(splitter.push(&stream[cut..]));
            events.extend(splitter.finish());
            let data: Vec<_> = events.iter().filter_map(RawEvent::data).collect();
            assert_eq!(data, ["one", "t\nwo", "three", "four"], "cut at {cut}");
        }
    }

    #[test]
    fn replacing_data_keeps_the_other_fields() {
        let event = RawEvent {
            bytes: b"event: content_block_delta\nid: 7\ndata: {\"a\":\ndata: 1}\n\n".to_vec(),
        };
        assert_eq!(event.data().as_deref(), Some("{\"a\":\n1}"));
        let out = String::from_utf8(event.with_data("{\"b\":\n2}")).unwrap();
        assert_eq!(
            out,
            "event: content_block_delta\nid: 7\ndata: {\"b\":\ndata: 2}\n\n"
        );
    }

    #[test]
    fn an_unterminated_tail_is_the_last_event() {
        let mut splitter = EventSplitter::default();
        assert!(splitter.push(b"data: partial").is_empty());
        assert_eq!(
            splitter.finish().unwrap().data().as_deref(),
            Some("partial")
        );
        assert!(splitter.finish().is_none());
    }
}
