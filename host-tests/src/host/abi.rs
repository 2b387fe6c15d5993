//! The `env` module: proxy-wasm ABI v0.2.1 host functions with Envoy's semantics.
//! Each function records itself (see [`super::calls`]), checks the VM's call
//! policy, and returns a `proxy_status_t`; guest memory faults become statuses,
//! host bugs and policy violations become traps.

use anyhow::Result;
use wasmtime::{Caller, Linker};

use super::calls::{unexpected_call, HostCall};
use super::cluster::CallRequest;
use super::memory::{
    decode_pairs, encode_pairs, read, read_str, return_bytes, write, write_u32, Fail, HResult,
};
use super::metrics::MetricType;
use super::properties::{lookup, path_key};
use super::state::{CallResponseView, LocalReply, PendingCall, VmState};
use super::types::{BufferType, Headers, LogEntry, LogLevel, LogSource, MapType, Status};
use super::{ah, lock, wt};

/// Records the call and enforces the VM's [`super::calls::CallPolicy`].
pub(crate) fn enter(c: &mut Caller<'_, VmState>, name: &str) -> wasmtime::Result<()> {
    let st = c.data_mut();
    let context_id = st.current_ctx;
    st.calls.push(HostCall {
        name: name.to_string(),
        args: String::new(),
        context_id,
    });
    if st.policy.allows(name) {
        Ok(())
    } else {
        Err(wt(unexpected_call(name)))
    }
}

/// Fills in the argument summary of the call recorded by [`enter`].
fn note(c: &mut Caller<'_, VmState>, args: String) {
    if let Some(call) = c.data_mut().calls.last_mut() {
        call.args = args;
    }
}

fn finish(r: HResult<()>) -> wasmtime::Result<i32> {
    match r {
        Ok(()) => Ok(Status::Ok.code()),
        Err(Fail::Status(s)) => Ok(s.code()),
        Err(Fail::Trap(e)) => Err(wt(e)),
    }
}

macro_rules! register {
    ($linker:expr, $name:ident ( $($arg:ident : $ty:ty),* )) => {
        $linker.func_wrap(
            "env",
            stringify!($name),
            |mut c: Caller<'_, VmState>, $($arg: $ty),*| -> wasmtime::Result<i32> {
                enter(&mut c, stringify!($name))?;
                finish($name(&mut c, $($arg),*))
            },
        )
        .map_err(ah)?;
    };
}

/// Every `env` function this host implements (the default allow-list).
pub const PROXY_FUNCTIONS: &[&str] = &[
    "proxy_log",
    "proxy_get_log_level",
    "proxy_get_current_time_nanoseconds",
    "proxy_set_tick_period_milliseconds",
    "proxy_get_buffer_bytes",
    "proxy_set_buffer_bytes",
    "proxy_get_header_map_pairs",
    "proxy_set_header_map_pairs",
    "proxy_get_header_map_value",
    "proxy_add_header_map_value",
    "proxy_replace_header_map_value",
    "proxy_remove_header_map_value",
    "proxy_get_property",
    "proxy_set_property",
    "proxy_get_shared_data",
    "proxy_set_shared_data",
    "proxy_register_shared_queue",
    "proxy_resolve_shared_queue",
    "proxy_enqueue_shared_queue",
    "proxy_dequeue_shared_queue",
    "proxy_continue_stream",
    "proxy_close_stream",
    "proxy_send_local_response",
    "proxy_http_call",
    "proxy_define_metric",
    "proxy_increment_metric",
    "proxy_record_metric",
    "proxy_get_metric",
    "proxy_set_effective_context",
    "proxy_done",
    "proxy_call_foreign_function",
    "proxy_get_status",
];

