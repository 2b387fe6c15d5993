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

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
}

/// The value of `name: value` (one optional space after the colon, per the spec).
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let value = line.strip_prefix(name)?.strip_prefix(':')?;
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

/// The first blank line at or after `from`: its start and length.
fn find_terminator(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' if bytes.get(i + 1) == Some(&b'\n') => return Some((i, 2)),
            b'\r'
                if bytes.get(i + 1) == Some(&b'\n')
                    && bytes.get(i + 2) == Some(&b'\r')
                    && bytes.get(i + 3) == Some(&b'\n') =>
            {
                return Some((i, 4))
            }
            b'\n' if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') => {
                return Some((i, 3))
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
