//! `psf-guard eval`: labelled rows in, one verdict line per row out, through the real `.wasm`.
//!
//! A `request` row becomes a turn of a request (the user's unless the row's `role` says
//! otherwise, see [`psf_host::placement`]); a `response` row becomes the model's answer.
//! Rows go through chat completions unless `--api` or the row's `api` names another API.
//!
//! Each verdict carries the learned scores the decision record holds, and every PII or
//! secret entity the route's scanner finds in the row's text, with its type, class and
//! span (`start`, `end`: character offsets into `text`). The spans come from the engine
//! run natively on the same policy: the record itself never holds positions or values.

use super::{args::Args, load_host, start_player, EXIT_INVALID};
use anyhow::Context as _;
use psf_host::host::StreamRequest;
use psf_host::placement::{answer_body, request_body, Api, RowRole};
use psf_host::play::{fixed_upstream, Player};
use psf_host::HttpRequest;
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
    /// The turn the text takes in a request.
    #[serde(default)]
    pub role: RowRole,
    /// The API it goes through, over `--api`.
    #[serde(default)]
    pub api: Option<Api>,
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

const NEUTRAL_PROMPT: &str = "Hello.";
const NEUTRAL_REPLY: &str = "Hello! How can I help?";

/// How rows are played: the default API, and the policy run natively for entity spans.
pub(super) struct Playing {
    pub api: Api,
    policy: Option<psf_engine::Policy>,
}

impl Playing {
    pub fn new(args: &Args, policy: &[u8]) -> anyhow::Result<Playing> {
        let api = match args.value("api") {
            None => Api::Chat,
            Some(name) => Api::parse(name).with_context(|| {
                format!("--api takes chat, responses or messages; got {name:?}")
            })?,
        };
        Ok(Playing {
            api,
            policy: psf_engine::Policy::from_json(policy).ok(),
        })
    }

    /// Every entity the route of `api` finds in `text`, with character spans.
    fn entities(&self, api: Api, text: &str) -> Vec<Value> {
        let Some(policy) = &self.policy else {
            return Vec::new();
        };
        let psf_engine::policy::RouteMatch::Matched(route) = policy.route_for("POST", api.path())
        else {
            return Vec::new();
        };
        let Some(pii) = &route.pii else {
            return Vec::new();
        };
        let chars = |byte: usize| text[..byte].chars().count();
        pii.scanner
            .find(text)
            .iter()
            .map(|e| {
                json!({
                    "type": pii.scanner.name(e.kind),
                    "class": pii.scanner.class(e.kind).as_str(),
                    "start": chars(e.start),
                    "end": chars(e.end),
                })
            })
            .collect()
    }
}

pub fn eval(args: &Args) -> anyhow::Result<ExitCode> {
    if args.switch("report") {
        return super::eval_report::report(args);
    }
    args.only(&["wasm", "policy", "input", "output", "api"])?;
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

    let playing = Playing::new(args, &policy)?;
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
        let verdict = eval_row(&mut player, &playing, &row)?;
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
pub(super) fn eval_row(player: &mut Player, playing: &Playing, row: &Row) -> anyhow::Result<Value> {
    let api = row.api.unwrap_or(playing.api);
    let (prompt, role, reply) = match row.direction {
        Direction::Request => (row.text.as_str(), row.role, NEUTRAL_REPLY),
        Direction::Response => (NEUTRAL_PROMPT, RowRole::User, row.text.as_str()),
    };
    let request_body = request_body(api, role, prompt).to_string().into_bytes();
    let mut request = HttpRequest::json("POST", api.path(), request_body.clone());
    request
        .headers
        .push(("content-length".into(), request_body.len().to_string()));
    let reply_body = answer_body(api, reply).to_string().into_bytes();
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
    let scores: serde_json::Map<String, Value> = record["learned"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| Some((l["scorer"].as_str()?.to_string(), l["score"].clone())))
        .collect();
    Ok(json!({
        "id": row.id,
        "verdict": verdict,
        "status": outcome.response.status,
        "rules": record.get("rules").cloned().unwrap_or_else(|| json!([])),
        "scores": scores,
        "entities": playing.entities(api, &row.text),
        "entity_counts": record.get("entities").cloned().unwrap_or_else(|| json!([])),
        "ruleset": record.get("ruleset").cloned().unwrap_or(Value::Null),
    }))
}