pub fn add_to_linker(l: &mut Linker<VmState>) -> Result<()> {
    register!(l, proxy_log(level: i32, ptr: i32, len: i32));
    register!(l, proxy_get_log_level(ret: i32));
    register!(l, proxy_get_current_time_nanoseconds(ret: i32));
    register!(l, proxy_set_tick_period_milliseconds(ms: i32));
    register!(l, proxy_get_buffer_bytes(t: i32, start: i32, max: i32, rp: i32, rs: i32));
    register!(l, proxy_set_buffer_bytes(t: i32, start: i32, size: i32, p: i32, n: i32));
    register!(l, proxy_get_header_map_pairs(t: i32, rp: i32, rs: i32));
    register!(l, proxy_set_header_map_pairs(t: i32, p: i32, n: i32));
    register!(l, proxy_get_header_map_value(t: i32, kp: i32, kn: i32, rp: i32, rs: i32));
    register!(l, proxy_add_header_map_value(t: i32, kp: i32, kn: i32, vp: i32, vn: i32));
    register!(l, proxy_replace_header_map_value(t: i32, kp: i32, kn: i32, vp: i32, vn: i32));
    register!(l, proxy_remove_header_map_value(t: i32, kp: i32, kn: i32));
    register!(l, proxy_get_property(p: i32, n: i32, rp: i32, rs: i32));
    register!(l, proxy_set_property(p: i32, n: i32, vp: i32, vn: i32));
    register!(l, proxy_get_shared_data(kp: i32, kn: i32, rp: i32, rs: i32, rcas: i32));
    register!(l, proxy_set_shared_data(kp: i32, kn: i32, vp: i32, vn: i32, cas: i32));
    register!(l, proxy_register_shared_queue(np: i32, nn: i32, rid: i32));
    register!(l, proxy_resolve_shared_queue(vp: i32, vn: i32, np: i32, nn: i32, rid: i32));
    register!(l, proxy_enqueue_shared_queue(id: i32, p: i32, n: i32));
    register!(l, proxy_dequeue_shared_queue(id: i32, rp: i32, rs: i32));
    register!(l, proxy_continue_stream(t: i32));
    register!(l, proxy_close_stream(t: i32));
    register!(l, proxy_send_local_response(
        status: i32, dp: i32, dn: i32, bp: i32, bn: i32, hp: i32, hn: i32, grpc: i32
    ));
    register!(l, proxy_http_call(
        up: i32, un: i32, hp: i32, hn: i32, bp: i32, bn: i32, tp: i32, tn: i32, timeout: i32,
        rtoken: i32
    ));
    register!(l, proxy_define_metric(t: i32, np: i32, nn: i32, rid: i32));
    register!(l, proxy_increment_metric(id: i32, offset: i64));
    register!(l, proxy_record_metric(id: i32, value: i64));
    register!(l, proxy_get_metric(id: i32, ret: i32));
    register!(l, proxy_set_effective_context(id: i32));
    register!(l, proxy_done());
    register!(l, proxy_call_foreign_function(np: i32, nn: i32, ap: i32, an: i32, rp: i32, rs: i32));
    register!(l, proxy_get_status(rcode: i32, rp: i32, rs: i32));
    Ok(())
}

fn proxy_log(c: &mut Caller<'_, VmState>, level: i32, ptr: i32, len: i32) -> HResult<()> {
    let level = LogLevel::from_i32(level).ok_or(Status::BadArgument)?;
    let message = read_str(c, ptr, len)?;
    note(c, format!("{level:?} {message:?}"));
    let st = c.data_mut();
    let vm = st.config.vm_id.clone();
    st.logs.push(LogEntry {
        level,
        message,
        source: LogSource::Proxy,
        vm,
    });
    Ok(())
}

fn proxy_get_log_level(c: &mut Caller<'_, VmState>, ret: i32) -> HResult<()> {
    let level = c.data().config.log_level as u32;
    write_u32(c, ret, level)
}

fn proxy_get_current_time_nanoseconds(c: &mut Caller<'_, VmState>, ret: i32) -> HResult<()> {
    let now = c.data().host.clock.now_nanos();
    write(c, ret, &now.to_le_bytes())
}

