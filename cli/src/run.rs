//! `psf-guard run`: one request through the filter, showing what each side saw.

use super::{args::Args, load_host, start_player, EXIT_INVALID};
use anyhow::Context as _;
use psf_host::host::StreamRequest;
use psf_host::mock_llm::MockContext;
use psf_host::play::{fixed_upstream, mock_upstream};
use psf_host::HttpRequest;
use std::process::ExitCode;

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    args.only(&[
        "wasm",
        "policy",
        "request",
        "response",
        "response-sse",
        "status",
        "path",
        "method",
        "header",
        "chunked",
    ])?;
    let policy_file = args.required("policy")?;
    let policy = std::fs::read(policy_file).with_context(|| format!("reading {policy_file}"))?;
    let request_file = args.required("request")?;
    let body = std::fs::read(request_file).with_context(|| format!("reading {request_file}"))?;
    let mut request = HttpRequest::json(
        args.value("method").unwrap_or("POST"),
        args.value("path").unwrap_or("/v1/chat/completions"),
        body,
    );
    for header in args.values("header") {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| anyhow::anyhow!("--header {header:?}: expected 'name: value'"))?;
        request
            .headers
            .push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let mut stream = StreamRequest::new(request);
    if args.switch("chunked") {
        // No content-length: the filter must measure the body as it arrives.
        stream
            .request
            .headers
            .retain(|(n, _)| n != "content-length");
        stream
            .request
            .headers
            .push(("transfer-encoding".into(), "chunked".into()));
        stream.chunks = vec![64 * 1024; stream.request.body.len() / (64 * 1024)];
    } else {
        let length = stream.request.body.len().to_string();
        stream
            .request
            .headers
            .push(("content-length".into(), length));
    }
    let status: u16 = match args.value("status") {
        Some(s) => s.parse().with_context(|| format!("--status {s:?}"))?,
        None => 200,
    };

    let Some(mut player) = start_player(&load_host(args)?, &policy, policy_file)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let played = if let Some(file) = args.value("response") {
        let body = std::fs::read(file).with_context(|| format!("reading {file}"))?;
        player.play(
            &stream,
            &mut fixed_upstream(status, "application/json", body),
        )?
    } else if let Some(file) = args.value("response-sse") {
        let body = std::fs::read(file).with_context(|| format!("reading {file}"))?;
        player.play(
            &stream,
            &mut fixed_upstream(status, "text/event-stream", body),
        )?
    } else {
        player.play(&stream, &mut mock_upstream(MockContext::default()))?
    };

    println!("== upstream received ==");
    match &played.outcome.upstream_request {
        Some(seen) => {
            println!("{} {}", seen.method, seen.path);
            print_headers(&seen.headers);
            println!();
            println!("{}", String::from_utf8_lossy(&seen.body));
        }
        None => println!("(nothing: the filter answered the client itself)"),
    }
    println!();
    println!("== client received ==");
    let response = &played.outcome.response;
    println!("{}", response.status);
    print_headers(&response.headers);
    println!();
    println!("{}", String::from_utf8_lossy(&response.body));
    println!();
    println!("== decision ==");
    match &played.record {
        Some(record) => println!("{record}"),
        None => println!("(no decision record was logged)"),
    }
    Ok(ExitCode::SUCCESS)
}

fn print_headers(headers: &[(String, String)]) {
    for (name, value) in headers {
        println!("{name}: {value}");
    }
}
