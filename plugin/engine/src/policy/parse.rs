//! Policy JSON → [`Policy`], collecting every error with its field path.

use super::error::{PolicyError, PolicyErrorKind, PolicyErrors};
use super::reader::{Errors, Fields};
use super::size::parse_size;
use super::{Action, Check, Mode, Policy, Rule, POLICY_VERSION};
use serde_json::Value;

const MODES: [(&str, Mode); 2] = [("enforce", Mode::Enforce), ("monitor", Mode::Monitor)];
const ACTIONS: [(&str, Action); 2] = [("block", Action::Block), ("flag", Action::Flag)];

/// The rule types, by their `type` tag.
#[derive(Clone, Copy)]
enum RuleType {
    RequestBodySize,
}
const RULE_TYPES: [(&str, RuleType); 1] = [("request_body_size", RuleType::RequestBodySize)];

pub(super) fn parse_policy(document: &[u8]) -> Result<Policy, PolicyErrors> {
    let value: Value = serde_json::from_slice(document).map_err(|e| {
        PolicyErrors(vec![PolicyError::new(
            "",
            PolicyErrorKind::Syntax(e.to_string()),
        )])
    })?;
    let mut errors = Errors::default();
    let policy = read_policy(&value, &mut errors);
    match policy {
        Some(policy) if errors.is_empty() => Ok(policy),
        _ => Err(PolicyErrors(errors.into_vec())),
    }
}

fn read_policy(value: &Value, errors: &mut Errors) -> Option<Policy> {
    let mut fields = Fields::open(value, "", errors)?;
    if let Some(version) = fields.required("version", errors) {
        if version.as_u64() != Some(POLICY_VERSION) {
            errors.push(
                "version",
                PolicyErrorKind::UnsupportedVersion(version.to_string()),
            );
        }
    }
    let name = fields.required_string("name", errors);
    let owner = fields.required_string("owner", errors);
    if let Some(owner) = owner {
        if let Some(word) = team_word(owner) {
            errors.push(
                "owner",
                PolicyErrorKind::OwnerNotAPerson {
                    owner: owner.to_string(),
                    word,
                },
            );
        }
    }
    let description = fields.string("description", errors).map(str::to_string);
    let mode = fields.choice("mode", &MODES, errors).unwrap_or_default();
    let rules = read_rules(&mut fields, errors);
    fields.finish(errors);
    Some(Policy {
        name: name?.to_string(),
        owner: owner?.trim().to_string(),
        description,
        mode,
        rules,
    })
}

fn read_rules(fields: &mut Fields<'_>, errors: &mut Errors) -> Vec<Rule> {
    let mut rules: Vec<Rule> = Vec::new();
    for (path, item) in fields.array("rules", errors) {
        let Some(rule) = read_rule(&path, item, errors) else {
            continue;
        };
        if rules.iter().any(|r| r.id == rule.id) {
            errors.push(&format!("{path}.id"), PolicyErrorKind::DuplicateId(rule.id));
            continue;
        }
        rules.push(rule);
    }
    rules
}

fn read_rule(path: &str, value: &Value, errors: &mut Errors) -> Option<Rule> {
    let mut fields = Fields::open(value, path, errors)?;
    let id = fields.required_string("id", errors).map(str::to_string);
    if let Some(id) = &id {
        if !is_valid_id(id) {
            errors.push(
                &fields.path_of("id"),
                PolicyErrorKind::InvalidId(id.clone()),
            );
        }
    }
    let action = fields
        .choice("action", &ACTIONS, errors)
        .unwrap_or_default();
    let rule_type = match fields.required("type", errors) {
        Some(_) => fields.choice("type", &RULE_TYPES, errors),
        None => None,
    };
    let check = match rule_type {
        Some(RuleType::RequestBodySize) => read_body_size(&mut fields, errors),
        None => None,
    };
    // Unknown fields are only meaningful once the type is known.
    if rule_type.is_some() {
        fields.finish(errors);
    }
    Some(Rule {
        id: id?,
        action,
        check: check?,
    })
}

fn read_body_size(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<Check> {
    let value = fields.required("max_bytes", errors)?;
    match parse_size(value) {
        Ok(max_bytes) => Some(Check::RequestBodySize { max_bytes }),
        Err(reason) => {
            errors.push(
                &fields.path_of("max_bytes"),
                PolicyErrorKind::InvalidSize(reason),
            );
            None
        }
    }
}

/// Words that mark an owner as a team, role or vendor rather than a person (PSF EA-1:
/// "accountability does not reside in a team, role, or vendor").
const TEAM_WORDS: [&str; 11] = [
    "team",
    "group",
    "department",
    "dept",
    "squad",
    "committee",
    "vendor",
    "oncall",
    "on-call",
    "role",
    "owners",
];

fn team_word(owner: &str) -> Option<&'static str> {
    // Only the name part counts: "Ada Lovelace <ai-team@example.com>" names a person.
    let name = owner.split('<').next().unwrap_or(owner).to_lowercase();
    let words: Vec<&str> = name
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .collect();
    TEAM_WORDS.iter().copied().find(|w| words.contains(w))
}

fn is_valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && id.len() <= 64
}
