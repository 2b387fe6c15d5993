//! The filter as any proxy-wasm host runs it: host events in, [`Effects`] out.
//!
//! The host adapter (`plugin/filter`) owns one [`Vm`] per root context and one [`Stream`]
//! per HTTP stream. For each host event it calls the matching method with a [`HostReads`]
//! over what the host can read, then carries out the returned effects in order and nothing
//! else; every decision, header name and metric name lives here, tested natively.

mod effects;
mod posts;
mod reads;
mod stream;
mod vm;

pub use effects::{event_line, Call, Effect, Effects, Flow, Level, Report, Side};
pub use reads::{HostReads, Part};
pub use stream::Stream;
pub use vm::{Vm, TICK_MS};
