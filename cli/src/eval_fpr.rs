//! Recall at fixed false-positive rates, per source: the table `--report` ends with.
//!
//! A row ranks by what the filter did and what the learned scorer made of it: a row the
//! filter detected ranks above every score; the rest rank by the scorer's score of the
//! row's text (the engine's own scorer run natively on the same weights the module embeds).
//! The threshold at each rate is set on the benign rows, recall read on the others.

use psf_engine::detect::learned::calibrate::threshold_at;
use psf_engine::detect::learned::{featurise, Scorer};
use std::collections::BTreeMap;

/// The false-positive rates reported.
const RATES: [f64; 3] = [0.01, 0.02, 0.05];

/// A detected row's rank: above any score in 0..=1.
const DETECTED: f32 = 2.0;

/// One row's rank.
pub(super) struct Ranked {
    pub source: String,
    /// `None` for rows that are neither positive nor benign.
    pub positive: Option<bool>,
    pub score: f32,
}

impl Ranked {
    pub fn new(
        source: Option<&str>,
        positive: Option<bool>,
        detected: bool,
        scorer: Option<Scorer>,
        text: &str,
    ) -> Ranked {
        let score = if detected {
            DETECTED
        } else {
            scorer
                .and_then(|s| s.score(&featurise(text)))
                .map_or(0.0, |(score, _)| score)
        };
        Ranked {
            source: source.unwrap_or("unknown").to_string(),
            positive,
            score,
        }
    }
}

/// Prints recall per source at each rate in [`RATES`].
pub(super) fn print_table(ranked: &[Ranked]) {
    let benign: Vec<f32> = ranked
        .iter()
        .filter(|r| r.positive == Some(false))
        .map(|r| r.score)
        .collect();
    if benign.is_empty() {
        println!("no benign rows: recall at fixed false-positive rates cannot be read");
        return;
    }
    let thresholds = RATES.map(|rate| threshold_at(&benign, rate));
    let flagged = |t: f32| benign.iter().filter(|&&s| s >= t).count() as f64 / benign.len() as f64;
    println!();
    println!(
        "recall at fixed false-positive rates ({} benign rows; reached: {})",
        benign.len(),
        thresholds
            .iter()
            .map(|&t| format!("{:.1}%", flagged(t) * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "{:<44} {:>9} {:>8} {:>8} {:>8}",
        "source", "positives", "1%", "2%", "5%"
    );
    let mut by_source: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    for row in ranked.iter().filter(|r| r.positive == Some(true)) {
        by_source
            .entry(row.source.as_str())
            .or_default()
            .push(row.score);
        by_source.entry("(all)").or_default().push(row.score);
    }
    // A rate below what the filter's own detections already flag cannot be reached: no
    // threshold gets there, so its column says so instead of a recall of zero.
    let reachable = RATES.map(|rate| {
        let detected = benign.iter().filter(|&&s| s >= DETECTED).count();
        detected as f64 / benign.len() as f64 <= rate
    });
    for (source, scores) in &by_source {
        let cells: Vec<String> = thresholds
            .iter()
            .zip(reachable)
            .map(|(&t, reachable)| {
                if !reachable {
                    return "-".to_string();
                }
                let hits = scores.iter().filter(|&&s| s >= t).count();
                format!("{:.3}", hits as f64 / scores.len() as f64)
            })
            .collect();
        println!(
            "{source:<44} {:>9} {:>8} {:>8} {:>8}",
            scores.len(),
            cells[0],
            cells[1],
            cells[2]
        );
    }
    if reachable.contains(&false) {
        println!("(-: the filter's own detections flag more benign rows than that rate)");
    }
}
