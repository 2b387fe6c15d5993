//! ABI semantics of the wasmtime host, checked with small WAT guests that call the
//! host functions directly, plus a smoke test of the real filter when it is built.

// Helpers outside #[test] fns are test code too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use psf_host::host::{
    decode_pairs, encode_pairs, Action, CallResponse, Host, LogEntry, StatValue, Status,
    StreamRequest, UpstreamResponse, Vm, VmConfig, DEFAULT_EPOCH_NANOS,
};
use psf_host::HttpRequest;

const IMPORTS: &str = r#"
 (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
 (import "env" "proxy_get_buffer_bytes" (func $getbuf (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_set_buffer_bytes" (func $setbuf (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_get_header_map_pairs" (func $getpairs (param i32 i32 i32) (result i32)))
 (import "env" "proxy_set_header_map_pairs" (func $setpairs (param i32 i32 i32) (result i32)))
 (import "env" "proxy_get_header_map_value" (func $gethdr (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_add_header_map_value" (func $addhdr (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_replace_header_map_value" (func $rephdr (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_remove_header_map_value" (func $rmhdr (param i32 i32 i32) (result i32)))
 (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_get_shared_data" (func $getsd (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_set_shared_data" (func $setsd (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_send_local_response" (func $reply (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_http_call" (func $hc (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_continue_stream" (func $cont (param i32) (result i32)))
 (import "env" "proxy_define_metric" (func $def (param i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_increment_metric" (func $inc (param i32 i64) (result i32)))
 (import "env" "proxy_record_metric" (func $rec (param i32 i64) (result i32)))
 (import "env" "proxy_get_metric" (func $getm (param i32 i32) (result i32)))
 (import "env" "proxy_set_tick_period_milliseconds" (func $tickp (param i32) (result i32)))
 (import "env" "proxy_get_current_time_nanoseconds" (func $now (param i32) (result i32)))
 (import "env" "proxy_register_shared_queue" (func $regq (param i32 i32 i32) (result i32)))
 (import "env" "proxy_resolve_shared_queue" (func $resq (param i32 i32 i32 i32 i32) (result i32)))
 (import "env" "proxy_enqueue_shared_queue" (func $enq (param i32 i32 i32) (result i32)))
 (import "env" "proxy_dequeue_shared_queue" (func $deq (param i32 i32 i32) (result i32)))
 (import "env" "proxy_grpc_call" (func $grpc (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
"#;

/// A minimal proxy-wasm guest: memory, ABI marker, bump allocator, no-op context
/// creation; `$logret` logs the bytes whose (ptr, len) the host wrote at 256/260.
fn guest(body: &str) -> String {
    format!(
        r#"(module {IMPORTS}
 (memory (export "memory") 4)
 (global $bump (mut i32) (i32.const 65536))
 (func (export "proxy_abi_version_0_2_1"))
 (func (export "proxy_on_memory_allocate") (param $n i32) (result i32) (local $p i32)
   (local.set $p (global.get $bump))
   (global.set $bump (i32.add (global.get $bump)
     (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))))
   (local.get $p))
 (func (export "proxy_on_context_create") (param i32 i32))
 (func $logret (drop (call $log (i32.const 2) (i32.load (i32.const 256)) (i32.load (i32.const 260)))))
 {body})"#
    )
}

/// A WAT data segment holding `bytes` at `offset`.
fn seg(offset: u32, bytes: &[u8]) -> String {
    let esc: String = bytes.iter().map(|b| format!("\\{b:02x}")).collect();
    format!(r#"(data (i32.const {offset}) "{esc}")"#)
}

/// Exports wrapping single host calls, for direct ABI tests.
const OPS: &str = r#"
 (func (export "get_sd") (param i32 i32) (result i32)
   (call $getsd (local.get 0) (local.get 1) (i32.const 256) (i32.const 260) (i32.const 264)))
 (func (export "set_sd") (param i32 i32 i32 i32 i32) (result i32)
   (call $setsd (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
 (func (export "def") (param i32 i32 i32) (result i32)
   (call $def (local.get 0) (local.get 1) (local.get 2) (i32.const 256)))
 (func (export "inc") (param i32 i32) (result i32) (call $inc (local.get 0) (i64.extend_i32_s (local.get 1))))
 (func (export "rec") (param i32 i32) (result i32) (call $rec (local.get 0) (i64.extend_i32_s (local.get 1))))
 (func (export "getm") (param i32) (result i32) (call $getm (local.get 0) (i32.const 256)))
 (func (export "prop") (param i32 i32) (result i32)
   (call $prop (local.get 0) (local.get 1) (i32.const 256) (i32.const 260)))
 (func (export "setbuf") (param i32 i32 i32 i32) (result i32)
   (call $setbuf (i32.const 0) (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
 (func (export "hc") (param i32 i32 i32 i32) (result i32)
   (call $hc (local.get 0) (local.get 1) (local.get 2) (local.get 3)
     (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 1000) (i32.const 268)))
 (func (export "now") (result i32) (call $now (i32.const 272)))
 (func (export "regq") (param i32 i32) (result i32) (call $regq (local.get 0) (local.get 1) (i32.const 280)))
 (func (export "resq") (param i32 i32 i32 i32) (result i32)
   (call $resq (local.get 0) (local.get 1) (local.get 2) (local.get 3) (i32.const 280)))
 (func (export "enq") (param i32 i32 i32) (result i32) (call $enq (local.get 0) (local.get 1) (local.get 2)))
 (func (export "deq") (param i32) (result i32) (call $deq (local.get 0) (i32.const 256) (i32.const 260)))
 (func (export "grpc") (result i32)
   (call $grpc (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
     (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
"#;

fn host(body: &str) -> Host {
    Host::from_bytes(guest(body).as_bytes()).expect("guest compiles")
}

fn vm(host: &Host) -> Vm {
    host.start_vm(VmConfig::default()).expect("vm starts")
}

/// Writes each blob into guest memory from 1024 on; returns (ptr, len) pairs flat.
fn put(vm: &mut Vm, blobs: &[&[u8]]) -> Vec<i32> {
    let mut at = 1024u32;
    let mut out = Vec::new();
    for b in blobs {
        vm.write_memory(at, b).unwrap();
        out.extend([at as i32, b.len() as i32]);
        at += b.len() as u32 + 8;
    }
    out
}

fn call(vm: &mut Vm, ctx: u32, name: &str, args: &[i32]) -> i32 {
    vm.call_export(ctx, name, args).unwrap().unwrap()
}

fn u32_at(vm: &Vm, ptr: u32) -> u32 {
    u32::from_le_bytes(vm.read_memory(ptr, 4).unwrap().try_into().unwrap())
}

/// The bytes the host returned through the (256, 260) out-pointers.
fn returned(vm: &Vm) -> Vec<u8> {
    let (p, n) = (u32_at(vm, 256), u32_at(vm, 260));
    vm.read_memory(p, n).unwrap()
}

fn messages(logs: &[LogEntry]) -> Vec<String> {
    logs.iter().map(|l| l.message.clone()).collect()
}

fn ok(code: i32) -> Status {
    match code {
        0 => Status::Ok,
        1 => Status::NotFound,
        2 => Status::BadArgument,
        6 => Status::InvalidMemoryAccess,
        7 => Status::Empty,
        8 => Status::CasMismatch,
        other => panic!("unexpected status {other}"),
    }
}

fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn shared_data_cas_across_vms() {
    let host = host(OPS);
    let mut a = vm(&host);
    let mut b = vm(&host);
    let root = a.root_context();
    let get = |vm: &mut Vm, key: &str| {
        let args = put(vm, &[key.as_bytes()]);
        let st = ok(call(vm, root, "get_sd", &args));
        (
            st,
            (st == Status::Ok).then(|| (returned(vm), u32_at(vm, 264))),
        )
    };
    let set = |vm: &mut Vm, key: &str, val: &str, cas: u32| {
        let mut args = put(vm, &[key.as_bytes(), val.as_bytes()]);
        args.push(cas as i32);
        ok(call(vm, root, "set_sd", &args))
    };
    assert_eq!(get(&mut a, "k").0, Status::NotFound);
    assert_eq!(set(&mut a, "k", "one", 0), Status::Ok);
    let (_, Some((v, cas1))) = get(&mut b, "k") else {
        panic!("k missing in vm b")
    };
    assert_eq!(v, b"one");
    assert_ne!(cas1, 0);
    // Table: (vm, value, cas offered, expected status).
    let cases: &[(bool, &str, Option<u32>, Status)] = &[
        (
            true,
            "two",
            Some(cas1.wrapping_add(100)),
            Status::CasMismatch,
        ),
        (true, "two", Some(cas1), Status::Ok),
        (false, "three", Some(cas1), Status::CasMismatch), // stale cas from the other VM
        (false, "four", None, Status::Ok),                 // cas 0: unconditional
    ];
    for (use_b, val, cas, want) in cases {
        let vm = if *use_b { &mut b } else { &mut a };
        assert_eq!(set(vm, "k", val, cas.unwrap_or(0)), *want, "set {val}");
    }
    let (_, Some((v, cas_last))) = get(&mut a, "k") else {
        panic!()
    };
    assert_eq!(v, b"four");
    assert!(cas_last > cas1);
    // A new key is inserted whatever cas says (shared_data.cc).
    assert_eq!(set(&mut a, "fresh", "x", 12345), Status::Ok);
    assert_eq!(host.shared_data("psf-guard")["fresh"].0, b"x");
    // Another vm_id does not see it.
    let mut other = host
        .start_vm(VmConfig {
            vm_id: "other".into(),
            ..VmConfig::default()
        })
        .unwrap();
    assert_eq!(get(&mut other, "k").0, Status::NotFound);
}

#[test]
fn metrics_semantics_and_sharing() {
    let host = host(OPS);
    let mut a = vm(&host);
    let mut b = vm(&host);
    let root = a.root_context();
    let define = |vm: &mut Vm, kind: i32, name: &str| {
        let mut args = vec![kind];
        args.extend(put(vm, &[name.as_bytes()]));
        assert_eq!(ok(call(vm, root, "def", &args)), Status::Ok);
        u32_at(vm, 256) as i32
    };
    let ca = define(&mut a, 0, "requests");
    let cb = define(&mut b, 0, "requests");
    let g = define(&mut a, 1, "inflight");
    let hist = define(&mut a, 2, "latency");
    // Table: (vm a?, op, id, arg, expected status).
    let cases: &[(bool, &str, i32, i32, Status)] = &[
        (true, "inc", ca, 1, Status::Ok),
        (false, "inc", cb, 2, Status::Ok),
        (true, "inc", ca, -1, Status::BadArgument),
        (true, "inc", ca, 0, Status::BadArgument),
        (true, "inc", g, 5, Status::Ok),
        (true, "inc", g, -2, Status::Ok),
        (true, "rec", hist, 42, Status::Ok),
        (true, "inc", hist, 1, Status::BadArgument),
        (true, "inc", 9999, 1, Status::NotFound),
        (true, "getm", hist, 0, Status::BadArgument),
        (true, "getm", 9999, 0, Status::NotFound),
    ];
    for (on_a, op, id, arg, want) in cases {
        let vm = if *on_a { &mut a } else { &mut b };
        let args: Vec<i32> = if *op == "getm" {
            vec![*id]
        } else {
            vec![*id, *arg]
        };
        assert_eq!(ok(call(vm, root, op, &args)), *want, "{op}({id}, {arg})");
    }
    assert_eq!(ok(call(&mut b, root, "getm", &[cb])), Status::Ok);
    assert_eq!(
        u64::from_le_bytes(b.read_memory(256, 8).unwrap().try_into().unwrap()),
        3
    );
    assert_eq!(ok(call(&mut a, root, "rec", &[g, 7])), Status::Ok); // gauge record = set
    let stats = host.stats();
    assert_eq!(stats["wasmcustom.requests"], StatValue::Counter(3));
    assert_eq!(stats["wasmcustom.inflight"], StatValue::Gauge(7));
    assert_eq!(stats["wasmcustom.latency"], StatValue::Histogram(vec![42]));
    assert_eq!(host.stat("wasmcustom.requests"), Some(3));
}

#[test]
fn pairs_encoding_round_trip() {
    let pairs = h(&[(":path", "/x"), ("a", ""), ("b", "vé")]);
    let bytes = encode_pairs(&pairs);
    assert_eq!(&bytes[..4], &3u32.to_le_bytes());
    assert_eq!(decode_pairs(&bytes).unwrap(), pairs);
    assert_eq!(decode_pairs(&bytes[..10]), Err(Status::BadArgument));
}

const HEADERS_GUEST: &str = r#"
 (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
   ;; round trip: get all pairs, set them back
   (drop (call $getpairs (i32.const 0) (i32.const 256) (i32.const 260)))
   (drop (call $setpairs (i32.const 0) (i32.load (i32.const 256)) (i32.load (i32.const 260))))
   (drop (call $addhdr (i32.const 0) (i32.const 4096) (i32.const 7) (i32.const 4104) (i32.const 1)))
   (drop (call $rephdr (i32.const 0) (i32.const 4112) (i32.const 5) (i32.const 4120) (i32.const 4)))
   (drop (call $rmhdr (i32.const 0) (i32.const 4128) (i32.const 6)))
   (drop (call $gethdr (i32.const 0) (i32.const 4136) (i32.const 6) (i32.const 256) (i32.const 260)))
   (call $logret)
   (i32.const 0))
"#;

#[test]
fn header_map_round_trip_and_edits() {
    let body = format!(
        "{HEADERS_GUEST}{}{}{}{}{}{}",
        seg(4096, b"X-Added"),
        seg(4104, b"1"),
        seg(4112, b":path"),
        seg(4120, b"/new"),
        seg(4128, b"x-drop"),
        seg(4136, b"x-keep")
    );
    let host = host(&body);
    let mut vm = vm(&host);
    let mut req = HttpRequest::json("POST", "/old", "");
    req.headers
        .extend(h(&[("x-drop", "1"), ("x-keep", "kept"), ("x-drop", "2")]));
    let out = vm
        .http_stream(&StreamRequest::new(req), &mut |r: &HttpRequest| {
            assert_eq!(r.path, "/new");
            UpstreamResponse::new(200, &[], "ok")
        })
        .unwrap();
    let up = out.upstream_request.unwrap();
    assert_eq!(up.header("x-added"), Some("1"));
    assert_eq!(up.header("x-drop"), None);
    assert_eq!(up.header("host"), Some("localhost"));
    assert!(up.headers.iter().all(|(k, _)| !k.starts_with(':')));
    assert_eq!(messages(&vm.logs()), vec!["kept"]);
    assert_eq!(out.response.status, 200);
    assert_eq!(out.response.body, b"ok");
}

const BODY_GUEST: &str = r#"
 (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
   (drop (call $getbuf (i32.const 0) (i32.const 0) (local.get $size) (i32.const 256) (i32.const 260)))
   (call $logret)
   (if (result i32) (local.get $eos)
     (then
       (drop (call $setbuf (i32.const 0) (local.get $size) (i32.const 0) (i32.const 4096) (i32.const 1)))
       (i32.const 0))
     (else (i32.const 1))))
"#;

#[test]
fn body_is_buffered_cumulatively_with_final_empty_eos_chunk() {
    let host = host(&format!("{BODY_GUEST}{}", seg(4096, b"!")));
    let mut vm = vm(&host);
    let mut sr = StreamRequest::new(HttpRequest::json("POST", "/", "abcdefgh"));
    sr.chunks = vec![3, 3];
    let out = vm
        .http_stream(&sr, &mut |_: &HttpRequest| {
            UpstreamResponse::new(200, &[], "ok")
        })
        .unwrap();
    // Sizes 3, 6, 8 while paused, then the empty end-of-stream chunk: 8 again.
    let sizes: Vec<String> = vm
        .calls_to("proxy_get_buffer_bytes")
        .iter()
        .map(|c| c.args.clone())
        .collect();
    assert_eq!(
        sizes,
        [
            "type=0 start=0 max=3",
            "type=0 start=0 max=6",
            "type=0 start=0 max=8",
            "type=0 start=0 max=8"
        ]
    );
    assert_eq!(
        messages(&vm.logs()),
        ["abc", "abcdef", "abcdefgh", "abcdefgh"]
    );
    let up = out.upstream_request.unwrap();
    assert_eq!(up.body, b"abcdefgh!");
    // The filter changed the length but left content-length: forwarded as is.
    assert_eq!(up.header("content-length"), Some("8"));
}

#[test]
fn set_buffer_bytes_follows_envoy_copy_from() {
    let host = host(OPS);
    let mut vm = vm(&host);
    // (start, size, data, status, result)
    let cases: &[(i32, i32, &str, Status, &str)] = &[
        (0, 11, "bye", Status::Ok, "bye"),
        (0, 5, "HOWDY", Status::Ok, "HOWDY world"),
        (0, 0, ">", Status::Ok, ">hello world"),
        (11, 0, "!", Status::Ok, "hello world!"),
        (3, 2, "x", Status::BadArgument, "hello world"),
    ];
    for (start, size, data, want, result) in cases {
        let ctx = vm.new_http_context("127.0.0.1:1", "id").unwrap();
        assert_eq!(
            vm.on_request_body(ctx, b"hello world", false).unwrap(),
            Action::Continue
        );
        let args = put(&mut vm, &[data.as_bytes()]);
        let st = ok(call(
            &mut vm,
            ctx,
            "setbuf",
            &[*start, *size, args[0], args[1]],
        ));
        assert_eq!(st, *want, "({start},{size},{data})");
        assert_eq!(vm.request_body(ctx).unwrap(), result.as_bytes());
        vm.finish_stream(ctx).unwrap();
    }
}

fn local_reply_guest(headers: &[u8]) -> String {
    format!(
        r#"
 (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
   (drop (call $reply (i32.const 403) (i32.const 4096) (i32.const 16) (i32.const 4120) (i32.const 4)
     (i32.const 4200) (i32.const {hl}) (i32.const -1)))
   (i32.const 1))
 (func (export "proxy_on_request_body") (param i32 i32 i32) (result i32)
   (drop (call $log (i32.const 2) (i32.const 4128) (i32.const 8)))
   (i32.const 0))
 (func (export "proxy_on_response_headers") (param i32 i32 i32) (result i32)
   (drop (call $addhdr (i32.const 2) (i32.const 4140) (i32.const 6) (i32.const 4150) (i32.const 3)))
   (i32.const 0))
 (func (export "proxy_on_response_body") (param $c i32) (param $size i32) (param $eos i32) (result i32)
   (drop (call $getbuf (i32.const 1) (i32.const 0) (local.get $size) (i32.const 256) (i32.const 260)))
   (call $logret)
   (i32.const 0))
 {}{}{}{}{}{}"#,
        seg(4096, b"denied by policy"),
        seg(4120, b"nope"),
        seg(4128, b"REQ BODY"),
        seg(4140, b"x-seen"),
        seg(4150, b"yes"),
        seg(4200, headers),
        hl = headers.len()
    )
}

#[test]
fn local_reply_passes_through_response_callbacks() {
    let headers = encode_pairs(&h(&[("x-why", "policy")]));
    let host = host(&local_reply_guest(&headers));
    let mut vm = vm(&host);
    let sr = StreamRequest::new(HttpRequest::json("POST", "/v1/chat", "{\"a\":1}"));
    let out = vm
        .http_stream(&sr, &mut |_: &HttpRequest| -> UpstreamResponse {
            panic!("upstream must not be reached")
        })
        .unwrap();
    assert!(out.local_reply);
    assert!(out.upstream_request.is_none());
    assert_eq!(out.local_reply_details.as_deref(), Some("denied_by_policy"));
    assert_eq!(out.response.status, 403);
    assert_eq!(out.response.body, b"nope");
    for (k, v) in [
        ("x-why", "policy"),
        ("x-seen", "yes"),
        ("content-length", "4"),
        ("content-type", "text/plain"),
    ] {
        assert_eq!(out.response.header(k), Some(v), "{k}");
    }
    // The body went through on_response_body; the request body never reached the filter.
    assert_eq!(messages(&vm.logs()), ["nope"]);
    let names: Vec<String> = vm.calls().iter().map(|c| c.name.clone()).collect();
    assert!(names.contains(&"proxy_send_local_response".to_string()));
}

fn http_call_guest(call_headers: &[u8]) -> String {
    format!(
        r#"
 (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
   (drop (call $hc (i32.const 4096) (i32.const 5) (i32.const 4200) (i32.const {hl})
     (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 500) (i32.const 268)))
   (i32.const 1))
 (func (export "proxy_on_http_call_response") (param $ctx i32) (param $tok i32) (param $nh i32) (param $nb i32) (param $nt i32)
   (if (i32.eqz (local.get $nh))
     (then
       (drop (call $reply (i32.const 503) (i32.const 0) (i32.const 0) (i32.const 4110) (i32.const 7)
         (i32.const 0) (i32.const 0) (i32.const -1))))
     (else
       (drop (call $gethdr (i32.const 6) (i32.const 4120) (i32.const 7) (i32.const 256) (i32.const 260)))
       (call $logret)
       (drop (call $getbuf (i32.const 4) (i32.const 0) (local.get $nb) (i32.const 256) (i32.const 260)))
       (call $logret)
       (drop (call $cont (i32.const 0))))))
 {}{}{}{}"#,
        seg(4096, b"authz"),
        seg(4110, b"timeout"),
        seg(4120, b":status"),
        seg(4200, call_headers),
        hl = call_headers.len()
    )
}

#[test]
fn http_call_response_and_timeout() {
    let hdrs = encode_pairs(&h(&[
        (":method", "GET"),
        (":path", "/check"),
        (":authority", "authz"),
    ]));
    // (cluster answer, expected client status, upstream reached, logs)
    let cases: Vec<(CallResponse, u16, bool, Vec<&str>)> = vec![
        (
            CallResponse::ok(200, &[], "allowed"),
            200,
            true,
            vec!["200", "allowed"],
        ),
        (CallResponse::Timeout, 503, false, vec![]),
    ];
    for (answer, status, reached, logs) in cases {
        let host = host(&http_call_guest(&hdrs));
        host.register_cluster("authz", move |_| answer.clone());
        let mut vm = vm(&host);
        let out = vm
            .http_stream(
                &StreamRequest::new(HttpRequest::json("GET", "/", "")),
                &mut |_: &HttpRequest| UpstreamResponse::new(200, &[], "up"),
            )
            .unwrap();
        assert_eq!(out.response.status, status);
        assert_eq!(out.upstream_request.is_some(), reached);
        assert_eq!(messages(&vm.logs()), logs);
        let sent = host.cluster_requests("authz");
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].header(":path"), Some("/check"));
        assert_eq!(sent[0].timeout_ms, 500);
    }
}

#[test]
fn http_call_argument_validation() {
    let host = host(OPS);
    host.register_cluster("known", |_| CallResponse::Timeout);
    let mut vm = vm(&host);
    let full = h(&[(":method", "GET"), (":path", "/"), (":authority", "a")]);
    let no_path = h(&[(":method", "GET"), (":authority", "a")]);
    type Case<'a> = (&'a str, &'a Vec<(String, String)>, Status);
    let cases: &[Case] = &[
        ("known", &full, Status::Ok),
        ("unknown", &full, Status::BadArgument),
        ("known", &no_path, Status::BadArgument),
    ];
    for (cluster, headers, want) in cases {
        let args = put(&mut vm, &[cluster.as_bytes(), &encode_pairs(headers)]);
        let root = vm.root_context();
        assert_eq!(ok(call(&mut vm, root, "hc", &args)), *want, "{cluster}");
    }
    assert_eq!(vm.dispatch_http_calls().unwrap(), 1);
}

#[test]
fn ticks_follow_the_controlled_clock() {
    let body = r#"
 (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
   (drop (call $tickp (i32.const 1000))) (i32.const 1))
 (func (export "proxy_on_tick") (param i32)
   (drop (call $log (i32.const 2) (i32.const 4096) (i32.const 4))))
"#;
    let host = host(&format!("{body}{OPS}{}", seg(4096, b"tick")));
    let mut a = vm(&host);
    let b = vm(&host);
    assert_eq!(host.clock().now_nanos(), DEFAULT_EPOCH_NANOS);
    host.advance_time(Duration::from_millis(3500)).unwrap();
    assert_eq!(messages(&a.logs()), ["tick"; 3]);
    assert_eq!(messages(&b.logs()), ["tick"; 3]);
    host.advance_time(Duration::from_millis(500)).unwrap();
    assert_eq!(a.logs().len(), 4);
    let root = a.root_context();
    call(&mut a, root, "now", &[]);
    let now = u64::from_le_bytes(a.read_memory(272, 8).unwrap().try_into().unwrap());
    assert_eq!(now, DEFAULT_EPOCH_NANOS + 4_000_000_000);
}

#[test]
fn properties() {
    let host = host(OPS);
    let mut vm = vm(&host);
    let ctx = vm.new_http_context("127.0.0.1:40000", "req-1").unwrap();
    let headers = h(&[
        (":authority", "api.local"),
        (":path", "/v1/chat?x=1"),
        (":method", "POST"),
        (":scheme", "http"),
    ]);
    vm.on_request_headers(ctx, headers, true).unwrap();
    let cases: &[(&str, Option<&[u8]>)] = &[
        ("source\0address", Some(b"127.0.0.1:40000")),
        ("source\0port", Some(&40000i64.to_le_bytes())),
        ("request\0path", Some(b"/v1/chat?x=1")),
        ("request\0url_path", Some(b"/v1/chat")),
        ("request\0method", Some(b"POST")),
        ("request\0host", Some(b"api.local")),
        ("request\0id\0", Some(b"req-1")),
        ("plugin_name", Some(b"psf-guard")),
        ("response\0code", None),
        ("no\0such", None),
    ];
    for (path, want) in cases {
        let args = put(&mut vm, &[path.as_bytes()]);
        let st = ok(call(&mut vm, ctx, "prop", &args));
        match want {
            Some(v) => {
                assert_eq!(st, Status::Ok, "{path:?}");
                assert_eq!(returned(&vm), *v, "{path:?}");
            }
            None => assert_eq!(st, Status::NotFound, "{path:?}"),
        }
    }
    vm.on_response_headers(ctx, h(&[(":status", "201")]), true)
        .unwrap();
    let args = put(&mut vm, &[b"response\0code"]);
    assert_eq!(ok(call(&mut vm, ctx, "prop", &args)), Status::Ok);
    assert_eq!(returned(&vm), 201i64.to_le_bytes());
}

#[test]
fn unexpected_calls_fail() {
    let host = host(OPS);
    let mut vm = vm(&host);
    let root = vm.root_context();
    vm.allow_only(&["proxy_log"]);
    let args = put(&mut vm, &[b"k"]);
    let err = vm.call_export(root, "get_sd", &args).unwrap_err();
    assert!(
        format!("{err:#}").contains("unexpected host call proxy_get_shared_data"),
        "{err:#}"
    );
    let err = vm.call_export(root, "grpc", &[]).unwrap_err();
    assert!(
        format!("{err:#}").contains("unexpected import env.proxy_grpc_call"),
        "{err:#}"
    );
    assert_eq!(vm.calls().last().unwrap().name, "env.proxy_grpc_call");
}

#[test]
fn lifecycle_configure_and_abi_check() {
    let body = r#"
 (func (export "proxy_on_configure") (param i32 i32) (result i32)
   (drop (call $getbuf (i32.const 7) (i32.const 0) (local.get 1) (i32.const 256) (i32.const 260)))
   (call $logret)
   (drop (call $getbuf (i32.const 6) (i32.const 0) (i32.const 100) (i32.const 256) (i32.const 260)))
   (call $logret)
   (i32.const 0))
"#;
    let host = host(body);
    let vm = host
        .start_vm(VmConfig {
            plugin_config: b"{\"p\":1}".to_vec(),
            vm_config: b"vmcfg".to_vec(),
            ..VmConfig::default()
        })
        .unwrap();
    assert!(!vm.configured());
    assert_eq!(messages(&vm.logs()), ["{\"p\":1}", "vmcfg"]);
    let no_abi = r#"(module (memory (export "memory") 1))"#;
    let err = Host::from_bytes(no_abi.as_bytes())
        .unwrap()
        .start_vm(VmConfig::default());
    assert!(format!("{:#}", err.err().unwrap()).contains("proxy_abi_version_0_2_1"));
}

#[test]
fn real_filter_smoke() {
    let wasm = psf_host::wasm_path().unwrap();
    let policy =
        std::fs::read(psf_host::repo_root().join("policies/default.json")).unwrap_or_default();
    let host = Host::from_file(&wasm).unwrap();
    let mut vm = host
        .start_vm(VmConfig {
            plugin_config: policy,
            allow_on_headers_stop_iteration: true,
            ..VmConfig::default()
        })
        .unwrap();
    if !vm.configured() {
        eprintln!("filter rejected policies/default.json: {:?}", vm.logs());
        return;
    }
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hello"}]}"#;
    let mut sr = StreamRequest::new(HttpRequest::json("POST", "/v1/chat/completions", body));
    sr.chunks = vec![16];
    let answer = r#"{"choices":[{"message":{"role":"assistant","content":"hi"}}]}"#;
    let out = vm
        .http_stream(&sr, &mut |_: &HttpRequest| {
            UpstreamResponse::new(200, &[("content-type", "application/json")], answer)
        })
        .unwrap();
    assert_eq!(out.response.status, 200, "{out:?}");
    assert_eq!(out.upstream_request.unwrap().body, body.as_bytes());
    assert_eq!(out.response.body, answer.as_bytes());
    assert!(vm.logs().iter().any(|l| l.message.contains("psf.audit")));
    // Over the default 1MiB request-body limit: blocked before the upstream.
    let big = format!(
        r#"{{"messages":[{{"role":"user","content":"{}"}}]}}"#,
        "a".repeat(1_100_000)
    );
    let mut sr = StreamRequest::new(HttpRequest::json("POST", "/v1/chat/completions", big));
    sr.chunks = vec![65536; 20];
    let out = vm
        .http_stream(&sr, &mut |_: &HttpRequest| {
            UpstreamResponse::new(200, &[], answer)
        })
        .unwrap();
    assert_eq!(out.response.status, 413, "{:?}", out.response.headers);
    assert!(out.local_reply);
    assert!(out.upstream_request.is_none());
}

#[test]
fn shared_queue_across_vms() {
    let body = r#"
 (func (export "proxy_on_queue_ready") (param i32 i32)
   (drop (call $deq (local.get 1) (i32.const 256) (i32.const 260)))
   (call $logret))
"#;
    let host = host(&format!("{body}{OPS}"));
    let mut a = vm(&host);
    let mut b = vm(&host);
    let root = a.root_context();
    let args = put(&mut a, &[b"q"]);
    assert_eq!(ok(call(&mut a, root, "regq", &args)), Status::Ok);
    let token = u32_at(&a, 280) as i32;
    let args = put(&mut b, &[b"psf-guard", b"q"]);
    assert_eq!(ok(call(&mut b, root, "resq", &args)), Status::Ok);
    assert_eq!(u32_at(&b, 280) as i32, token);
    let args = put(&mut b, &[b"psf-guard", b"nope"]);
    assert_eq!(ok(call(&mut b, root, "resq", &args)), Status::NotFound);
    let args = put(&mut b, &[b"hello"]);
    assert_eq!(
        ok(call(&mut b, root, "enq", &[token, args[0], args[1]])),
        Status::Ok
    );
    assert_eq!(
        ok(call(&mut b, root, "enq", &[token + 100, args[0], args[1]])),
        Status::NotFound
    );
    host.deliver_queue_ready().unwrap();
    assert_eq!(messages(&a.logs()), ["hello"]);
    assert!(b.logs().is_empty());
    assert_eq!(ok(call(&mut a, root, "deq", &[token])), Status::Empty);
}

#[test]
fn paused_stream_without_resume_is_an_error() {
    let body = r#"
 (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32) (i32.const 1))
"#;
    let host = host(body);
    let mut vm = vm(&host);
    let err = vm
        .http_stream(
            &StreamRequest::new(HttpRequest::json("GET", "/", "")),
            &mut |_: &HttpRequest| UpstreamResponse::new(200, &[], ""),
        )
        .unwrap_err();
    assert!(format!("{err:#}").contains("stalled"), "{err:#}");
}

#[test]
fn response_streams_chunk_by_chunk_and_host_is_thread_safe() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Host>();
    send_sync::<Vm>();
    let host = host("");
    let mut vm = vm(&host);
    let out = vm
        .http_stream(
            &StreamRequest::new(HttpRequest::json("GET", "/", "")),
            &mut |_: &HttpRequest| UpstreamResponse {
                status: 200,
                headers: h(&[("content-type", "text/event-stream")]),
                chunks: vec![b"data: 1\n\n".to_vec(), b"data: 2\n\n".to_vec()],
                trailers: h(&[("x-t", "1")]),
            },
        )
        .unwrap();
    assert_eq!(
        out.response_chunks,
        [b"data: 1\n\n".to_vec(), b"data: 2\n\n".to_vec()]
    );
    assert_eq!(out.response_trailers, h(&[("x-t", "1")]));
}
