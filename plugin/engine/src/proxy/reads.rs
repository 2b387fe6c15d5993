//! What the engine reads from the host while it handles an event.

/// Where a header map or a body is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Request,
    Response,
    /// The answer to an HTTP call the filter made.
    CallAnswer,
}

/// The host's side of an event: reads only. Everything the engine changes comes back as
/// [`crate::proxy::Effects`].
pub trait HostReads {
    /// Every header of `part`, names lower-case; empty when unreadable.
    fn headers(&self, part: Part) -> Vec<(String, String)>;
    /// The first `size` bytes of `part`'s buffered body; empty when unreadable.
    fn body(&self, part: Part, size: usize) -> Vec<u8>;
    /// A host property's bytes (`request.id`, `source.address`, `response.code`).
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// The host's clock: nanoseconds of Unix time, 0 if unreadable.
    fn now_ns(&self) -> u64;
}

/// The first value of header `name` in `headers`.
pub fn find<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The `:status` of a call's answer; `None` when the call failed or timed out, which the
/// host reports as an answer with no headers.
pub fn call_status(reads: &dyn HostReads, header_count: usize) -> Option<u16> {
    if header_count == 0 {
        return None;
    }
    find(&reads.headers(Part::CallAnswer), ":status").and_then(|s| s.parse().ok())
}

/// A string property.
pub fn property_str(reads: &dyn HostReads, path: &[&str]) -> Option<String> {
    String::from_utf8(reads.property(path)?).ok()
}

/// An integer property (the host serialises integers as 8 bytes, little-endian).
pub fn property_u64(reads: &dyn HostReads, path: &[&str]) -> Option<u64> {
    let bytes = reads.property(path)?;
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}