/// Envoy keeps one tick timer per root context; 0 disables it.
fn proxy_set_tick_period_milliseconds(c: &mut Caller<'_, VmState>, ms: i32) -> HResult<()> {
    note(c, format!("{ms}ms"));
    let st = c.data_mut();
    let ms = ms as u32;
    st.tick_period_ms = ms;
    st.next_tick_nanos =
        (ms > 0).then(|| st.host.clock.monotonic_nanos() + u64::from(ms) * 1_000_000);
    Ok(())
}

/// The bytes of a buffer as the current context sees it.
fn buffer(st: &VmState, t: BufferType) -> Result<Vec<u8>, Status> {
    match t {
        BufferType::RequestBody => st.stream().map(|s| s.request_body.clone()),
        BufferType::ResponseBody => st.stream().map(|s| s.response_body.clone()),
        BufferType::HttpCallResponseBody => st.call_response.as_ref().map(|r| r.body.clone()),
        BufferType::VmConfiguration => Some(st.config.vm_config.clone()),
        BufferType::PluginConfiguration => st.in_configure.then(|| st.config.plugin_config.clone()),
        _ => None,
    }
    .ok_or(Status::NotFound)
}

/// proxy-wasm-cpp-host exports.cc get_buffer_bytes: reads are clamped to the
/// buffer; an empty result is NotFound.
fn proxy_get_buffer_bytes(
    c: &mut Caller<'_, VmState>,
    t: i32,
    start: i32,
    max: i32,
    rp: i32,
    rs: i32,
) -> HResult<()> {
    note(c, format!("type={t} start={start} max={max}"));
    let t = BufferType::from_i32(t).ok_or(Status::BadArgument)?;
    let data = buffer(c.data(), t)?;
    let (start, max) = (start as u32 as usize, max as u32 as usize);
    let end = start.saturating_add(max).min(data.len());
    if start >= end {
        return Err(Status::NotFound.into());
    }
    let slice = data[start..end].to_vec();
    return_bytes(c, &slice, rp, rs)
}

/// Envoy `Buffer::copyFrom` (source/extensions/common/wasm/context.cc): start 0
/// drains `size` bytes then prepends (so (0, len) replaces everything and (0, k)
/// replaces a prefix); start >= len appends; anything in the middle is
/// BadArgument. Config and http-call buffers are read-only.
fn proxy_set_buffer_bytes(
    c: &mut Caller<'_, VmState>,
    t: i32,
    start: i32,
    size: i32,
    p: i32,
    n: i32,
) -> HResult<()> {
    let data = read(c, p, n)?;
    note(
        c,
        format!("type={t} start={start} size={size} len={}", data.len()),
    );
    let t = BufferType::from_i32(t).ok_or(Status::BadArgument)?;
    let (start, size) = (start as u32 as usize, size as u32 as usize);
    let st = c.data_mut();
    let buf = match t {
        BufferType::RequestBody => st.stream_mut().map(|s| &mut s.request_body),
        BufferType::ResponseBody => st.stream_mut().map(|s| &mut s.response_body),
        BufferType::HttpCallResponseBody
        | BufferType::VmConfiguration
        | BufferType::PluginConfiguration => return Err(Status::BadArgument.into()),
        _ => None,
    }
    .ok_or(Status::NotFound)?;
    if start == 0 {
        let drain = size.min(buf.len());
        buf.splice(0..drain, data);
    } else if start >= buf.len() {
        buf.extend_from_slice(&data);
    } else {
        return Err(Status::BadArgument.into());
    }
    Ok(())
}

