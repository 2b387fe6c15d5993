//! The host side of [`psf_engine::proxy`]: what the engine reads, and the interpreter of the
//! effects it returns. The SDK's helpers panic on unexpected statuses, so every call here
//! maps a failure to an empty read or a logged no-op.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{Action, BufferType, LogLevel, MapType, MetricType};
use psf_engine::proxy::FILTER_STATE_DROPPED;
use psf_engine::proxy::{event_line, Effect, Effects, Flow, HostReads, Level, Part, Report, Side};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// The engine's reads, from the current context.
pub struct Host;

impl HostReads for Host {
    fn headers(&self, part: Part) -> Vec<(String, String)> {
        let map = match part {
            Part::Request => MapType::HttpRequestHeaders,
            Part::Response => MapType::HttpResponseHeaders,
            Part::CallAnswer => MapType::HttpCallResponseHeaders,
        };
        hostcalls::get_map(map).unwrap_or_default()
    }

    fn body(&self, part: Part, size: usize) -> Vec<u8> {
        let buffer = match part {
            Part::Request => BufferType::HttpRequestBody,
            Part::Response => BufferType::HttpResponseBody,
            Part::CallAnswer => BufferType::HttpCallResponseBody,
        };
        hostcalls::get_buffer(buffer, 0, size)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path.to_vec()).ok().flatten()
    }

    fn now_ns(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

/// Carries out `effects` in order; what the host has to report goes to `report`, whose
/// effects are carried out in turn. Returns the flow for the current callback.
pub fn carry_out(effects: Effects, report: &mut dyn FnMut(Report) -> Effects) -> Action {
    let mut flow = match effects.flow {
        Flow::Continue => Action::Continue,
        Flow::Pause => Action::Pause,
    };
    for effect in effects.list {
        let reported = match effect {
            Effect::Call(call) => {
                let headers = call.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
                let timeout = Duration::from_millis(call.timeout_ms);
                let body = Some(call.body.as_slice());
                let sent = hostcalls::dispatch_http_call(
                    &call.cluster,
                    headers.collect(),
                    body,
                    vec![],
                    timeout,
                );
                Report::Sent(sent.map_err(|status| format!("{status:?}")))
            }
            Effect::Release { context, remove } => {
                let released = hostcalls::set_effective_context(context).is_ok() && {
                    for name in remove {
                        let _ = hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None);
                    }
                    hostcalls::resume_http_request().is_ok()
                };
                if released {
                    continue;
                }
                Report::Gone(context)
            }
            other => {
                apply(other);
                continue;
            }
        };
        flow = carry_out(report(reported), report);
    }
    flow
}

/// Carries out an effect the host has nothing to report about.
fn apply(effect: Effect) {
    match effect {
        Effect::Header(side, name, value) => set_header(map(side), &name, value.as_deref()),
        Effect::Body {
            side,
            size,
            bytes,
            set_length,
        } => replace_body(side, size, &bytes, set_length),
        Effect::ClearRouteCache => {
            if hostcalls::call_foreign_function("clear_route_cache", None).is_err() {
                log(
                    Level::Warn,
                    "clear_route_cache_failed",
                    serde_json::json!({}),
                );
            }
        }
        Effect::Reply(reply) => {
            let headers = reply
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .collect();
            let sent =
                hostcalls::send_http_response(u32::from(reply.status), headers, Some(&reply.body));
            if let Err(status) = sent {
                let fields = serde_json::json!({"status": reply.status, "host_status": format!("{status:?}")});
                log(Level::Error, "local_reply_failed", fields);
            }
        }
        Effect::Resume(Side::Request) => drop(hostcalls::resume_http_request()),
        Effect::Resume(Side::Response) => drop(hostcalls::resume_http_response()),
        Effect::Log(level, line) => drop(hostcalls::log(log_level(level), &line)),
        Effect::Count(name, by) => count(&name, by),
        Effect::Observe(name, value) => {
            if let Some(id) = metric(&name, MetricType::Histogram) {
                let _ = hostcalls::record_metric(id, value);
            }
        }
        Effect::FilterState(name, value) => {
            if hostcalls::set_property(vec![name], Some(value.as_bytes())).is_err() {
                count(FILTER_STATE_DROPPED, 1);
            }
        }
        Effect::Tick(ms) => drop(hostcalls::set_tick_period(Duration::from_millis(ms))),
        Effect::Call(_) | Effect::Release { .. } => {}
    }
}

/// Logs one structured line (the engine's [`event_line`]).
pub fn log(level: Level, event: &str, fields: serde_json::Value) {
    let _ = hostcalls::log(log_level(level), &event_line(level, event, fields));
}

fn log_level(level: Level) -> LogLevel {
    match level {
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
        Level::Critical => LogLevel::Critical,
    }
}

fn map(side: Side) -> MapType {
    match side {
        Side::Request => MapType::HttpRequestHeaders,
        Side::Response => MapType::HttpResponseHeaders,
    }
}

/// Sets a header, replacing any value the client sent, or removes it when `value` is `None`.
fn set_header(map: MapType, name: &str, value: Option<&str>) {
    if hostcalls::set_map_value(map, name, value).is_err() {
        log(
            Level::Error,
            "header_set_failed",
            serde_json::json!({"header": name}),
        );
    }
}

/// Replaces `side`'s first `size` body bytes; with `set_length`, then sets `content-length`.
fn replace_body(side: Side, size: usize, bytes: &[u8], set_length: bool) {
    let (buffer, failed) = match side {
        Side::Request => (BufferType::HttpRequestBody, "request_body_replace_failed"),
        Side::Response => (BufferType::HttpResponseBody, "response_body_replace_failed"),
    };
    if hostcalls::set_buffer(buffer, 0, size, bytes).is_err() {
        log(Level::Error, failed, serde_json::json!({}));
    } else if set_length {
        set_header(map(side), "content-length", Some(&bytes.len().to_string()));
    }
}

thread_local! {
    static METRICS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

fn count(name: &str, by: i64) {
    if let Some(id) = metric(name, MetricType::Counter) {
        let _ = hostcalls::increment_metric(id, by);
    }
}

/// The host's id of metric `name`, defined on first use.
fn metric(name: &str, kind: MetricType) -> Option<u32> {
    METRICS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, name).ok()?;
        ids.insert(name.to_string(), id);
        Some(id)
    })
}
