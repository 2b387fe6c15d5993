//! `psf-train`: trains the learned scorers on `models/corpus` (and the dev set, when
//! given), validates each by leaving one source out, and writes `models/weights/`:
//! `<scorer>.bin` (embedded in the module), `<scorer>.json` (what it was trained on, how,
//! and how it scored), `<scorer>.features.tsv` (what the buckets a record names stand for)
//! and `LOSO.md` (the table the README quotes).
//!
//! Thresholds come from the validation itself: each paranoia level's threshold is where
//! the scores of benign rows, each scored by a model that never saw its source, reach the
//! level's false-positive rate. The output is deterministic for the same input.

mod baseline;
mod corpus;
mod explain;
mod learn;
mod loso;
mod task;

use anyhow::Context as _;
use psf_engine::detect::learned::Scorer;
use psf_engine::Policy;
use std::path::PathBuf;

/// The benign false-positive rate each paranoia level (1–4) allows on held-out sources.
pub const LEVEL_FPR: [f64; 4] = [0.01, 0.02, 0.05, 0.10];

struct Options {
    corpus: PathBuf,
    extra: Vec<String>,
    policy: PathBuf,
    out: PathBuf,
    scorers: Vec<Scorer>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        corpus: "models/corpus".into(),
        extra: Vec::new(),
        policy: "policies/default.json".into(),
        out: "models/weights".into(),
        scorers: Scorer::ALL.to_vec(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--corpus" => options.corpus = value()?.into(),
            "--dev" => options.extra.push(value()?),
            "--policy" => options.policy = value()?.into(),
            "--out" => options.out = value()?.into(),
            "--scorer" => {
                let name = value()?;
                let scorer = Scorer::ALL
                    .into_iter()
                    .find(|s| s.name() == name)
                    .with_context(|| format!("no scorer {name:?}"))?;
                options.scorers = vec![scorer];
            }
            _ => anyhow::bail!(
                "usage: psf-train [--corpus DIR] [--dev rows.jsonl]... [--policy FILE] [--out DIR] [--scorer NAME]"
            ),
        }
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let policy_bytes = std::fs::read(&options.policy)
        .with_context(|| format!("reading {}", options.policy.display()))?;
    let policy = Policy::from_json(&policy_bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", options.policy.display()))?;
    let route = policy
        .routes
        .iter()
        .find(|r| r.injection.is_some() && r.content.is_some())
        .context("the policy has no route with injection and content_filter")?;
    let rows = corpus::read(&options.corpus, &options.extra)?;
    eprintln!("psf-train: {} rows", rows.len());
    std::fs::create_dir_all(&options.out)?;
    let mut tables = String::from(
        "# Leave-one-source-out validation\n\nWritten by `make train`. Each source's rows are scored by a model trained without that source; every benign row likewise, and the thresholds at 1, 2 and 5 % false positives are set on those out-of-source benign scores. `rules` is the rule set alone (default policy, paranoia 1) on the same rows; `learned+rules` fires when either does.\n",
    );
    for scorer in &options.scorers {
        let report = loso::validate(*scorer, &rows, route)?;
        let weights = loso::final_model(*scorer, &rows);
        let thresholds = report.level_thresholds();
        let model = weights.quantise(thresholds);
        let bin = options.out.join(format!("{}.bin", scorer.name()));
        std::fs::write(&bin, model.to_bytes())?;
        let meta = options.out.join(format!("{}.json", scorer.name()));
        std::fs::write(
            &meta,
            serde_json::to_string_pretty(&report.meta(thresholds))? + "\n",
        )?;
        let positives: Vec<&corpus::Row> = rows
            .iter()
            .filter(|r| task::example(*scorer, r).is_some_and(|(positive, _)| positive))
            .collect();
        let names = options.out.join(format!("{}.features.tsv", scorer.name()));
        std::fs::write(&names, explain::table(&model, &positives))?;
        tables.push_str(&report.markdown());
        eprintln!("psf-train: wrote {} and {}", bin.display(), meta.display());
    }
    if options.scorers.len() == Scorer::ALL.len() {
        std::fs::write(options.out.join("LOSO.md"), tables)?;
    } else {
        print!("{tables}");
    }
    Ok(())
}
