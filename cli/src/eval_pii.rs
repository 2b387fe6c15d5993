//! `psf-guard eval --report --task pii`: detection quality per entity type, through the real
//! `.wasm`, on the `pii` and `secret` rows of a labelled set.
//!
//! Each row is played as in `eval`; the decision record counts the entities the filter
//! found, by type. A labelled entity counts as found when the row's record holds one more
//! entity of a type its label maps to (labels from public corpora are mapped to the filter's
//! types by `psf_engine::detect::pii::labels`; an IP address may be found as IPv4 or IPv6).
//! The sources label one recognizer's entities per row, so other PII in a labelled row is
//! not a false positive; precision therefore counts the detections on the benign rows
//! (near-miss look-alikes) as the false positives, and those rows also get a "left alone"
//! rate.

use super::eval::{eval_row, Playing};
use super::eval_report::read_rows;
use super::{args::Args, load_host, start_player, EXIT_INVALID};
use psf_engine::detect::pii::labels::our_types;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::ExitCode;

/// Labelled, found-and-labelled, and detections on benign rows, of one type.
#[derive(Default, Clone, Copy)]
struct Counts {
    labelled: usize,
    hits: usize,
    false_positives: usize,
}

impl Counts {
    fn precision(&self) -> String {
        percent(self.hits, self.hits + self.false_positives)
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!(
        "{:.1}% ({part}/{whole})",
        part as f64 * 100.0 / whole as f64
    )
}

pub fn report(
    args: &Args,
    policy: &Value,
    policy_file: &str,
    input_file: &str,
) -> anyhow::Result<ExitCode> {
    let mut rows = read_rows(input_file, "pii")?;
    rows.extend(read_rows(input_file, "secret")?);
    if rows.is_empty() {
        anyhow::bail!("{input_file} has no rows of task \"pii\" or \"secret\"");
    }
    let host = load_host(args)?;
    let Some(mut player) = start_player(&host, policy.to_string().as_bytes(), policy_file)? else {
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    let playing = Playing::new(args, policy.to_string().as_bytes())?;
    let mut by_type: BTreeMap<String, Counts> = BTreeMap::new();
    let mut unsupported: BTreeMap<String, usize> = BTreeMap::new();
    let (mut benign, mut benign_clean) = (0, 0);
    let mut pii_rows = Counts::default();
    for row in &rows {
        let verdict = eval_row(&mut player, &playing, row)?;
        let mut remaining = found_by_type(&verdict);
        if row.label.as_deref() == Some("benign") {
            benign += 1;
            benign_clean += usize::from(remaining.is_empty());
            for (kind, count) in &remaining {
                by_type.entry(kind.clone()).or_default().false_positives += count;
            }
            continue;
        }
        for entity in row.entities.iter().flatten() {
            let candidates = our_types(&entity.kind);
            let Some(first) = candidates.first() else {
                *unsupported.entry(entity.kind.clone()).or_default() += 1;
                continue;
            };
            let found = candidates
                .iter()
                .map(|kind| kind.as_str())
                .find(|kind| remaining.get(*kind).is_some_and(|n| *n > 0));
            let kind = found.unwrap_or(first.as_str());
            if let Some(n) = remaining.get_mut(kind) {
                *n = n.saturating_sub(1);
            }
            let counts = by_type.entry(kind.to_string()).or_default();
            counts.labelled += 1;
            counts.hits += usize::from(found.is_some());
            if row.task.as_deref() == Some("pii") {
                pii_rows.labelled += 1;
                pii_rows.hits += usize::from(found.is_some());
            }
        }
    }
    let all = by_type.values().fold(Counts::default(), |sum, c| Counts {
        labelled: sum.labelled + c.labelled,
        hits: sum.hits + c.hits,
        false_positives: sum.false_positives + c.false_positives,
    });
    println!(
        "pii eval of {input_file} with {policy_file}: {} rows ({benign} benign look-alikes)",
        rows.len()
    );
    println!();
    println!(
        "{:<22} {:<22} {:<22}",
        "type", "recall", "precision (FP = hits on benign rows)"
    );
    for (kind, c) in &by_type {
        println!(
            "{kind:<22} {:<22} {:<22}",
            percent(c.hits, c.labelled),
            c.precision()
        );
    }
    println!(
        "{:<22} {:<22} {:<22}",
        "all supported types",
        percent(all.hits, all.labelled),
        all.precision()
    );
    println!(
        "{:<22} {:<22}",
        "pii rows",
        percent(pii_rows.hits, pii_rows.labelled)
    );
    println!();
    println!(
        "benign look-alikes left alone: {}",
        percent(benign_clean, benign)
    );
    let skipped: usize = unsupported.values().sum();
    println!(
        "labelled entities of types the filter does not detect (not counted): {skipped} in {} types",
        unsupported.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Entities in a verdict's record, summed over directions, by type.
fn found_by_type(verdict: &Value) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for entity in verdict["entity_counts"].as_array().into_iter().flatten() {
        if let (Some(kind), Some(count)) = (entity["type"].as_str(), entity["count"].as_u64()) {
            *found.entry(kind.to_string()).or_default() += count as usize;
        }
    }
    found
}
