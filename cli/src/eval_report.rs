//! `psf-guard eval --report`: the quality table of a labelled set, through the real `.wasm`.
//!
//! Each row of the task is played as in `eval`; a row counts as detected when the filter
//! blocked it with a rule of the injection rule set. Recall is measured on rows labelled
//! `attack`, the false-positive rate on rows labelled `benign`, per paranoia level (every
//! route's `injection.paranoia` set to the level) and per source at the first level; then
//! recall per source at 1, 2 and 5 % false positives (see [`super::eval_fpr`]).

use super::eval::{eval_row, Playing, Row};
use super::eval_fpr::{print_table, Ranked};
use super::{args::Args, load_host, start_player, EXIT_INVALID};
use anyhow::Context as _;
use psf_engine::detect::learned::Scorer;
use psf_host::placement::RowRole;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::ExitCode;

/// Rows and detections of one group.
#[derive(Default, Clone, Copy)]
struct Tally {
    rows: usize,
    detected: usize,
}

impl Tally {
    fn add(&mut self, detected: bool) {
        self.rows += 1;
        self.detected += usize::from(detected);
    }

    fn rate(&self) -> String {
        if self.rows == 0 {
            return "-".into();
        }
        format!(
            "{:.1}% ({}/{})",
            self.detected as f64 * 100.0 / self.rows as f64,
            self.detected,
            self.rows
        )
    }
}

pub fn report(args: &Args) -> anyhow::Result<ExitCode> {
    args.only(&[
        "wasm", "policy", "input", "task", "paranoia", "report", "api",
    ])?;
    let policy_file = args.required("policy")?;
    let policy: Value = serde_json::from_slice(
        &std::fs::read(policy_file).with_context(|| format!("reading {policy_file}"))?,
    )
    .with_context(|| format!("{policy_file} is not JSON"))?;
    let input_file = args.required("input")?;
    let task = args.value("task").unwrap_or("injection");
    if task == "pii" {
        return super::eval_pii::report(args, &policy, policy_file, input_file);
    }
    if super::eval_detect::measures(task) {
        return super::eval_detect::report(args, &policy, policy_file, input_file, task);
    }
    let levels = match parse_levels(args.value("paranoia").unwrap_or("1,2,3,4")) {
        Ok(levels) => levels,
        Err(message) => {
            eprintln!("psf-guard: {message}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let rows = read_rows(input_file, task)?;
    if rows.is_empty() {
        anyhow::bail!("{input_file} has no rows of task {task:?}");
    }
    let host = load_host(args)?;
    let playing = Playing::new(args, policy.to_string().as_bytes())?;
    let mut ranked = Vec::new();

    let mut by_level = Vec::new();
    let mut by_source: BTreeMap<(String, String), Tally> = BTreeMap::new();
    let mut ruleset = String::new();
    for (index, level) in levels.iter().enumerate() {
        let policy = at_paranoia(&policy, *level).to_string();
        let Some(mut player) = start_player(&host, policy.as_bytes(), policy_file)? else {
            return Ok(ExitCode::from(EXIT_INVALID));
        };
        let (mut attacks, mut benign) = (Tally::default(), Tally::default());
        for row in &rows {
            let verdict = eval_row(&mut player, &playing, row)?;
            if let (true, Some(version)) = (ruleset.is_empty(), verdict["ruleset"].as_str()) {
                ruleset = version.to_string();
            }
            let detected = verdict["verdict"] == "block"
                && verdict["rules"].as_array().is_some_and(|rules| {
                    rules
                        .iter()
                        .any(|r| r.as_str().is_some_and(|r| r.starts_with("PI-")))
                });
            let label = row.label.as_deref().unwrap_or("unlabelled");
            match label {
                "attack" => attacks.add(detected),
                "benign" => benign.add(detected),
                _ => {}
            }
            if index == 0 {
                let scorer = match row.role {
                    RowRole::User | RowRole::System => Scorer::Injection,
                    RowRole::Tool | RowRole::Retrieved => Scorer::InstructionInData,
                };
                let positive = match label {
                    "attack" => Some(true),
                    "benign" => Some(false),
                    _ => None,
                };
                ranked.push(Ranked::new(
                    row.source.as_deref(),
                    positive,
                    detected,
                    Some(scorer),
                    &row.text,
                ));
                let source = row.source.clone().unwrap_or_else(|| "unknown".into());
                by_source
                    .entry((source, label.to_string()))
                    .or_default()
                    .add(detected);
            }
        }
        by_level.push((*level, attacks, benign));
    }

    let attacks = rows
        .iter()
        .filter(|r| r.label.as_deref() == Some("attack"))
        .count();
    println!(
        "{task} eval of {input_file} with {policy_file}: {} rows ({attacks} attack, {} benign), rule set {ruleset}",
        rows.len(),
        rows.len() - attacks
    );
    println!();
    println!(
        "{:<9} {:<24} {:<24}",
        "paranoia", "recall (attacks)", "false positives (benign)"
    );
    for (level, attacks, benign) in &by_level {
        println!("{level:<9} {:<24} {:<24}", attacks.rate(), benign.rate());
    }
    println!();
    println!("by source, paranoia {}:", levels[0]);
    println!("{:<44} {:<7} detected", "source", "label");
    for ((source, label), tally) in &by_source {
        println!("{source:<44} {label:<7} {}", tally.rate());
    }
    print_table(&ranked);
    Ok(ExitCode::SUCCESS)
}

fn parse_levels(text: &str) -> Result<Vec<u64>, String> {
    text.split(',')
        .map(|level| match level.trim().parse::<u64>() {
            Ok(level @ 1..=4) => Ok(level),
            _ => Err(format!(
                "--paranoia takes levels 1 to 4, like 1,2,3,4; got {level:?}"
            )),
        })
        .collect()
}

pub(super) fn read_rows(file: &str, task: &str) -> anyhow::Result<Vec<Row>> {
    let input = std::fs::File::open(file).with_context(|| format!("reading {file}"))?;
    let mut rows = Vec::new();
    for (index, line) in std::io::BufReader::new(input).lines().enumerate() {
        let line = line.with_context(|| format!("{file}: line {}", index + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Row =
            serde_json::from_str(&line).with_context(|| format!("{file}: line {}", index + 1))?;
        if row.task.as_deref() == Some(task) {
            rows.push(row);
        }
    }
    Ok(rows)
}

/// `policy` with every injection-enabled route at paranoia `level`.
fn at_paranoia(policy: &Value, level: u64) -> Value {
    let mut policy = policy.clone();
    if let Some(routes) = policy.get_mut("routes").and_then(Value::as_array_mut) {
        for route in routes {
            if let Some(injection) = route.get_mut("injection").and_then(Value::as_object_mut) {
                injection.insert("paranoia".into(), level.into());
            }
        }
    }
    policy
}
