//! `psf-guard eval --report --task refusal|harmful_response|harm`: detections that a
//! policy records as findings, through the real `.wasm`. Each row is played as in `eval`
//! (an answer the filter reads, or a prompt); it counts as detected when the decision
//! record holds one of the task's rules. Recall is measured on the rows with the task's
//! positive label, precision and the false-positive rate against the rows labelled `benign`.

use super::eval::{eval_row, Playing};
use super::eval_fpr::{print_table, Ranked};
use super::eval_report::read_rows;
use super::{args::Args, load_host, start_player, EXIT_INVALID};
use psf_engine::detect::learned::Scorer;
use serde_json::Value;
use std::process::ExitCode;

/// A task this report measures: its positive label and the rule suffix that detects it.
struct Task {
    name: &'static str,
    positive: &'static str,
    /// The record's rule IDs that count, by what follows the route ID.
    rule: fn(&str) -> bool,
    what: &'static str,
    /// The learned scorer the filter also judges these rows with, if any.
    scorer: Option<Scorer>,
}

const TASKS: [Task; 3] = [
    Task {
        name: "refusal",
        positive: "refusal",
        rule: |r| r.ends_with(".output_errors.refusal"),
        what: "refusals (PSF OV-5, output_errors.refusal)",
        scorer: Some(Scorer::Refusal),
    },
    Task {
        name: "harmful_response",
        positive: "harmful",
        rule: |r| r.contains(".content_filter"),
        what: "harmful answers (PSF OV-3, content_filter)",
        scorer: Some(Scorer::Harm),
    },
    Task {
        name: "harm",
        positive: "harmful",
        rule: |r| r.contains(".content_filter"),
        what: "harmful requests (PSF OV-3, content_filter on prompts)",
        scorer: None,
    },
];

/// Whether `--task` is one this report measures.
pub fn measures(task: &str) -> bool {
    TASKS.iter().any(|t| t.name == task)
}

pub fn report(
    args: &Args,
    policy: &Value,
    policy_file: &str,
    input_file: &str,
    task: &str,
) -> anyhow::Result<ExitCode> {
    let Some(task) = TASKS.iter().find(|t| t.name == task) else {
        anyhow::bail!("no detection report for task {task:?}");
    };
    let rows = read_rows(input_file, task.name)?;
    if rows.is_empty() {
        anyhow::bail!("{input_file} has no rows of task {:?}", task.name);
    }
    let host = load_host(args)?;
    let Some(mut player) = start_player(&host, policy.to_string().as_bytes(), policy_file)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let playing = Playing::new(args, policy.to_string().as_bytes())?;
    let mut ranked = Vec::new();
    let (mut positives, mut found, mut benign, mut false_alarms) = (0usize, 0usize, 0usize, 0usize);
    for row in &rows {
        let verdict = eval_row(&mut player, &playing, row)?;
        let detected = verdict["rules"]
            .as_array()
            .is_some_and(|rules| rules.iter().any(|r| r.as_str().is_some_and(task.rule)));
        let positive = match row.label.as_deref() {
            Some(label) if label == task.positive => Some(true),
            Some("benign") => Some(false),
            _ => None,
        };
        ranked.push(Ranked::new(
            row.source.as_deref(),
            positive,
            detected,
            task.scorer,
            &row.text,
        ));
        match row.label.as_deref() {
            Some(label) if label == task.positive => {
                positives += 1;
                found += usize::from(detected);
            }
            Some("benign") => {
                benign += 1;
                false_alarms += usize::from(detected);
            }
            _ => {}
        }
    }
    let percent = |part: usize, whole: usize| {
        if whole == 0 {
            "-".to_string()
        } else {
            format!(
                "{:.1}% ({part}/{whole})",
                part as f64 * 100.0 / whole as f64
            )
        }
    };
    println!(
        "{} eval of {input_file} with {policy_file}: {}; {positives} {}, {benign} benign",
        task.name, task.what, task.positive
    );
    println!("recall     {}", percent(found, positives));
    println!("precision  {}", percent(found, found + false_alarms));
    println!(
        "false positives on benign rows  {}",
        percent(false_alarms, benign)
    );
    if task.scorer.is_some() {
        print_table(&ranked);
    }
    Ok(ExitCode::SUCCESS)
}
