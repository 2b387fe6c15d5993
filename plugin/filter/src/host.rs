//! The host side of [`psf_engine::proxy`]: what the engine reads, and the interpreter of the
//! effects it returns. The SDK's helpers panic on unexpected statuses, so every call here
//! maps a failure to an empty read or to what the engine says a refused effect becomes.

use proxy_wasm::hostcalls;
use proxy_wasm::types::{Action, BufferType, LogLevel, MapType, MetricType, Status};
use psf_engine::proxy::{Effect, Effects, Flow, HostReads, Level, Part, Report, Side};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

/// The engine's reads, from the current context.
pub struct Host;

impl HostReads for Host {
    fn headers(&self, part: Part) -> Vec<(String, String)> {
        hostcalls::get_map(map(part)).unwrap_or_default()
    }

    fn body(&self, part: Part, size: usize) -> Vec<u8> {
        let body = hostcalls::get_buffer(buffer(part), 0, size);
        body.ok().flatten().unwrap_or_default()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path.to_vec()).ok().flatten()
    }

    fn now_ns(&self) -> u64 {
        let now = hostcalls::get_current_time().ok();
        let since_epoch = now.and_then(|t| t.duration_since(UNIX_EPOCH).ok());
        since_epoch.map_or(0, |d| d.as_nanos() as u64)
    }
}

/// Carries out `effects` in order; what the host has to report goes to `report`, whose
/// effects are carried out in turn and whose flow becomes the callback's.
pub fn carry_out(effects: Effects, report: &mut dyn FnMut(Report) -> Effects) -> Action {
    let mut flow = effects.flow;
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
                perform(other);
                continue;
            }
        };
        flow = match carry_out(report(reported), report) {
            Action::Continue => Flow::Continue,
            _ => Flow::Pause,
        };
    }
    match flow {
        Flow::Continue => Action::Continue,
        Flow::Pause => Action::Pause,
    }
}

/// Carries out one effect, or what the engine says it becomes when the host refuses it.
fn perform(effect: Effect) {
    if let Err(status) = apply(&effect) {
        if let Some(instead) = effect.refused(&format!("{status:?}")) {
            perform(instead);
        }
    }
}

fn apply(effect: &Effect) -> Result<(), Status> {
    match effect {
        Effect::Header(side, name, value) => {
            hostcalls::set_map_value(map((*side).into()), name, value.as_deref())
        }
        Effect::Body {
            side,
            size,
            bytes,
            set_length,
        } => {
            hostcalls::set_buffer(buffer((*side).into()), 0, *size, bytes)?;
            if *set_length {
                perform(Effect::Header(
                    *side,
                    "content-length".into(),
                    Some(bytes.len().to_string()),
                ));
            }
            Ok(())
        }
        Effect::ClearRouteCache => {
            hostcalls::call_foreign_function("clear_route_cache", None).map(drop)
        }
        Effect::Reply(reply) => {
            let headers = reply
                .headers
                .iter()
                .map(|(n, v)| (*n, v.as_str()))
                .collect();
            hostcalls::send_http_response(u32::from(reply.status), headers, Some(&reply.body))
        }
        Effect::Resume(Side::Request) => hostcalls::resume_http_request(),
        Effect::Resume(Side::Response) => hostcalls::resume_http_response(),
        Effect::Log(level, line) => hostcalls::log(log_level(*level), line),
        Effect::Count(name, by) => {
            hostcalls::increment_metric(metric(name, MetricType::Counter)?, *by)
        }
        Effect::Observe(name, value) => {
            hostcalls::record_metric(metric(name, MetricType::Histogram)?, *value)
        }
        Effect::FilterState(name, value) => {
            hostcalls::set_property(vec![name], Some(value.as_bytes()))
        }
        Effect::Tick(ms) => hostcalls::set_tick_period(Duration::from_millis(*ms)),
        Effect::Call(_) | Effect::Release { .. } => Ok(()),
    }
}

pub fn log_level(level: Level) -> LogLevel {
    match level {
        Level::Info => LogLevel::Info,
        Level::Warn => LogLevel::Warn,
        Level::Error => LogLevel::Error,
        Level::Critical => LogLevel::Critical,
    }
}

fn map(part: Part) -> MapType {
    match part {
        Part::Request => MapType::HttpRequestHeaders,
        Part::Response => MapType::HttpResponseHeaders,
        Part::CallAnswer => MapType::HttpCallResponseHeaders,
    }
}

fn buffer(part: Part) -> BufferType {
    match part {
        Part::Request => BufferType::HttpRequestBody,
        Part::Response => BufferType::HttpResponseBody,
        Part::CallAnswer => BufferType::HttpCallResponseBody,
    }
}

thread_local! {
    static METRICS: RefCell<HashMap<String, u32>> = RefCell::new(HashMap::new());
}

/// The host's id of metric `name`, defined on first use.
fn metric(name: &str, kind: MetricType) -> Result<u32, Status> {
    METRICS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Ok(*id);
        }
        let id = hostcalls::define_metric(kind, name)?;
        ids.insert(name.to_string(), id);
        Ok(id)
    })
}
