//! `psf-guard check`: the filter's own `on_configure` decides, so the CLI can never
//! disagree with what Envoy will accept.

use super::{args::Args, load_host, EXIT_INVALID};
use psf_host::play::Player;
use std::process::ExitCode;

pub fn check(args: &Args) -> anyhow::Result<ExitCode> {
    args.only(&["wasm"])?;
    if args.positional.is_empty() {
        anyhow::bail!("name at least one policy file");
    }
    let host = load_host(args)?;
    let mut all_valid = true;
    for file in &args.positional {
        let document = match std::fs::read(file) {
            Ok(document) => document,
            Err(error) => {
                eprintln!("{file}: cannot read: {error}");
                all_valid = false;
                continue;
            }
        };
        match Player::start(&host, &document)? {
            Ok((_, summary)) => println!("{file}: ok: {summary}"),
            Err(refused) => {
                all_valid = false;
                eprintln!(
                    "{file}: invalid policy ({} error(s)):",
                    refused.errors.len()
                );
                for error in &refused.errors {
                    eprintln!("  {error}");
                }
            }
        }
    }
    Ok(if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}
