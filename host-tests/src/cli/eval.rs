//! `psf-guard eval`: labelled rows in, one verdict line per row out, through the real `.wasm`.
//!
//! A `request` row becomes the user message of a chat-completions request; a `response`
//! row becomes the assistant message of a chat-completions response.

use super::{args::Args, load_host, start_player, EXIT_INVALID};
use crate::host::StreamRequest;
use crate::play::{fixed_upstream, Player};
use crate::HttpRequest;
use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

/// An input row; other fields are ignored.
#[derive(Deserialize)]
pub(super) struct Row {
    pub id: Value,
    pub direction: Direction,
    pub text: String,
    /// Labelled rows also name their task, label and source (for `--report`).
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// Labelled PII and secrets (`pii` and `secret` rows).
    #[serde(default)]
    pub entities: Option<Vec<LabelledEntity>>,
}

/// One labelled entity of a row; only its type is used.
#[derive(Deserialize)]
pub(super) struct LabelledEntity {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(super) enum Direction {
    Request,
    Response,
}

const MODEL: &str = "gpt-4o-mini";
const NEUTRAL_PROMPT: &str = "Hello.";
const NEUTRAL_REPLY: &str = "Hello! How can I help?";

pub fn eval(args: &Args) -> anyhow::Result<ExitCode> {
    if args.switch("report") {
        return super::eval_report::report(args);
    }
    args.only(&["wasm", "policy", "input", "output"])?;
    let policy_file = args.required("policy")?;
    let policy = std::fs::read(policy_file).with_context(|| format!("reading {policy_file}"))?;
    let input_file = args.required("input")?;
    let input = std::fs::File::open(input_file).with_context(|| format!("reading {input_file}"))?;
    let mut output: Box<dyn Write> = match args.value("output") {
        Some(path) => Box::new(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {path}"))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };

    let Some(mut player) = start_player(&load_host(args)?, &policy, policy_file)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };

    let mut bad_rows = 0usize;
    for (index, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line = line.with_context(|| format!("{input_file}: line {}", index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = match serde_json::from_str(&line) {
            Ok(row) => row,
            Err(error) => {
                eprintln!("{input_file}: line {}: {error}", index + 1);
                bad_rows += 1;
                continue;
            }
        };
        let verdict = eval_row(&mut player, &row)?;
        writeln!(output, "{verdict}")?;
    }
    output.flush()?;
    Ok(if bad_rows == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

/// Plays one row through the filter: its verdict line.
pub(super) fn eval_row(player: &mut Player, row: &Row) -> anyhow::Result<Value> {
    let prompt = match row.direction {
        Direction::Request => row.text.as_str(),
        Direction::Response => NEUTRAL_PROMPT,
    };
    let reply = match row.direction {
        Direction::Request => NEUTRAL_REPLY,
        Direction::Response => row.text.as_str(),
    };
    let request_body = json!({"model": MODEL, "messages": [{"role": "user", "content": prompt}]});
    let request_body = request_body.to_string().into_bytes();
    let mut request = HttpRequest::json("POST", "/v1/chat/completions", request_body.clone());
    request
        .headers
        .push(("content-length".into(), request_body.len().to_string()));
    let reply_body = chat_completion(reply).into_bytes();
    let mut upstream = fixed_upstream(200, "application/json", reply_body.clone());
    let played = player.play(&StreamRequest::new(request), &mut upstream)?;

    let outcome = &played.outcome;
    let verdict = if outcome.local_reply && outcome.response.status >= 400 {
        "block"
    } else if match row.direction {
        Direction::Request => outcome
            .upstream_request
            .as_ref()
            .is_some_and(|r| r.body != request_body),
        Direction::Response => outcome.response.body != reply_body,
    } {
        "modify"
    } else {
        "allow"
    };
    let record = played.record.unwrap_or(Value::Null);
    Ok(json!({
        "id": row.id,
        "verdict": verdict,
        "status": outcome.response.status,
        "rules": record.get("rules").cloned().unwrap_or_else(|| json!([])),
        "entities": record.get("entities").cloned().unwrap_or_else(|| json!([])),
        "ruleset": record.get("ruleset").cloned().unwrap_or(Value::Null),
    }))
}

/// A chat-completions response whose assistant message is `text`.
fn chat_completion(text: &str) -> String {
    json!({
        "id": "chatcmpl-eval",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    })
    .to_string()
}
