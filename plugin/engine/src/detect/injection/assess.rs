//! The rule set and the learned scorers together: each scope is read by the rules and by
//! its scorer (prompt injection for what the client wrote, instruction-in-data for tool
//! results and documents), and it is an injection when either reaches its threshold.
//! The scores are kept whether or not they fire, so the record shows how close a request
//! came.

use super::detect::{detect, scope_of, Detection, InjectionSettings, Scope};
use super::ruleset::RuleSet;
use crate::detect::learned::{featurise, judge, Scorer, Verdict};
use crate::llm::Segment;

/// What detection made of a request.
#[derive(Debug, Clone, Default)]
pub struct Assessment {
    /// The first scope found to be an injection.
    pub detection: Option<Detection>,
    /// Every learned score computed, one per scope with text.
    pub learned: Vec<Verdict>,
}

/// Scores `segments` with the rules and, unless the route turns them off, the learned
/// scorers.
pub fn assess(rules: &RuleSet, settings: &InjectionSettings, segments: &[Segment]) -> Assessment {
    let mut detection = detect(rules, settings, segments);
    let mut learned = Vec::new();
    if !settings.learned {
        return Assessment { detection, learned };
    }
    for (scope, scorer) in [
        (Scope::Direct, Scorer::Injection),
        (Scope::Tool, Scorer::InstructionInData),
    ] {
        let text = joined(segments, settings, scope);
        if text.trim().is_empty() {
            continue;
        }
        let Some(verdict) = judge(scorer, &featurise(&text), settings.paranoia) else {
            continue;
        };
        if verdict.fired() {
            match detection.as_mut() {
                Some(found) if found.scope == scope => found.rules.push(scorer.rule_id()),
                Some(_) => {}
                None => {
                    detection = Some(Detection {
                        scope,
                        score: 0,
                        threshold: match scope {
                            Scope::Direct => settings.threshold,
                            Scope::Tool => settings.tool_threshold,
                        },
                        rules: vec![scorer.rule_id()],
                    })
                }
            }
        }
        learned.push(verdict);
    }
    Assessment { detection, learned }
}

/// The text of one scope, one segment a line (as the rules read it).
fn joined(segments: &[Segment], settings: &InjectionSettings, scope: Scope) -> String {
    let mut text = String::new();
    for segment in segments
        .iter()
        .filter(|s| scope_of(s, settings) == Some(scope))
    {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&segment.text);
    }
    text
}