/// Header maps that do not exist in the current context (e.g. response headers
/// during the request) are BadArgument in Envoy (context.cc getMap returns null).
fn map(st: &VmState, t: MapType) -> Result<Headers, Status> {
    match t {
        MapType::HttpCallResponseHeaders => st.call_response.as_ref().map(|r| r.headers.clone()),
        MapType::HttpCallResponseTrailers => st.call_response.as_ref().map(|r| r.trailers.clone()),
        _ => st.stream().and_then(|s| s.map(t)).cloned(),
    }
    .ok_or(Status::BadArgument)
}

fn map_mut(st: &mut VmState, t: MapType) -> Result<&mut Headers, Status> {
    match t {
        // Responses to http_call are read-only.
        MapType::HttpCallResponseHeaders | MapType::HttpCallResponseTrailers => None,
        _ => st.stream_mut().and_then(|s| s.map_mut(t)),
    }
    .ok_or(Status::BadArgument)
}

fn map_type(t: i32) -> Result<MapType, Status> {
    MapType::from_i32(t).ok_or(Status::BadArgument)
}

fn proxy_get_header_map_pairs(
    c: &mut Caller<'_, VmState>,
    t: i32,
    rp: i32,
    rs: i32,
) -> HResult<()> {
    note(c, format!("map={t}"));
    let pairs = map(c.data(), map_type(t)?)?;
    return_bytes(c, &encode_pairs(&pairs), rp, rs)
}

/// Envoy setHeaderMapPairs removes every existing header then adds the pairs.
fn proxy_set_header_map_pairs(c: &mut Caller<'_, VmState>, t: i32, p: i32, n: i32) -> HResult<()> {
    let pairs = decode_pairs(&read(c, p, n)?)?;
    note(c, format!("map={t} pairs={}", pairs.len()));
    let m = map_mut(c.data_mut(), map_type(t)?)?;
    *m = pairs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    Ok(())
}

/// Missing header: NotFound (ABI 0.2.x; 0.1.0 returned an empty string).
fn proxy_get_header_map_value(
    c: &mut Caller<'_, VmState>,
    t: i32,
    kp: i32,
    kn: i32,
    rp: i32,
    rs: i32,
) -> HResult<()> {
    let key = read_str(c, kp, kn)?.to_ascii_lowercase();
    note(c, format!("map={t} key={key:?}"));
    let m = map(c.data(), map_type(t)?)?;
    let v = m
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.clone())
        .ok_or(Status::NotFound)?;
    return_bytes(c, v.as_bytes(), rp, rs)
}

fn proxy_add_header_map_value(
    c: &mut Caller<'_, VmState>,
    t: i32,
    kp: i32,
    kn: i32,
    vp: i32,
    vn: i32,
) -> HResult<()> {
    let key = read_str(c, kp, kn)?.to_ascii_lowercase();
    let value = read_str(c, vp, vn)?;
    note(c, format!("map={t} {key}={value:?}"));
    map_mut(c.data_mut(), map_type(t)?)?.push((key, value));
    Ok(())
}

/// Envoy setCopy: the first entry keeps its position, duplicates are dropped,
/// an absent header is appended.
fn proxy_replace_header_map_value(
    c: &mut Caller<'_, VmState>,
    t: i32,
    kp: i32,
    kn: i32,
    vp: i32,
    vn: i32,
) -> HResult<()> {
    let key = read_str(c, kp, kn)?.to_ascii_lowercase();
    let value = read_str(c, vp, vn)?;
    note(c, format!("map={t} {key}={value:?}"));
    let m = map_mut(c.data_mut(), map_type(t)?)?;
    match m.iter().position(|(k, _)| *k == key) {
        Some(i) => {
            m[i].1 = value;
            let mut seen = 0;
            m.retain(|(k, _)| {
                if *k == key {
                    seen += 1;
                    seen == 1
                } else {
                    true
                }
            });
        }
        None => m.push((key, value)),
    }
    Ok(())
}

