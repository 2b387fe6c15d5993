//! The `psf-guard` command line: checks policies, runs the real `.wasm` in the embedded
//! wasmtime host (`run`, `eval`, no Envoy needed), renders Envoy configs, reports PSF
//! coverage and maintains audit trails. See `psf-guard help`.

mod approve;
mod args;
mod audit;
mod check;
mod coverage;
mod envoy_config;
mod eval;
mod eval_detect;
mod eval_fpr;
mod eval_pii;
mod eval_report;
mod run;

use args::Args;
use std::process::ExitCode;

const USAGE: &str = "\
psf-guard: run the psf-guard filter (.wasm) on policies and requests without a proxy

usage:
  psf-guard check POLICY.json...                  validate policies; exit 2 listing `path: reason`
  psf-guard run --policy P --request REQ.json     play one request through the filter
        [--response RESP.json | --response-sse RESP.sse] [--status N]
        [--path /v1/chat/completions] [--method POST] [--header 'name: value']... [--chunked]
  psf-guard eval --policy P --input ROWS.jsonl [--output OUT.jsonl] [--api chat|responses|messages]
                                                  one verdict line per {id, direction, text, role?} row
                                                  (role: user, system, tool or retrieved), with
                                                  learned scores and entity spans
  psf-guard eval --report --policy P --input ROWS.jsonl [--task injection] [--paranoia 1,2,3,4]
                                                  recall and false positives per level and source,
                                                  and recall at 1, 2 and 5 % false positives
  psf-guard eval --report --policy P --input ROWS.jsonl --task pii
                                                  per-entity recall and precision of pii and secret rows
  psf-guard eval --report --policy P --input ROWS.jsonl --task refusal|harmful_response|harm
                                                  recall and precision; recall at fixed false positives
  psf-guard envoy-config [--policy P] [--wasm FILE] [--listen PORT] [--upstream PORT]
        [--admin PORT] [--passthrough]            print an Envoy config that loads the filter
  psf-guard coverage POLICY.json [--format md|json] [--strict] [--framework FILE]
                                                  PSF competencies the policy enforces or leaves off;
                                                  --strict exits 1 when a supported one is off
  psf-guard approve --ticket T --key K [--ttl-seconds 3600]
                                                  a reviewer's x-psf-approval for a held tool call
  psf-guard audit verify [--sign-key K] FILE...   check the audit trail's chains; exit 1 naming each break
  psf-guard audit prune --now T [--sign-key K] FILE...
                                                  remove records past their retention_until
  psf-guard audit erase --subject ID --key K [--sign-key K] FILE...
                                                  remove one data subject's records
                                                  (`psf-guard audit help` for details)

options for every command that runs the filter:
  --wasm FILE   the filter to run (default: $PSF_GUARD_WASM, else dist/psf_guard.wasm)
";

/// Exit status for a refused policy or bad usage, as documented.
const EXIT_INVALID: u8 = 2;

fn main() -> ExitCode {
    run_command(std::env::args().skip(1).collect())
}

/// Runs the CLI on `argv` (without the program name).
fn run_command(argv: Vec<String>) -> ExitCode {
    let Some((command, rest)) = argv.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(EXIT_INVALID);
    };
    let rest = match command.as_str() {
        "coverage" => coverage::spell_switches(rest),
        _ => rest.to_vec(),
    };
    let args = match Args::parse(&rest) {
        Ok(args) => args,
        Err(message) => return usage_error(&message),
    };
    let result = match command.as_str() {
        "check" => check::check(&args),
        "run" => run::run(&args),
        "eval" => eval::eval(&args),
        "envoy-config" => envoy_config::envoy_config(&args),
        "audit" => audit::audit(&args),
        "coverage" => coverage::coverage(&args),
        "approve" => approve::approve(&args),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => return usage_error(&format!("unknown command {other:?}")),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("psf-guard {command}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("psf-guard: {message}\n\n{USAGE}");
    ExitCode::from(EXIT_INVALID)
}

/// Loads the filter named by `--wasm`, or the default build.
fn load_host(args: &Args) -> anyhow::Result<psf_host::host::Host> {
    let path = match args.value("wasm") {
        Some(path) => std::path::PathBuf::from(path),
        None => psf_host::wasm_path()?,
    };
    psf_host::host::Host::from_file(&path)
}

/// A player for `policy`, or `None` after listing why the filter refused it.
fn start_player(
    host: &psf_host::host::Host,
    policy: &[u8],
    policy_file: &str,
) -> anyhow::Result<Option<psf_host::play::Player>> {
    match psf_host::play::Player::start(host, policy)? {
        Ok((player, _)) => Ok(Some(player)),
        Err(refused) => {
            eprintln!("{policy_file}: invalid policy:");
            for error in refused.errors {
                eprintln!("  {error}");
            }
            Ok(None)
        }
    }
}
