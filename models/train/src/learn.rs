//! Logistic regression over hashed features with AdaGrad and L2, trained as multiple-
//! instance learning over windows: a text's score is its highest window's, so after a
//! first pass over whole texts a positive text teaches only through its strongest window
//! (the one that holds the instruction), while every window of a negative text learns to
//! stay low.

use crate::corpus::Row;
use psf_engine::detect::learned::{
    model::{self, sigmoid},
    Model, Scorer, Window,
};

/// The hyper-parameters, committed with the weights they produce.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Params {
    pub bits: u8,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// Rows of one (source, label) beyond this count share its weight, so no source
    /// outweighs the rest.
    pub source_cap: usize,
}

const PARAMS: Params = Params {
    bits: 15,
    epochs: 8,
    learning_rate: 0.4,
    l2: 1e-6,
    source_cap: 1500,
};

/// A scorer's hyper-parameters. The answer scorers learn from fewer, plainer texts and
/// get fewer buckets, which keeps the module within its size budget.
pub fn params(scorer: Scorer) -> Params {
    let tuned = |name: &str, default: f32| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let base = Params {
        l2: tuned("PSF_TRAIN_L2", PARAMS.l2),
        learning_rate: tuned("PSF_TRAIN_LR", PARAMS.learning_rate),
        epochs: tuned("PSF_TRAIN_EPOCHS", PARAMS.epochs as f32) as usize,
        ..PARAMS
    };
    let bits: u8 = match scorer {
        Scorer::Injection | Scorer::InstructionInData => 15,
        Scorer::Harm => 14,
        Scorer::HarmfulRequest | Scorer::Refusal => 13,
    };
    let bits = tuned("PSF_TRAIN_BITS", f32::from(bits)) as u8;
    Params { bits, ..base }
}

/// One training example: a row's windows, its label and weight.
pub struct Example<'r> {
    pub windows: &'r [Window],
    pub positive: bool,
    pub weight: f32,
}

/// Float weights while training.
pub struct Weights {
    bits: u8,
    pub bias: f32,
    pub w: Vec<f32>,
}

impl Weights {
    fn slot(&self, hash: u32) -> (usize, f32) {
        model::slot(self.bits, hash)
    }

    pub fn logit(&self, window: &Window) -> f32 {
        model::logit(self.bits, self.bias, window, |bucket| self.w[bucket])
    }

    /// The highest window's score and its index.
    pub fn score(&self, windows: &[Window]) -> (f32, usize) {
        model::best_window(windows, |w| self.logit(w))
    }

    /// The weights in the module's one-byte form, with `thresholds`.
    pub fn quantise(&self, thresholds: [f32; 4]) -> Model {
        let largest = self.w.iter().fold(0f32, |m, w| m.max(w.abs())).max(1e-6);
        let scale = largest / 127.0;
        let weights = self
            .w
            .iter()
            .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        Model::new(self.bits, self.bias, scale, thresholds, weights)
    }
}

/// Balances weights: each (source, label) capped at `source_cap` rows' worth, then the
/// positives scaled to weigh as much as the negatives.
pub fn balance<'r>(rows: &[(&'r Row, bool, f32)], cap: usize) -> Vec<Example<'r>> {
    let mut groups = std::collections::HashMap::new();
    for (row, positive, _) in rows {
        *groups
            .entry((row.source.as_str(), *positive))
            .or_insert(0usize) += 1;
    }
    let mut examples: Vec<Example> = rows
        .iter()
        .map(|(row, positive, weight)| {
            let n = groups[&(row.source.as_str(), *positive)];
            Example {
                windows: &row.windows,
                positive: *positive,
                weight: weight * (cap as f32 / n as f32).min(1.0),
            }
        })
        .collect();
    let total = |p: bool, e: &[Example]| -> f32 {
        e.iter().filter(|x| x.positive == p).map(|x| x.weight).sum()
    };
    let (pos, neg) = (total(true, &examples), total(false, &examples));
    if pos > 0.0 && neg > 0.0 {
        for example in examples.iter_mut().filter(|e| e.positive) {
            example.weight *= neg / pos;
        }
    }
    examples
}

/// Trains on `examples` in a fixed, seeded order.
pub fn train(examples: &[Example], params: Params) -> Weights {
    let size = 1usize << params.bits;
    let mut weights = Weights {
        bits: params.bits,
        bias: 0.0,
        w: vec![0.0; size],
    };
    let mut squared = vec![1e-2f32; size];
    let mut bias_squared = 1e-2f32;
    let mut order: Vec<usize> = (0..examples.len()).collect();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for epoch in 0..params.epochs {
        shuffle(&mut order, &mut seed);
        for &i in &order {
            let example = &examples[i];
            let count = example.windows.len().max(1) as f32;
            // Negatives: every window. Positives: all windows in the first epoch, then
            // only the strongest.
            let chosen: Vec<(&Window, f32)> = if example.positive && epoch > 0 {
                let (_, best) = weights.score(example.windows);
                example
                    .windows
                    .get(best)
                    .map(|w| (w, example.weight))
                    .into_iter()
                    .collect()
            } else {
                example
                    .windows
                    .iter()
                    .map(|w| (w, example.weight / count))
                    .collect()
            };
            for (window, weight) in chosen {
                let target = if example.positive { 1.0 } else { 0.0 };
                let gradient = (sigmoid(weights.logit(window)) - target) * weight;
                let value = Model::feature_value(window);
                for &h in &window.hashes {
                    let (b, s) = weights.slot(h);
                    let g = gradient * s * value + params.l2 * weights.w[b];
                    squared[b] += g * g;
                    weights.w[b] -= params.learning_rate * g / squared[b].sqrt();
                }
                bias_squared += gradient * gradient;
                weights.bias -= params.learning_rate * gradient / bias_squared.sqrt();
            }
        }
    }
    weights
}

/// Fisher–Yates with a xorshift generator: the same order on every machine.
fn shuffle(order: &mut [usize], seed: &mut u64) {
    for i in (1..order.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        order.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}