fn proxy_remove_header_map_value(
    c: &mut Caller<'_, VmState>,
    t: i32,
    kp: i32,
    kn: i32,
) -> HResult<()> {
    let key = read_str(c, kp, kn)?.to_ascii_lowercase();
    note(c, format!("map={t} key={key:?}"));
    map_mut(c.data_mut(), map_type(t)?)?.retain(|(k, _)| *k != key);
    Ok(())
}

fn proxy_get_property(
    c: &mut Caller<'_, VmState>,
    p: i32,
    n: i32,
    rp: i32,
    rs: i32,
) -> HResult<()> {
    let key = path_key(&read(c, p, n)?);
    note(c, key.clone());
    let v = lookup(c.data(), &key).ok_or(Status::NotFound)?;
    return_bytes(c, &v, rp, rs)
}

/// Envoy stores these in the stream's filter state; on the root context they live
/// as long as the VM.
fn proxy_set_property(
    c: &mut Caller<'_, VmState>,
    p: i32,
    n: i32,
    vp: i32,
    vn: i32,
) -> HResult<()> {
    let key = path_key(&read(c, p, n)?);
    let value = read(c, vp, vn)?;
    note(c, format!("{key} len={}", value.len()));
    let st = c.data_mut();
    match st.streams.get_mut(&st.current_ctx) {
        Some(s) => s.props.insert(key, value),
        None => st.root_props.insert(key, value),
    };
    Ok(())
}

fn proxy_get_shared_data(
    c: &mut Caller<'_, VmState>,
    kp: i32,
    kn: i32,
    rp: i32,
    rs: i32,
    rcas: i32,
) -> HResult<()> {
    let key = read_str(c, kp, kn)?;
    note(c, format!("key={key:?}"));
    let vm_id = c.data().config.vm_id.clone();
    let (value, cas) = lock(&c.data().host.shared_data)?.get(&vm_id, &key)?;
    return_bytes(c, &value, rp, rs)?;
    write_u32(c, rcas, cas)
}

fn proxy_set_shared_data(
    c: &mut Caller<'_, VmState>,
    kp: i32,
    kn: i32,
    vp: i32,
    vn: i32,
    cas: i32,
) -> HResult<()> {
    let key = read_str(c, kp, kn)?;
    let value = read(c, vp, vn)?;
    note(
        c,
        format!("key={key:?} len={} cas={}", value.len(), cas as u32),
    );
    let vm_id = c.data().config.vm_id.clone();
    lock(&c.data().host.shared_data)?.set(&vm_id, &key, &value, cas as u32)?;
    Ok(())
}

fn proxy_register_shared_queue(
    c: &mut Caller<'_, VmState>,
    np: i32,
    nn: i32,
    rid: i32,
) -> HResult<()> {
    let name = read_str(c, np, nn)?;
    note(c, format!("name={name:?}"));
    let st = c.data();
    let (vm_id, idx, ctx) = (st.config.vm_id.clone(), st.vm_index, st.current_ctx);
    let token = lock(&st.host.queues)?.register(&vm_id, &name, idx, ctx);
    write_u32(c, rid, token)
}

fn proxy_resolve_shared_queue(
    c: &mut Caller<'_, VmState>,
    vp: i32,
    vn: i32,
    np: i32,
    nn: i32,
    rid: i32,
) -> HResult<()> {
    let vm_id = read_str(c, vp, vn)?;
    let name = read_str(c, np, nn)?;
    note(c, format!("vm_id={vm_id:?} name={name:?}"));
    let token = lock(&c.data().host.queues)?.resolve(&vm_id, &name)?;
    write_u32(c, rid, token)
}

fn proxy_enqueue_shared_queue(c: &mut Caller<'_, VmState>, id: i32, p: i32, n: i32) -> HResult<()> {
    let data = read(c, p, n)?;
    note(c, format!("id={id} len={}", data.len()));
    lock(&c.data().host.queues)?.enqueue(id as u32, &data)?;
    Ok(())
}

