//! `mock-llm --port N [--log FILE] [--replies DIR]`: the scripted LLM upstream on
//! 127.0.0.1, for running Envoy and the filter by hand or from scripts.

use anyhow::{bail, Context};
use psf_host::mock_llm::{spawn, MockContext, MockOptions};
use std::io::Write;
use std::path::PathBuf;

const USAGE: &str = "usage: mock-llm [--port N (default 10001, 0 = free port)] \
[--log FILE (default mock-llm.jsonl)] [--replies DIR (default examples/replies)]";

fn main() -> anyhow::Result<()> {
    let mut opts = MockOptions {
        port: 10001,
        log: Some(PathBuf::from("mock-llm.jsonl")),
        ctx: MockContext::default(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--port" => opts.port = value()?.parse().context("--port must be a number")?,
            "--log" => opts.log = Some(PathBuf::from(value()?)),
            "--replies" => opts.ctx.replies_dir = PathBuf::from(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let mock = spawn(opts)?;
    let mut out = std::io::stdout();
    writeln!(out, "mock-llm listening on {}", mock.addr())?;
    out.flush()?;
    // Serve until killed; the server threads do the work.
    loop {
        std::thread::park();
    }
}
