//! Host calls that cannot fail the filter: the SDK's helpers panic on unexpected
//! statuses, so every call here maps a failure to `None` or a logged no-op.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType};

pub fn log(level: LogLevel, message: &str) {
    let _ = hostcalls::log(level, message);
}

/// Logs one structured line, `psf.log {"level":…,"event":…,…}`: every line the filter writes
/// is one JSON object behind a fixed prefix (audit records and alerts have their own). The
/// fields never hold request text.
pub fn event(level: LogLevel, event: &str, fields: serde_json::Value) {
    let name = match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
        LogLevel::Critical => "critical",
    };
    let mut line = serde_json::json!({"level": name, "event": event});
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    log(level, &format!("psf.log {line}"));
}

/// Asks Envoy to pick the route again after a request header changed.
pub fn clear_route_cache() {
    if hostcalls::call_foreign_function("clear_route_cache", None).is_err() {
        event(
            LogLevel::Warn,
            "clear_route_cache_failed",
            serde_json::json!({}),
        );
    }
}

/// The host's clock in nanoseconds (Unix time), 0 if unreadable.
pub fn now_ns() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A request or response header value, `None` when absent or unreadable.
pub fn header(map: MapType, name: &str) -> Option<String> {
    hostcalls::get_map_value(map, name).ok().flatten()
}

/// Every header of `map` (names are lower-case), empty when unreadable.
pub fn headers(map: MapType) -> Vec<(String, String)> {
    hostcalls::get_map(map).unwrap_or_default()
}

/// A string property such as `request.id`.
pub fn property(path: &[&str]) -> Option<String> {
    let bytes = hostcalls::get_property(path.to_vec()).ok().flatten()?;
    String::from_utf8(bytes).ok()
}

/// An integer property such as `response.code` (Envoy serialises integers as 8 bytes,
/// little-endian).
pub fn property_u64(path: &[&str]) -> Option<u64> {
    let bytes = hostcalls::get_property(path.to_vec()).ok().flatten()?;
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// Answers the client locally. Envoy defers the reply until the current callback
/// returns, then passes it through this filter's own response callbacks.
pub fn send_local_response(status: u16, headers: &[(&str, &str)], body: &[u8]) {
    if let Err(status_code) =
        hostcalls::send_http_response(u32::from(status), headers.to_vec(), Some(body))
    {
        event(
            LogLevel::Error,
            "local_reply_failed",
            serde_json::json!({"status": status, "host_status": format!("{status_code:?}")}),
        );
    }
}

/// The buffered request body (`size` bytes, the host's cumulative size).
pub fn request_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpRequestBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Replaces the whole buffered request body; with `set_length`, `content-length` is set
/// to match (only while the headers are held).
pub fn replace_request_body(old_size: usize, body: &[u8], set_length: bool) {
    if hostcalls::set_buffer(BufferType::HttpRequestBody, 0, old_size, body).is_err() {
        event(
            LogLevel::Error,
            "request_body_replace_failed",
            serde_json::json!({}),
        );
        return;
    }
    if !set_length {
        return;
    }
    let length = body.len().to_string();
    if hostcalls::set_map_value(MapType::HttpRequestHeaders, "content-length", Some(&length))
        .is_err()
    {
        event(
            LogLevel::Error,
            "header_set_failed",
            serde_json::json!({"header": "content-length"}),
        );
    }
}

/// The body of an `http_call`'s answer (`size` bytes).
pub fn call_response_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// The response body buffered so far (`size` bytes).
pub fn response_body(size: usize) -> Vec<u8> {
    hostcalls::get_buffer(BufferType::HttpResponseBody, 0, size)
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Replaces the buffered response body (or the current chunk of a stream); with
/// `set_length`, `content-length` is set to match (only while the headers are held).
pub fn replace_response_body(old_size: usize, body: &[u8], set_length: bool) {
    if hostcalls::set_buffer(BufferType::HttpResponseBody, 0, old_size, body).is_err() {
        event(
            LogLevel::Error,
            "response_body_replace_failed",
            serde_json::json!({}),
        );
        return;
    }
    if set_length {
        set_header(
            MapType::HttpResponseHeaders,
            "content-length",
            Some(&body.len().to_string()),
        );
    }
}

/// Sets a header, replacing any value the client sent, or removes it when `value` is `None`.
pub fn set_header(map: MapType, name: &str, value: Option<&str>) {
    if hostcalls::set_map_value(map, name, value).is_err() {
        event(
            LogLevel::Error,
            "header_set_failed",
            serde_json::json!({"header": name}),
        );
    }
}
