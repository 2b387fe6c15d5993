//! What the engine asks of a proxy-wasm host after an event: a list of [`Effect`]s, carried
//! out in order, and whether the current phase goes on.

use crate::rejection::Reply;

/// The request or the response of the current stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
}

/// A log line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
    Critical,
}

/// An HTTP call for the host to make (`dispatch_http_call`): a moderation call, or a post
/// to a review queue, collector or webhook.
pub use crate::detect::content::ModerationCall as Call;

/// One thing for the host to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Sets a header of `side`, replacing any value, or removes it (`None`).
    Header(Side, String, Option<String>),
    /// Replaces the first `size` bytes of `side`'s buffered body (or the stream's current
    /// chunk) with `bytes`.
    /// With `set_length`, once the body is replaced, `content-length` is set to match.
    Body {
        side: Side,
        size: usize,
        bytes: Vec<u8>,
        set_length: bool,
    },
    /// The proxy picks the request's route again (a header it routes on changed).
    ClearRouteCache,
    /// The filter answers the client itself.
    Reply(Reply),
    /// Makes this call, and reports [`Report::Sent`]: the effects of that report follow,
    /// and its flow replaces this event's.
    Call(Call),
    /// Lets the held request or response of this stream go on.
    Resume(Side),
    /// Releases another stream's held request headers, removing these first, and resumes
    /// it (a header-hold probe that waited too long). If the stream is gone, the host
    /// reports [`Report::Gone`].
    Release {
        context: u32,
        remove: Vec<&'static str>,
    },
    /// Writes one line to the proxy's log.
    Log(Level, String),
    /// Adds to a counter, defining it on first use.
    Count(String, i64),
    /// Records a value in a histogram, defining it on first use.
    Observe(String, u64),
    /// Sets a filter-state property for access-log formatters.
    FilterState(&'static str, String),
    /// Sets the root context's tick period, in ms.
    Tick(u64),
}

/// What the host reports while it carries out effects, to the [`crate::proxy::Stream`] or
/// [`crate::proxy::Vm`] that asked for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// An [`Effect::Call`] was sent (`Ok`, its token) or could not be (`Err`, why).
    Sent(Result<u32, String>),
    /// The stream of an [`Effect::Release`] could not be released.
    Gone(u32),
}

impl Effect {
    /// What the host does instead when it refuses this effect with `host_status`: log it,
    /// or count a record that missed filter state. Nothing for the rest (a log line or a
    /// metric the host refuses has nowhere else to go).
    pub fn refused(&self, host_status: &str) -> Option<Effect> {
        let error = |event: &str, fields| {
            Effect::Log(Level::Error, event_line(Level::Error, event, fields))
        };
        Some(match self {
            Effect::Header(_, name, _) => {
                error("header_set_failed", serde_json::json!({"header": name}))
            }
            Effect::Body {
                side: Side::Request,
                ..
            } => error("request_body_replace_failed", serde_json::json!({})),
            Effect::Body {
                side: Side::Response,
                ..
            } => error("response_body_replace_failed", serde_json::json!({})),
            Effect::Reply(reply) => error(
                "local_reply_failed",
                serde_json::json!({"status": reply.status, "host_status": host_status}),
            ),
            Effect::ClearRouteCache => {
                let line = event_line(
                    Level::Warn,
                    "clear_route_cache_failed",
                    serde_json::json!({}),
                );
                Effect::Log(Level::Warn, line)
            }
            Effect::FilterState(..) => {
                Effect::Count("psf_audit_dropped_total.reason.filter_state".into(), 1)
            }
            _ => return None,
        })
    }
}

impl From<Side> for crate::proxy::Part {
    fn from(side: Side) -> Self {
        match side {
            Side::Request => Self::Request,
            Side::Response => Self::Response,
        }
    }
}

/// Whether the current phase of the stream goes on or waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    #[default]
    Continue,
    Pause,
}

/// What an event asks of the host.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Effects {
    pub list: Vec<Effect>,
    pub flow: Flow,
}

impl Effects {
    pub fn push(&mut self, effect: Effect) {
        self.list.push(effect);
    }

    /// Sets (`Some`) or removes (`None`) a header of `side`.
    pub fn header(&mut self, side: Side, name: impl Into<String>, value: Option<String>) {
        self.push(Effect::Header(side, name.into(), value));
    }

    /// Sets each header of `side`.
    pub fn set_headers<N: Into<String>>(
        &mut self,
        side: Side,
        headers: impl IntoIterator<Item = (N, String)>,
    ) {
        for (name, value) in headers {
            self.header(side, name, Some(value));
        }
    }

    /// Removes each header of `side`.
    pub fn remove_headers<N: Into<String>>(
        &mut self,
        side: Side,
        names: impl IntoIterator<Item = N>,
    ) {
        for name in names {
            self.header(side, name, None);
        }
    }

    /// Replaces `side`'s first `size` body bytes with `bytes`, when there are any.
    pub fn body(&mut self, side: Side, size: usize, bytes: Option<Vec<u8>>, set_length: bool) {
        if let Some(bytes) = bytes {
            self.push(Effect::Body {
                side,
                size,
                bytes,
                set_length,
            });
        }
    }

    /// Logs one structured line (see [`event_line`]).
    pub fn event(&mut self, level: Level, event: &str, fields: serde_json::Value) {
        self.push(Effect::Log(level, event_line(level, event, fields)));
    }

    pub fn count(&mut self, name: impl Into<String>, by: i64) {
        self.push(Effect::Count(name.into(), by));
    }

    /// Appends `other`'s effects; its flow becomes this one's.
    pub fn then(&mut self, other: Effects) {
        self.list.extend(other.list);
        self.flow = other.flow;
    }

    pub fn paused(mut self) -> Self {
        self.flow = Flow::Pause;
        self
    }
}

/// One structured log line, `psf.log {"level":…,"event":…,…}`: every line the filter
/// writes is one JSON object behind a fixed prefix (audit records and alerts have their
/// own). The fields never hold request text.
pub fn event_line(level: Level, event: &str, fields: serde_json::Value) -> String {
    let name = match level {
        Level::Info => "info",
        Level::Warn => "warn",
        Level::Error => "error",
        Level::Critical => "critical",
    };
    let mut line = serde_json::json!({"level": name, "event": event});
    if let (Some(line), serde_json::Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    format!("psf.log {line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_effect_is_logged_or_counted_and_a_refused_log_is_not_retried() {
        let header = Effect::Header(Side::Request, "x-psf-flags".into(), None);
        let Some(Effect::Log(Level::Error, line)) = header.refused("BadArgument") else {
            panic!("not logged")
        };
        assert!(line.starts_with("psf.log {") && line.contains("\"header\":\"x-psf-flags\""));
        let state = Effect::FilterState("psf_audit", "{}".into());
        assert_eq!(
            state.refused("NotFound"),
            Some(Effect::Count(
                "psf_audit_dropped_total.reason.filter_state".into(),
                1
            ))
        );
        for fallback in [
            Effect::Log(Level::Info, "x".into()),
            Effect::Count("c".into(), 1),
        ] {
            assert_eq!(fallback.refused("BadArgument"), None);
        }
    }

    #[test]
    fn an_event_line_is_one_json_object_behind_the_prefix() {
        let line = event_line(Level::Warn, "e", serde_json::json!({"n": 1}));
        let json: serde_json::Value = serde_json::from_str(&line["psf.log ".len()..]).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"level": "warn", "event": "e", "n": 1})
        );
    }
}
