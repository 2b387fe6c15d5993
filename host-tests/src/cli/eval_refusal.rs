//! `psf-guard eval --report --task refusal`: refusal detection (PSF OV-5) through the real
//! `.wasm`. Each row is an answer the filter reads; it counts as detected when the decision
//! record holds the route's `output_errors.refusal` finding. Recall is measured on rows
//! labelled `refusal`, precision against the rows labelled `benign`.

use super::eval::eval_row;
use super::eval_report::read_rows;
use super::{args::Args, load_host, start_player, EXIT_INVALID};
use serde_json::Value;
use std::process::ExitCode;

pub fn report(
    args: &Args,
    policy: &Value,
    policy_file: &str,
    input_file: &str,
) -> anyhow::Result<ExitCode> {
    let rows = read_rows(input_file, "refusal")?;
    if rows.is_empty() {
        anyhow::bail!("{input_file} has no rows of task \"refusal\"");
    }
    let host = load_host(args)?;
    let Some(mut player) = start_player(&host, policy.to_string().as_bytes(), policy_file)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let (mut refusals, mut found, mut benign, mut false_alarms) = (0usize, 0usize, 0usize, 0usize);
    for row in &rows {
        let verdict = eval_row(&mut player, row)?;
        let detected = verdict["rules"].as_array().is_some_and(|rules| {
            rules.iter().any(|r| {
                r.as_str()
                    .is_some_and(|r| r.ends_with(".output_errors.refusal"))
            })
        });
        match row.label.as_deref() {
            Some("refusal") => {
                refusals += 1;
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
        "refusal eval of {input_file} with {policy_file}: {refusals} refusals, {benign} benign answers"
    );
    println!("recall     {}", percent(found, refusals));
    println!("precision  {}", percent(found, found + false_alarms));
    println!(
        "false positives on benign answers  {}",
        percent(false_alarms, benign)
    );
    Ok(ExitCode::SUCCESS)
}
