//! Guest memory access and the ABI's serialisation formats.

use anyhow::anyhow;
use wasmtime::{Caller, Extern, Memory};

use super::ah;
use super::state::VmState;
use super::types::{Headers, Status};

/// Result of a host function body: a guest-visible status, or a trap.
pub enum Fail {
    Status(Status),
    Trap(anyhow::Error),
}

impl From<Status> for Fail {
    fn from(s: Status) -> Self {
        Fail::Status(s)
    }
}

impl From<anyhow::Error> for Fail {
    fn from(e: anyhow::Error) -> Self {
        Fail::Trap(e)
    }
}

pub type HResult<T> = Result<T, Fail>;

fn memory(caller: &mut Caller<'_, VmState>) -> HResult<Memory> {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => Ok(m),
        _ => Err(Fail::Trap(anyhow!("guest does not export `memory`"))),
    }
}

/// Copies `len` bytes at `ptr` out of guest memory.
pub fn read(caller: &mut Caller<'_, VmState>, ptr: i32, len: i32) -> HResult<Vec<u8>> {
    let mem = memory(caller)?;
    let data = mem.data(&caller);
    let (start, len) = (ptr as u32 as usize, len as u32 as usize);
    let end = start.checked_add(len).ok_or(Status::InvalidMemoryAccess)?;
    data.get(start..end)
        .map(<[u8]>::to_vec)
        .ok_or(Fail::Status(Status::InvalidMemoryAccess))
}

/// Reads a string (lossy UTF-8: header values may be arbitrary bytes).
pub fn read_str(caller: &mut Caller<'_, VmState>, ptr: i32, len: i32) -> HResult<String> {
    Ok(String::from_utf8_lossy(&read(caller, ptr, len)?).into_owned())
}

/// Writes `bytes` at `ptr`.
pub fn write(caller: &mut Caller<'_, VmState>, ptr: i32, bytes: &[u8]) -> HResult<()> {
    let mem = memory(caller)?;
    let start = ptr as u32 as usize;
    let end = start
        .checked_add(bytes.len())
        .ok_or(Status::InvalidMemoryAccess)?;
    let slot = mem
        .data_mut(caller)
        .get_mut(start..end)
        .ok_or(Status::InvalidMemoryAccess)?;
    slot.copy_from_slice(bytes);
    Ok(())
}

pub fn write_u32(caller: &mut Caller<'_, VmState>, ptr: i32, v: u32) -> HResult<()> {
    write(caller, ptr, &v.to_le_bytes())
}

pub fn read_u32(caller: &mut Caller<'_, VmState>, ptr: i32) -> HResult<u32> {
    let b = read(caller, ptr, 4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Allocates guest memory through `proxy_on_memory_allocate` (falling back to
/// `malloc`, as proxy-wasm-cpp-host does for older SDKs).
pub fn alloc(caller: &mut Caller<'_, VmState>, size: usize) -> HResult<i32> {
    let func = caller
        .get_export("proxy_on_memory_allocate")
        .or_else(|| caller.get_export("malloc"))
        .and_then(Extern::into_func)
        .ok_or_else(|| anyhow!("guest exports neither proxy_on_memory_allocate nor malloc"))?;
    let func = func
        .typed::<i32, i32>(&caller)
        .map_err(|e| Fail::Trap(ah(e)))?;
    let ptr = func
        .call(&mut *caller, size as i32)
        .map_err(|e| Fail::Trap(ah(e)))?;
    if ptr == 0 {
        return Err(Status::InvalidMemoryAccess.into());
    }
    Ok(ptr)
}

/// Hands `bytes` to the guest: allocates, copies, writes pointer and size.
/// Like proxy-wasm-cpp-host `copyToPointerSize`, empty data is returned as
/// (0, 0) without allocating.
pub fn return_bytes(
    caller: &mut Caller<'_, VmState>,
    bytes: &[u8],
    ptr_ptr: i32,
    size_ptr: i32,
) -> HResult<()> {
    let ptr = if bytes.is_empty() {
        0
    } else {
        let p = alloc(caller, bytes.len())?;
        write(caller, p, bytes)?;
        p
    };
    write_u32(caller, ptr_ptr, ptr as u32)?;
    write_u32(caller, size_ptr, bytes.len() as u32)
}

/// ABI pair serialisation: u32 count, (u32 key_len, u32 value_len) per pair, then
/// each key and value followed by a NUL.
pub fn encode_pairs(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
    }
    for (k, v) in pairs {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Inverse of [`encode_pairs`]; malformed input is a BadArgument.
pub fn decode_pairs(bytes: &[u8]) -> Result<Headers, Status> {
    let word = |at: usize| -> Result<usize, Status> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(Status::BadArgument)
    };
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let count = word(0)?;
    let mut sizes = Vec::with_capacity(count.min(1024));
    for i in 0..count {
        sizes.push((word(4 + i * 8)?, word(8 + i * 8)?));
    }
    let mut at = 4 + count * 8;
    let mut take = |n: usize| -> Result<String, Status> {
        let s = bytes.get(at..at + n).ok_or(Status::BadArgument)?;
        let s = String::from_utf8_lossy(s).into_owned();
        at += n + 1; // skip the NUL
        Ok(s)
    };
    let mut out = Vec::with_capacity(sizes.len());
    for (kl, vl) in sizes {
        let k = take(kl)?;
        let v = take(vl)?;
        out.push((k, v));
    }
    Ok(out)
}
