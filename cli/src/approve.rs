//! `psf-guard approve --ticket T --key K [--ttl-seconds N]`: a reviewer's approval of a held
//! tool call (PSF HO-2), as the `x-psf-approval` header the client replays its request with.

use super::args::Args;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn approve(args: &Args) -> anyhow::Result<ExitCode> {
    let ticket = args.required("ticket")?;
    let key = args.required("key")?;
    let ttl: u64 = args.value("ttl-seconds").unwrap_or("3600").parse()?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let value = psf_engine::controls::review::approval(key, ticket, now + ttl);
    println!("x-psf-approval: {value}");
    Ok(ExitCode::SUCCESS)
}
