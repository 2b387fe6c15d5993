//! Learned scorers beside the rule sets (PSF IG-1, OV-3): linear models over hashed n-grams
//! ([`features`]), trained by `models/train` on the licensed public corpus that
//! `models/corpus/` lists, and embedded in the module. No download, no model server: a
//! score costs one pass over the text's feature hashes.
//!
//! Each verdict is explainable without the text: the record names the scorer, its score,
//! the threshold of the route's paranoia level and the buckets of the strongest features
//! (`models/weights/<scorer>.features.tsv` maps buckets to the n-grams behind them).

pub mod calibrate;
pub mod features;
pub mod model;

pub use features::{featurise, windows, Features, Window};
pub use model::{Contribution, Model};

use std::sync::OnceLock;

/// The scorers the module embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scorer {
    /// Prompt injection and jailbreaks in text the client wrote.
    Injection,
    /// An instruction addressed to the assistant inside a tool result or document
    /// (indirect injection).
    InstructionInData,
    /// Harmful content: a model answer that complies with a harmful request.
    Harm,
    /// A prompt that asks for harmful content (where the policy asks for prompts to be
    /// judged).
    HarmfulRequest,
    /// A model answer that declines the request (PSF OV-5).
    Refusal,
}

impl Scorer {
    pub const ALL: [Scorer; 5] = [
        Scorer::Injection,
        Scorer::InstructionInData,
        Scorer::Harm,
        Scorer::HarmfulRequest,
        Scorer::Refusal,
    ];

    /// The name in records, metrics and `models/weights/<name>.bin`.
    pub fn name(self) -> &'static str {
        match self {
            Scorer::Injection => "injection",
            Scorer::InstructionInData => "instruction_in_data",
            Scorer::Harm => "harm",
            Scorer::HarmfulRequest => "harmful_request",
            Scorer::Refusal => "refusal",
        }
    }

    /// The rule id a verdict of this scorer is recorded under.
    pub fn rule_id(self) -> &'static str {
        match self {
            Scorer::Injection => "PI-LM-001",
            Scorer::InstructionInData => "PI-LM-002",
            Scorer::Harm => "HC-LM-001",
            Scorer::HarmfulRequest => "HC-LM-002",
            Scorer::Refusal => "RF-LM-001",
        }
    }

    fn bytes(self) -> &'static [u8] {
        match self {
            Scorer::Injection => include_bytes!("../../../../../models/weights/injection.bin"),
            Scorer::InstructionInData => {
                include_bytes!("../../../../../models/weights/instruction_in_data.bin")
            }
            Scorer::Harm => include_bytes!("../../../../../models/weights/harm.bin"),
            Scorer::HarmfulRequest => {
                include_bytes!("../../../../../models/weights/harmful_request.bin")
            }
            Scorer::Refusal => include_bytes!("../../../../../models/weights/refusal.bin"),
        }
    }

    /// The fewest features a text must have before this scorer judges it. The injection
    /// scorer learned from jailbreaks that are mostly hundreds of words long; on a prompt
    /// of a sentence or two it leans on a few generic n-grams ("let's play", "from now
    /// on") and is overconfident, so short prompts are left to the rule set. Answers and
    /// documents have no floor: a refusal or a planted instruction is often one sentence.
    pub fn min_features(self) -> usize {
        match self {
            Scorer::Injection => model::EVIDENCE_FLOOR,
            _ => 0,
        }
    }

    /// Whether windows of these feature counts carry enough for this scorer to judge them.
    pub fn has_evidence(self, window_lengths: impl IntoIterator<Item = usize>) -> bool {
        window_lengths
            .into_iter()
            .any(|len| len >= self.min_features())
    }

    /// The embedded model's score of `features` and the index of the best window; `None`
    /// when the text is too short for this scorer or the model is unusable.
    pub fn score(self, features: &Features) -> Option<(f32, usize)> {
        if !self.has_evidence(features.window_lengths()) {
            return None;
        }
        Some(self.model().ok()?.score(features))
    }

    /// The embedded model, read on first use.
    pub fn model(self) -> Result<&'static Model, String> {
        static MODELS: [OnceLock<Result<Model, String>>; Scorer::ALL.len()] =
            [const { OnceLock::new() }; Scorer::ALL.len()];
        MODELS
            .get(self as usize)
            .ok_or_else(|| format!("{}: no model slot", self.name()))?
            .get_or_init(|| {
                Model::from_bytes(self.bytes()).map_err(|e| format!("{}: {e}", self.name()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// What one scorer made of a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub scorer: Scorer,
    pub score: f32,
    pub threshold: f32,
    /// The buckets of the strongest features, when the score reached the threshold.
    pub features: Vec<u32>,
}

impl Verdict {
    pub fn fired(&self) -> bool {
        self.score >= self.threshold
    }
}

/// Features named in a verdict that fired.
const EXPLAINED_FEATURES: usize = 5;

/// Scores `features` with `scorer` at paranoia `level`; `None` if the text is too short
/// for the scorer (see [`Scorer::min_features`]) or the model is unusable (never for the
/// embedded ones, which a test reads).
pub fn judge(scorer: Scorer, features: &Features, level: u8) -> Option<Verdict> {
    let (score, best) = scorer.score(features)?;
    let model = scorer.model().ok()?;
    let threshold = model.threshold(level);
    let features = if score >= threshold {
        model
            .strongest(&features.window(best), EXPLAINED_FEATURES)
            .iter()
            .map(|c| c.bucket)
            .collect()
    } else {
        Vec::new()
    };
    Some(Verdict {
        scorer,
        score,
        threshold,
        features,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_model_loads_with_ordered_thresholds() {
        for scorer in Scorer::ALL {
            let model = scorer.model().unwrap();
            let t = model.thresholds;
            assert!(
                t[0] >= t[1] && t[1] >= t[2] && t[2] >= t[3],
                "{scorer:?}: {t:?}"
            );
        }
    }
}
