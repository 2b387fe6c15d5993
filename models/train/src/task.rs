//! What each scorer learns from: which rows are positives and negatives, at what weight.
//! These choices are the scorers' hyper-parameters as much as the learning rate is.

use crate::corpus::Row;
use psf_engine::detect::learned::Scorer;

/// A row's role in training a scorer: positive or not, and its weight before balancing.
pub fn example(scorer: Scorer, row: &Row) -> Option<(bool, f32)> {
    let (task, label) = (row.task.as_str(), row.label.as_str());
    match scorer {
        Scorer::Injection => match (task, label) {
            ("injection", "attack") => Some((true, 1.0)),
            ("injection", "benign") => Some((false, 1.0)),
            // Safe prompts that merely sound dangerous are not injections.
            ("harm", "benign") => Some((false, 1.0)),
            _ => None,
        },
        Scorer::InstructionInData => match (task, label) {
            ("indirect", "attack") => Some((true, 1.0)),
            ("indirect", "benign") => Some((false, 1.0)),
            // A jailbreak pasted into a document is an instruction in data too.
            ("injection", "attack") => Some((true, 0.5)),
            _ => None,
        },
        Scorer::Harm => match (task, label) {
            ("harmful_response", "harmful") => Some((true, 1.0)),
            ("harmful_response", "benign") => Some((false, 1.0)),
            // A refusal names the harm it declines; it must not score as the harm.
            ("refusal", "refusal") => Some((false, 1.0)),
            _ => None,
        },
        Scorer::HarmfulRequest => match (task, label) {
            ("harm", "harmful") => Some((true, 1.0)),
            ("harm", "benign") => Some((false, 1.0)),
            // Everyday prompts, jailbreak framing aside, are not harmful requests.
            ("injection", "benign") => Some((false, 1.0)),
            _ => None,
        },
        Scorer::Refusal => match (task, label) {
            ("refusal", "refusal") => Some((true, 1.0)),
            ("refusal", "benign") => Some((false, 1.0)),
            _ => None,
        },
    }
}
