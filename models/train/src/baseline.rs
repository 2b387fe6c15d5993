//! What the rule sets alone make of a row, under a policy's first route that configures
//! them: the baseline every learned score is compared against.

use crate::corpus::Row;
use psf_engine::detect::injection::{detect, RuleSet};
use psf_engine::detect::learned::Scorer;
use psf_engine::llm::{Origin, Role, Segment};
use psf_engine::policy::Route;

/// Whether the rules detect `row` for `scorer`; `None` where no rule set measures it.
pub fn rules_detect(route: &Route, scorer: Scorer, row: &Row) -> Option<bool> {
    let segment = |role, origin| Segment {
        role,
        origin,
        text: row.text.clone(),
        pointer: "/messages/0/content".into(),
        message: Some(0),
    };
    match scorer {
        Scorer::Injection | Scorer::InstructionInData => {
            let settings = route.injection.as_ref()?;
            let rules = RuleSet::get().ok()?;
            let segment = if scorer == Scorer::Injection {
                segment(Role::User, Origin::Typed)
            } else {
                segment(Role::Tool, Origin::ToolResult)
            };
            Some(detect(rules, settings, &[segment]).is_some())
        }
        Scorer::Harm => {
            let filter = &route.content.as_ref()?.filter;
            Some(
                !filter.scan_terms(&row.text).is_empty()
                    || filter.compliance_cues(&row.text).is_some(),
            )
        }
        // Prompts are judged by the term lists only (harmful compliance is for answers).
        Scorer::HarmfulRequest => {
            let filter = &route.content.as_ref()?.filter;
            Some(!filter.scan_terms(&row.text).is_empty())
        }
        Scorer::Refusal => None,
    }
}