fn proxy_dequeue_shared_queue(
    c: &mut Caller<'_, VmState>,
    id: i32,
    rp: i32,
    rs: i32,
) -> HResult<()> {
    note(c, format!("id={id}"));
    let data = lock(&c.data().host.queues)?.dequeue(id as u32)?;
    return_bytes(c, &data, rp, rs)
}

/// Stream types: 0 request, 1 response, 2 downstream, 3 upstream. The flag is
/// consumed by the stream driver, which resumes the paused direction.
fn proxy_continue_stream(c: &mut Caller<'_, VmState>, t: i32) -> HResult<()> {
    note(c, format!("stream={t}"));
    let s = c.data_mut().stream_mut().ok_or(Status::NotFound)?;
    match t {
        0 => s.continue_request = true,
        1 => s.continue_response = true,
        _ => return Err(Status::BadArgument.into()),
    }
    Ok(())
}

/// Envoy resets the HTTP stream (context.cc closeStream → resetStream).
fn proxy_close_stream(c: &mut Caller<'_, VmState>, t: i32) -> HResult<()> {
    note(c, format!("stream={t}"));
    if !(0..=3).contains(&t) {
        return Err(Status::BadArgument.into());
    }
    let s = c.data_mut().stream_mut().ok_or(Status::NotFound)?;
    s.closed = true;
    Ok(())
}

/// Deferred until the current callback returns (Envoy context.cc
/// sendLocalResponse → addAfterVmCallAction); only the first reply counts,
/// because Envoy ignores a second sendLocalReply on the same stream.
#[allow(clippy::too_many_arguments)]
fn proxy_send_local_response(
    c: &mut Caller<'_, VmState>,
    status: i32,
    dp: i32,
    dn: i32,
    bp: i32,
    bn: i32,
    hp: i32,
    hn: i32,
    grpc: i32,
) -> HResult<()> {
    let details = read_str(c, dp, dn)?.replace(' ', "_");
    let body = read(c, bp, bn)?;
    let headers = decode_pairs(&read(c, hp, hn)?)?;
    note(
        c,
        format!(
            "status={status} details={details:?} body_len={}",
            body.len()
        ),
    );
    let s = c.data_mut().stream_mut().ok_or(Status::NotFound)?;
    if s.local_reply.is_none() {
        s.local_reply = Some(LocalReply {
            status: status as u16,
            details,
            body,
            headers: headers
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            grpc_status: grpc,
        });
    }
    Ok(())
}

/// Envoy context.cc httpCall: unknown cluster or missing `:method`, `:path` or
/// `:authority` is BadArgument. The call is answered later, when the host pumps.
#[allow(clippy::too_many_arguments)]
fn proxy_http_call(
    c: &mut Caller<'_, VmState>,
    up: i32,
    un: i32,
    hp: i32,
    hn: i32,
    bp: i32,
    bn: i32,
    tp: i32,
    tn: i32,
    timeout: i32,
    rtoken: i32,
) -> HResult<()> {
    let cluster = read_str(c, up, un)?;
    let headers = decode_pairs(&read(c, hp, hn)?)?;
    let body = read(c, bp, bn)?;
    let trailers = decode_pairs(&read(c, tp, tn)?)?;
    note(
        c,
        format!("cluster={cluster:?} timeout={}ms", timeout as u32),
    );
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !(has(":method") && has(":path") && has(":authority")) {
        return Err(Status::BadArgument.into());
    }
    if !lock(&c.data().host.clusters)?.contains_key(&cluster) {
        return Err(Status::BadArgument.into());
    }
    let st = c.data_mut();
    st.next_call_token += 1;
    let token = st.next_call_token;
    let request = CallRequest {
        cluster,
        headers,
        body,
        trailers,
        timeout_ms: timeout as u32,
        token,
        vm: st.config.vm_id.clone(),
    };
    let context_id = st.current_ctx;
    st.pending_calls.push_back(PendingCall {
        context_id,
        request,
    });
    write_u32(c, rtoken, token)
}

