//! `proxy_get_property` paths with Envoy's encodings (envoy
//! source/extensions/common/wasm/context.cc `getProperty`/`serializeValue`):
//! strings as raw UTF-8, integers and timestamps as 8-byte little-endian i64,
//! booleans as one byte, maps as ABI pairs.

use super::memory::encode_pairs;
use super::state::VmState;
use super::types::Headers;

/// Splits an ABI property path: segments separated by NUL (the Rust SDK drops the
/// trailing NUL, the C++ SDK keeps it), joined with `.` for lookup.
pub fn path_key(raw: &[u8]) -> String {
    raw.split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect::<Vec<_>>()
        .join(".")
}

fn int(v: i64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn header<'a>(h: &'a Headers, name: &str) -> Option<&'a str> {
    crate::message::find_header(h, name)
}

fn port_of(addr: &str) -> Option<i64> {
    addr.rsplit_once(':').and_then(|(_, p)| p.parse().ok())
}

/// The value of `key` for the current context, or None (→ NotFound).
pub fn lookup(state: &VmState, key: &str) -> Option<Vec<u8>> {
    let cfg = &state.config;
    let plugin = match key {
        "plugin_name" => Some(cfg.plugin_name.clone().into_bytes()),
        "plugin_root_id" => Some(cfg.root_id.clone().into_bytes()),
        "plugin_vm_id" => Some(cfg.vm_id.clone().into_bytes()),
        "node.id" => Some(cfg.node_id.clone().into_bytes()),
        "node.cluster" => Some(cfg.node_cluster.clone().into_bytes()),
        "listener_direction" => Some(int(1)), // INBOUND
        _ => None,
    };
    if plugin.is_some() {
        return plugin;
    }
    let Some(s) = state.stream() else {
        return state.root_props.get(key).cloned();
    };
    if let Some(v) = s.props.get(key) {
        return Some(v.clone());
    }
    let rh = s.request_headers.as_ref();
    let rq = |name: &str| {
        rh.and_then(|h| header(h, name))
            .map(|v| v.as_bytes().to_vec())
    };
    match key {
        "source.address" => Some(s.source_address.clone().into_bytes()),
        "source.port" => port_of(&s.source_address).map(int),
        "destination.address" => Some(s.destination_address.clone().into_bytes()),
        "destination.port" => port_of(&s.destination_address).map(int),
        "connection.mtls" => Some(vec![0]),
        "request.path" => rq(":path"),
        "request.url_path" => rh
            .and_then(|h| header(h, ":path"))
            .map(|p| p.split('?').next().unwrap_or(p).as_bytes().to_vec()),
        "request.query" => rh.and_then(|h| header(h, ":path")).map(|p| {
            p.split_once('?')
                .map(|(_, q)| q)
                .unwrap_or("")
                .as_bytes()
                .to_vec()
        }),
        "request.method" => rq(":method"),
        "request.host" => rq(":authority"),
        "request.scheme" => rq(":scheme"),
        "request.id" => Some(s.request_id.clone().into_bytes()),
        "request.protocol" => Some(b"HTTP/1.1".to_vec()),
        "request.time" => Some(int(s.start_nanos as i64)),
        "request.useragent" => rq("user-agent"),
        "request.referer" => rq("referer"),
        "request.headers" => rh.map(|h| encode_pairs(h)),
        "response.code" => s.response_code.map(|c| int(i64::from(c))),
        "response.headers" => s.response_headers.as_ref().map(|h| encode_pairs(h)),
        _ => {
            if let Some(name) = key.strip_prefix("request.headers.") {
                return rq(name);
            }
            if let Some(name) = key.strip_prefix("response.headers.") {
                return s
                    .response_headers
                    .as_ref()
                    .and_then(|h| header(h, name))
                    .map(|v| v.as_bytes().to_vec());
            }
            state.root_props.get(key).cloned()
        }
    }
}
