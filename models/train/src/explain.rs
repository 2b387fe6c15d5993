//! `<scorer>.features.tsv`: what the buckets a decision record names stand for. The record
//! never holds text, so an auditor reads a verdict's strongest buckets here: for each of the
//! buckets that pull scores up most, the n-grams of the training positives that land in it.

use crate::corpus::Row;
use psf_engine::detect::learned::features::named_features;
use psf_engine::detect::learned::Model;
use std::collections::HashMap;

/// Buckets listed, and n-grams named per bucket.
const BUCKETS: usize = 400;
const GRAMS: usize = 3;

/// The table for `model`, from the positive rows it was trained on.
pub fn table(model: &Model, positives: &[&Row]) -> String {
    let mut grams: HashMap<usize, HashMap<String, usize>> = HashMap::new();
    for row in positives {
        for (hash, gram) in named_features(&row.text) {
            let (bucket, sign) = model.slot(hash);
            if sign * f32::from(model.weights[bucket]) > 0.0 {
                *grams.entry(bucket).or_default().entry(gram).or_default() += 1;
            }
        }
    }
    let mut buckets: Vec<(usize, i8)> = grams
        .keys()
        .map(|&b| (b, model.weights[b].saturating_abs()))
        .collect();
    buckets.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out = String::from(
        "bucket\tpull\tn-grams that pull the score up (most frequent in training positives)\n",
    );
    for (bucket, _) in buckets.into_iter().take(BUCKETS) {
        let mut named: Vec<(&String, &usize)> = grams[&bucket].iter().collect();
        named.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let names: Vec<String> = named
            .iter()
            .take(GRAMS)
            .map(|(g, _)| format!("{:?}", g.trim()))
            .collect();
        out.push_str(&format!(
            "{bucket}\t{:.3}\t{}\n",
            f32::from(model.weights[bucket]).abs() * model.scale,
            names.join(" ")
        ));
    }
    out
}
