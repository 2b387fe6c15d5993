//! `psf-guard envoy-config`: an Envoy config that loads the filter with a given policy,
//! so developers can try a policy against a local Envoy in one step.

use super::args::Args;
use anyhow::Context as _;
use psf_host::envoy::EnvoyConfig;
use std::process::ExitCode;

pub fn envoy_config(args: &Args) -> anyhow::Result<ExitCode> {
    args.only(&[
        "policy",
        "wasm",
        "listen",
        "upstream",
        "admin",
        "passthrough",
    ])?;
    let mut config = EnvoyConfig::default();
    if let Some(file) = args.value("policy") {
        config.policy_json =
            std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
    }
    if let Some(wasm) = args.value("wasm") {
        config.wasm_file = wasm.into();
    }
    for (flag, port) in [
        ("listen", &mut config.listener_port),
        ("upstream", &mut config.upstream_port),
        ("admin", &mut config.admin_port),
    ] {
        if let Some(value) = args.value(flag) {
            *port = value
                .parse()
                .with_context(|| format!("--{flag} {value:?} is not a port"))?;
        }
    }
    config.passthrough = args.switch("passthrough");
    print!("{}", config.render()?);
    Ok(ExitCode::SUCCESS)
}
