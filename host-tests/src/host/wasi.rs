//! The `wasi_snapshot_preview1` functions a Rust wasm32-wasip1 cdylib imports,
//! implemented in-house (no wasmtime-wasi): no filesystem, no environment,
//! deterministic randomness, the test clock, stdout/stderr into the log capture.
//! Envoy's own host (proxy-wasm-cpp-host src/exports.cc) offers the same minimal set.

use anyhow::Result;
use wasmtime::{Caller, Linker};

use super::abi::enter;
use super::memory::{read, read_u32, write, write_u32, Fail};
use super::state::VmState;
use super::types::{LogEntry, LogLevel, LogSource};
use super::{ah, wt};

const ESUCCESS: i32 = 0;
const EBADF: i32 = 8;
const EINVAL: i32 = 28;
const EFAULT: i32 = 21;

/// Every WASI function this host implements.
pub const WASI_FUNCTIONS: &[&str] = &[
    "fd_write",
    "environ_get",
    "environ_sizes_get",
    "args_get",
    "args_sizes_get",
    "proc_exit",
    "random_get",
    "clock_time_get",
    "clock_res_get",
    "sched_yield",
    "fd_close",
    "fd_seek",
    "fd_fdstat_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
];

const M: &str = "wasi_snapshot_preview1";

/// WASI errors are errno values; guest memory faults map to EFAULT.
fn errno(r: Result<(), Fail>) -> wasmtime::Result<i32> {
    match r {
        Ok(()) => Ok(ESUCCESS),
        Err(Fail::Status(_)) => Ok(EFAULT),
        Err(Fail::Trap(e)) => Err(wt(e)),
    }
}

pub fn add_to_linker(l: &mut Linker<VmState>) -> Result<()> {
    l.func_wrap(
        M,
        "fd_write",
        |mut c: Caller<'_, VmState>,
         fd: i32,
         iovs: i32,
         n: i32,
         ret: i32|
         -> wasmtime::Result<i32> {
            enter(&mut c, "fd_write")?;
            if fd != 1 && fd != 2 {
                return Ok(EBADF);
            }
            errno((|| {
                let mut bytes = Vec::new();
                for i in 0..n {
                    let ptr = read_u32(&mut c, iovs + i * 8)?;
                    let len = read_u32(&mut c, iovs + i * 8 + 4)?;
                    bytes.extend(read(&mut c, ptr as i32, len as i32)?);
                }
                write_u32(&mut c, ret, bytes.len() as u32)?;
                let text = String::from_utf8_lossy(&bytes);
                let (source, level) = if fd == 1 {
                    (LogSource::Stdout, LogLevel::Info)
                } else {
                    (LogSource::Stderr, LogLevel::Error)
                };
                let st = c.data_mut();
                let vm = st.config.vm_id.clone();
                let message = text.trim_end_matches('\n').to_string();
                if !message.is_empty() {
                    st.logs.push(LogEntry {
                        level,
                        message,
                        source,
                        vm,
                    });
                }
                Ok(())
            })())
        },
    )
    .map_err(ah)?;
    for name in ["environ_sizes_get", "args_sizes_get"] {
        l.func_wrap(
            M,
            name,
            move |mut c: Caller<'_, VmState>, count: i32, size: i32| -> wasmtime::Result<i32> {
                enter(&mut c, name)?;
                errno(write_u32(&mut c, count, 0).and_then(|_| write_u32(&mut c, size, 0)))
            },
        )
        .map_err(ah)?;
    }
    for name in ["environ_get", "args_get"] {
        l.func_wrap(
            M,
            name,
            move |mut c: Caller<'_, VmState>, _a: i32, _b: i32| -> wasmtime::Result<i32> {
                enter(&mut c, name)?;
                Ok(ESUCCESS)
            },
        )
        .map_err(ah)?;
    }
    l.func_wrap(
        M,
        "proc_exit",
        |mut c: Caller<'_, VmState>, code: i32| -> wasmtime::Result<()> {
            enter(&mut c, "proc_exit")?;
            Err(wasmtime::Error::msg(format!(
                "guest called proc_exit({code})"
            )))
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "random_get",
        |mut c: Caller<'_, VmState>, buf: i32, len: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "random_get")?;
            let mut bytes = Vec::with_capacity(len as u32 as usize);
            while bytes.len() < len as u32 as usize {
                bytes.extend_from_slice(&c.data_mut().next_random().to_le_bytes());
            }
            bytes.truncate(len as u32 as usize);
            errno(write(&mut c, buf, &bytes))
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "clock_time_get",
        |mut c: Caller<'_, VmState>, id: i32, _precision: i64, ret: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "clock_time_get")?;
            let clock = &c.data().host.clock;
            let now = match id {
                0 => clock.now_nanos(),
                1..=3 => clock.monotonic_nanos(),
                _ => return Ok(EINVAL),
            };
            errno(write(&mut c, ret, &now.to_le_bytes()))
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "clock_res_get",
        |mut c: Caller<'_, VmState>, _id: i32, ret: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "clock_res_get")?;
            errno(write(&mut c, ret, &1u64.to_le_bytes()))
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "sched_yield",
        |mut c: Caller<'_, VmState>| -> wasmtime::Result<i32> {
            enter(&mut c, "sched_yield")?;
            Ok(ESUCCESS)
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "fd_close",
        |mut c: Caller<'_, VmState>, _fd: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "fd_close")?;
            Ok(EBADF)
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "fd_seek",
        |mut c: Caller<'_, VmState>,
         _fd: i32,
         _off: i64,
         _whence: i32,
         _ret: i32|
         -> wasmtime::Result<i32> {
            enter(&mut c, "fd_seek")?;
            Ok(EBADF)
        },
    )
    .map_err(ah)?;
    // stdio are character devices (filetype 2) so std's stdout works; no other fds.
    l.func_wrap(
        M,
        "fd_fdstat_get",
        |mut c: Caller<'_, VmState>, fd: i32, ret: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "fd_fdstat_get")?;
            if !(0..=2).contains(&fd) {
                return Ok(EBADF);
            }
            let mut stat = [0u8; 24];
            stat[0] = 2;
            errno(write(&mut c, ret, &stat))
        },
    )
    .map_err(ah)?;
    // No preopens: EBADF on fd 3 ends std's preopen scan.
    l.func_wrap(
        M,
        "fd_prestat_get",
        |mut c: Caller<'_, VmState>, _fd: i32, _ret: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "fd_prestat_get")?;
            Ok(EBADF)
        },
    )
    .map_err(ah)?;
    l.func_wrap(
        M,
        "fd_prestat_dir_name",
        |mut c: Caller<'_, VmState>, _fd: i32, _p: i32, _n: i32| -> wasmtime::Result<i32> {
            enter(&mut c, "fd_prestat_dir_name")?;
            Ok(EBADF)
        },
    )
    .map_err(ah)?;
    Ok(())
}
