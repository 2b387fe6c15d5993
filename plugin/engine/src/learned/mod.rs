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

pub use features::{windows, Window};
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
            Scorer::Injection => include_bytes!("../../../../models/weights/injection.bin"),
            Scorer::InstructionInData => {
                include_bytes!("../../../../models/weights/instruction_in_data.bin")
            }
            Scorer::Harm => include_bytes!("../../../../models/weights/harm.bin"),
            Scorer::HarmfulRequest => {
                include_bytes!("../../../../models/weights/harmful_request.bin")
            }
            Scorer::Refusal => include_bytes!("../../../../models/weights/refusal.bin"),
        }
    }

    /// The embedded model, read on first use.
    pub fn model(self) -> Result<&'static Model, String> {
        static MODELS: [OnceLock<Result<Model, String>>; 4] = [
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
            OnceLock::new(),
        ];
        MODELS[self as usize]
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

/// Scores `windows` with `scorer` at paranoia `level`; `None` if the model is unusable
/// (never for the embedded ones, which a test reads).
pub fn judge(scorer: Scorer, windows: &[Window], level: u8) -> Option<Verdict> {
    let model = scorer.model().ok()?;
    let (score, best) = model.score(windows);
    let threshold = model.threshold(level);
    let features = match windows.get(best) {
        Some(window) if score >= threshold => model
            .strongest(window, EXPLAINED_FEATURES)
            .iter()
            .map(|c| c.bucket)
            .collect(),
        _ => Vec::new(),
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
