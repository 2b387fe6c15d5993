//! The Production Safety Framework (`../shared/psf/framework.md`) as this filter serves
//! it: where a policy stands on each of the 40 competencies (`psf-guard coverage`).
//!
//! Every competency is decided by its row of the table in `competencies.rs`, from the parsed
//! policy and nothing else: no status is guessed from text at runtime. A competency the
//! filter serves is a control with a probe (`probes.rs`) that names the policy fields
//! turning it on.
//!
//! The ids and titles are compiled in, so a report never depends on a file outside the
//! repository; the framework's text, when the caller has it, adds each full statement and
//! must list exactly these ids ([`check_framework`]).
//!
//! Glossary of the ids (domain, then competency):
//! - **IG, Input Governance:** IG-1 sanitise input, detect injection; IG-2 validate input type,
//!   length, structure; IG-3 inputs logged with PII redacted; IG-4 rate limiting, abuse alerts;
//!   IG-5 system prompt as a security boundary.
//! - **OV, Output Validation:** OV-1 every output passes a validation layer; OV-2 output schema
//!   enforced; OV-3 content filtering; OV-4 confidence signals logged, low confidence flagged;
//!   OV-5 failures surface as defined error states.
//! - **DG, Data Governance & PII:** DG-1 PII identified, classified, handled per policy; DG-2
//!   retention of PII logs enforced; DG-3 erasure without retraining; DG-4 training data
//!   provenance; DG-5 data residency.
//! - **MS, Model Selection & Evaluation:** MS-1 model selection documented; MS-2 benchmarks
//!   reviewed before deployment; MS-3 regression gate on model or provider changes; MS-4
//!   fallback on provider outage; MS-5 vendor terms reviewed.
//! - **HO, Human Oversight:** HO-1 autonomy level per decision point; HO-2 human review of
//!   high-stakes decisions; HO-3 users told they talk to AI; HO-4 override mechanisms; HO-5
//!   oversight reviewed after changes.
//! - **OM, Observability & Monitoring:** OM-1 latency, errors, throughput monitored with
//!   alerts; OM-2 output quality sampled; OM-3 usage anomalies monitored; OM-4 dashboards; OM-5
//!   structured logs kept >= 30 days.
//! - **IR, Incident Response:** IR-1 documented incident response plan; IR-2 disable, degrade
//!   or isolate within 15 minutes; IR-3 post-incident reviews; IR-4 approved customer incident
//!   messages; IR-5 rehearsed drills.
//! - **EA, Ethics & Accountability:** EA-1 named accountable owner; EA-2 bias and fairness
//!   evaluation; EA-3 regulatory compliance tracked; EA-4 accountability data on request; EA-5
//!   ethical review.

mod competencies;
mod probes;

use crate::Policy;
use competencies::{decide, COMPETENCIES, DOMAINS};
use serde::Serialize;
use std::collections::BTreeMap;

/// Where a policy stands on one competency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The policy turns the control on.
    Enforced,
    /// The filter supports it; this policy leaves it off.
    SupportedOff,
    /// Only policy metadata speaks to it.
    Documented,
    /// A process or documentation duty outside a proxy's reach.
    Organisational,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Enforced,
        Status::SupportedOff,
        Status::Documented,
        Status::Organisational,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enforced => "enforced",
            Status::SupportedOff => "supported-off",
            Status::Documented => "documented",
            Status::Organisational => "organisational",
        }
    }
}

/// One line of the report.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub id: &'static str,
    pub title: &'static str,
    pub domain: &'static str,
    pub status: Status,
    pub paths: Vec<String>,
    /// Paths where the control is on elsewhere but not here.
    pub missing: Vec<String>,
    pub note: String,
    /// The framework's full statement, when its file was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<String>,
}

/// Every competency, in the framework's order, as `policy` stands on it; `statements`
/// (from [`read_framework`]) adds each one's full text.
pub fn assess(policy: &Policy, statements: &BTreeMap<String, String>) -> Vec<Entry> {
    COMPETENCIES
        .iter()
        .map(|competency| {
            let (status, found, note) = decide(policy, competency);
            Entry {
                id: competency.id,
                title: competency.title,
                domain: domain(competency.id),
                status,
                paths: found.paths,
                missing: found.missing,
                note,
                statement: statements.get(competency.id).cloned(),
            }
        })
        .collect()
}

/// How many entries have each status (every status present, zero or not).
pub fn tally(entries: &[Entry]) -> BTreeMap<Status, usize> {
    let mut tally: BTreeMap<Status, usize> = Status::ALL.iter().map(|s| (*s, 0)).collect();
    for entry in entries {
        *tally.entry(entry.status).or_default() += 1;
    }
    tally
}

fn domain(id: &str) -> &'static str {
    let prefix = id.split('-').next().unwrap_or(id);
    DOMAINS
        .iter()
        .find(|(p, _)| *p == prefix)
        .map_or("", |(_, name)| name)
}

/// The full statements by id, read from the framework's `- **IG-1** …` lines.
pub fn read_framework(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.strip_prefix("- **"))
        .filter_map(|rest| rest.split_once("**"))
        .map(|(id, statement)| (id.trim().to_string(), statement.trim().to_string()))
        .collect()
}

/// Whether a framework's statements list exactly the compiled-in ids; else which ids are
/// only in the file and which only in the table (a framework that grew a competency must
/// fail loudly, not be reported short).
pub fn check_framework(statements: &BTreeMap<String, String>) -> Result<(), String> {
    let known: Vec<&str> = COMPETENCIES.iter().map(|c| c.id).collect();
    let unknown: Vec<&str> = statements
        .keys()
        .map(String::as_str)
        .filter(|id| !known.contains(id))
        .collect();
    let absent: Vec<&str> = known
        .iter()
        .copied()
        .filter(|id| !statements.contains_key(*id))
        .collect();
    if unknown.is_empty() && absent.is_empty() {
        return Ok(());
    }
    Err(format!(
        "does not match the coverage table (in the file only: [{}]; in the table only: [{}])",
        unknown.join(", "),
        absent.join(", ")
    ))
}