/// Like Envoy, the metric type lives in the low two bits of the id.
fn proxy_define_metric(
    c: &mut Caller<'_, VmState>,
    t: i32,
    np: i32,
    nn: i32,
    rid: i32,
) -> HResult<()> {
    let name = read_str(c, np, nn)?;
    note(c, format!("type={t} name={name:?}"));
    let kind = match t {
        0 => MetricType::Counter,
        1 => MetricType::Gauge,
        2 => MetricType::Histogram,
        _ => return Err(Status::BadArgument.into()),
    };
    let full = lock(&c.data().host.metrics)?.define(kind, &name)?;
    let st = c.data_mut();
    let existing = st
        .metric_ids
        .iter()
        .find(|(_, n)| **n == full)
        .map(|(id, _)| *id);
    let id = match existing {
        Some(id) => id,
        None => {
            st.next_metric += 1;
            let id = (st.next_metric << 2) | kind as u32;
            st.metric_ids.insert(id, full);
            id
        }
    };
    write_u32(c, rid, id)
}

fn metric_name(c: &Caller<'_, VmState>, id: i32) -> Result<String, Status> {
    c.data()
        .metric_ids
        .get(&(id as u32))
        .cloned()
        .ok_or(Status::NotFound)
}

fn proxy_increment_metric(c: &mut Caller<'_, VmState>, id: i32, offset: i64) -> HResult<()> {
    note(c, format!("id={id} offset={offset}"));
    let name = metric_name(c, id)?;
    lock(&c.data().host.metrics)?.increment(&name, offset)?;
    Ok(())
}

fn proxy_record_metric(c: &mut Caller<'_, VmState>, id: i32, value: i64) -> HResult<()> {
    note(c, format!("id={id} value={}", value as u64));
    let name = metric_name(c, id)?;
    lock(&c.data().host.metrics)?.record(&name, value as u64)?;
    Ok(())
}

fn proxy_get_metric(c: &mut Caller<'_, VmState>, id: i32, ret: i32) -> HResult<()> {
    note(c, format!("id={id}"));
    let name = metric_name(c, id)?;
    let v = lock(&c.data().host.metrics)?.get(&name)?;
    write(c, ret, &v.to_le_bytes())
}

/// Valid for the rest of the current callback; the host resets it per callback.
fn proxy_set_effective_context(c: &mut Caller<'_, VmState>, id: i32) -> HResult<()> {
    note(c, format!("ctx={id}"));
    let st = c.data_mut();
    let id = id as u32;
    if id != st.root_ctx && !st.streams.contains_key(&id) {
        return Err(Status::BadArgument.into());
    }
    st.current_ctx = id;
    Ok(())
}

fn proxy_done(c: &mut Caller<'_, VmState>) -> HResult<()> {
    c.data_mut().done_called = true;
    Ok(())
}

/// Envoy registers foreign functions by name (e.g. `compress`); this host has none.
fn proxy_call_foreign_function(
    c: &mut Caller<'_, VmState>,
    np: i32,
    nn: i32,
    _ap: i32,
    _an: i32,
    _rp: i32,
    _rs: i32,
) -> HResult<()> {
    let name = read_str(c, np, nn)?;
    note(c, format!("name={name:?}"));
    Err(Status::NotFound.into())
}

/// gRPC status of the last gRPC callback; there are no gRPC calls here, so OK/"".
fn proxy_get_status(c: &mut Caller<'_, VmState>, rcode: i32, rp: i32, rs: i32) -> HResult<()> {
    write_u32(c, rcode, 0)?;
    return_bytes(c, b"", rp, rs)
}

/// Installs an answered http_call for the duration of its callback.
pub(crate) fn set_call_response(st: &mut VmState, view: Option<CallResponseView>) {
    st.call_response = view;
}
