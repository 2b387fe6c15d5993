//! Labelled rows from `models/corpus/<task>/*.jsonl` and, when given, the dev set: each
//! row featurised once into windows, with its source for balancing and for leaving a
//! source out.

use anyhow::Context as _;
use psf_engine::detect::learned::{windows, Window};
use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
struct RawRow {
    text: String,
    task: String,
    label: String,
    source: String,
    #[serde(default)]
    repo: Option<String>,
}

/// One row, featurised.
pub struct Row {
    pub task: String,
    pub label: String,
    pub source: String,
    /// The repository the row comes from: validation holds out a whole repository at a
    /// time, so one dataset copied under two source names cannot leak into itself.
    pub group: String,
    pub text: String,
    pub windows: Vec<Window>,
}

/// Every row of the `extra` files (the dev set), then of every `.jsonl` under `dir`
/// (recursively); a text that a task already has (ignoring case and spacing) is kept
/// once, from the first file.
pub fn read(dir: &Path, extra: &[String]) -> anyhow::Result<Vec<Row>> {
    let mut files: Vec<std::path::PathBuf> = extra.iter().map(Into::into).collect();
    let mut corpus = Vec::new();
    collect(dir, &mut corpus)?;
    corpus.sort();
    files.extend(corpus);
    let mut seen = std::collections::HashSet::new();
    let mut rows = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let raw: RawRow = serde_json::from_str(line)
                .with_context(|| format!("{}: line {}", file.display(), index + 1))?;
            let key = raw
                .text
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            if !seen.insert((raw.task.clone(), key)) {
                continue;
            }
            rows.push(Row {
                windows: windows(&raw.text),
                group: raw.repo.unwrap_or_else(|| raw.source.clone()),
                task: raw.task,
                label: raw.label,
                source: raw.source,
                text: raw.text,
            });
        }
    }
    Ok(rows)
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    if !dir.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            files.push(path);
        }
    }
    Ok(())
}
