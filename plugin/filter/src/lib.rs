//! psf-guard: the proxy-wasm adapter. It only translates host events into `psf_engine`
//! calls and carries out the engine's steps; every decision lives in the engine.

mod host;
mod root;
mod shared;
mod stream;

use proxy_wasm::types::LogLevel;
use psf_engine::proxy::{event_line, Level};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    // Replaces the SDK's hook, which unwraps the log status: a panic must always reach
    // the proxy's log at critical level, and then aborts the VM (panic = "abort").
    std::panic::set_hook(Box::new(|info| {
        let fields = serde_json::json!({"message": info.to_string()});
        let line = event_line(Level::Critical, "panic", fields);
        let _ = proxy_wasm::hostcalls::log(LogLevel::Critical, &line);
    }));
    proxy_wasm::set_root_context(|_| Box::new(root::GuardRoot::default()));
}}
