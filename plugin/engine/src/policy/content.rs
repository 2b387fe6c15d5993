//! The `content_filter` section of a route (PSF OV-3): categories with actions and
//! thresholds, extra terms, allowed phrases, and the directions it applies to.

use super::error::PolicyErrorKind;
use super::reader::{type_name, Errors, Fields};
use crate::detect::content::{
    category_terms, CategoryRule, ContentAction, ContentFilter, ContentSettings, CATEGORIES,
    COMPLIANCE_CATEGORY, DEFAULT_POINTS,
};
use regex::Regex;
use serde_json::Value;
use std::sync::Arc;

const ACTIONS: [(&str, ContentAction); 2] = [
    ("block", ContentAction::Block),
    ("flag", ContentAction::Flag),
];
const DIRECTIONS: [(&str, bool); 2] = [("request", true), ("response", false)];

pub(super) fn read_content(
    fields: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<ContentSettings> {
    let value = fields.value("content_filter")?;
    let path = fields.path_of("content_filter");
    let mut section = Fields::open(value, &path, errors)?;
    let extra = read_term_map(&mut section, "terms", errors);
    let regexes = read_patterns(&mut section, errors);
    let mut rules = read_categories(&mut section, errors);
    // Categories that bring their own terms or regex rules.
    let named: Vec<&String> = extra
        .iter()
        .map(|(name, _)| name)
        .chain(regexes.iter().map(|(name, _)| name))
        .collect();
    for name in &named {
        if !rules.iter().any(|r| &r.name == *name) {
            if CATEGORIES.contains(&name.as_str()) {
                continue;
            }
            // A custom category is on, blocking, once it has terms.
            rules.push(CategoryRule {
                name: (*name).clone(),
                action: ContentAction::Block,
                threshold: 1,
                learned: None,
            });
        }
    }
    for rule in &rules {
        let known = CATEGORIES.contains(&rule.name.as_str()) || rule.name == COMPLIANCE_CATEGORY;
        if !known && !named.contains(&&rule.name) {
            let mut expected: Vec<&'static str> = CATEGORIES.to_vec();
            expected.push(COMPLIANCE_CATEGORY);
            errors.push(
                &format!("{path}.categories.{}", rule.name),
                PolicyErrorKind::UnknownValue {
                    what: "category",
                    found: rule.name.clone(),
                    expected,
                },
            );
        }
    }
    let allowed = section.strings("allow_terms", errors).unwrap_or_default();
    let (mut request, mut response) = (false, true);
    if section.value("directions").is_some() {
        response = false;
        for (at, item) in section.array("directions", errors) {
            match item
                .as_str()
                .and_then(|d| DIRECTIONS.iter().find(|(n, _)| *n == d))
            {
                Some((_, true)) => request = true,
                Some((_, false)) => response = true,
                None => errors.push(
                    &at,
                    PolicyErrorKind::UnknownValue {
                        what: "direction",
                        found: item.to_string(),
                        expected: vec!["request", "response"],
                    },
                ),
            }
        }
    }
    let learned_requests = section.boolean("learned_requests", errors).unwrap_or(false);
    let moderation = super::moderation::read_moderation(&mut section, errors);
    let scope = super::scope::read_scope(&mut section, errors);
    section.finish(errors);
    let terms: Vec<Vec<String>> = rules
        .iter()
        .map(|rule| {
            let mut list: Vec<String> = category_terms(&rule.name)
                .into_iter()
                .map(str::to_string)
                .collect();
            for (name, more) in &extra {
                if *name == rule.name {
                    list.extend(more.iter().cloned());
                }
            }
            list
        })
        .collect();
    let patterns: Vec<Vec<Regex>> = rules
        .iter()
        .map(|rule| {
            regexes
                .iter()
                .filter(|(name, _)| *name == rule.name)
                .flat_map(|(_, list)| list.iter().cloned())
                .collect()
        })
        .collect();
    match ContentFilter::new(rules, &terms, patterns, &allowed) {
        Ok(filter) => Some(ContentSettings {
            filter: Arc::new(filter),
            request,
            response,
            learned_requests,
            moderation,
            scope: scope.map(Arc::new),
            source: value.to_string(),
        }),
        Err(reason) => {
            errors.push(&path, PolicyErrorKind::Invalid(reason));
            None
        }
    }
}

/// `{"violence": "block", "self_harm": {"action": "flag", "threshold": 2}}`; every built-in
/// category, blocking at one hit, when absent.
fn read_categories(section: &mut Fields<'_>, errors: &mut Errors) -> Vec<CategoryRule> {
    let Some(entries) = section.entries("categories", errors) else {
        return CATEGORIES
            .iter()
            .map(|name| CategoryRule {
                name: name.to_string(),
                action: ContentAction::Block,
                threshold: 1,
                learned: None,
            })
            .collect();
    };
    let mut rules = Vec::new();
    for (at, name, setting) in entries {
        let scored = name == COMPLIANCE_CATEGORY;
        let mut learned = scored.then_some(1u8);
        let (action, threshold) = match setting {
            Value::String(_) => (setting.as_str(), default_threshold(name)),
            Value::Object(_) => {
                let Some(mut rule) = Fields::open(setting, &at, errors) else {
                    continue;
                };
                let action = rule.string("action", errors);
                let threshold = rule
                    .count("threshold", errors)
                    .unwrap_or(default_threshold(name));
                if scored {
                    learned = read_learned(&mut rule, errors);
                }
                rule.finish(errors);
                (action, threshold.max(1))
            }
            other => {
                errors.push(
                    &at,
                    PolicyErrorKind::WrongType {
                        expected: "an action or {action, threshold}",
                        found: type_name(other),
                    },
                );
                continue;
            }
        };
        let action = match action.map(|a| ACTIONS.iter().find(|(n, _)| *n == a)) {
            Some(Some((_, action))) => *action,
            None => ContentAction::Block,
            Some(None) => {
                errors.push(
                    &at,
                    PolicyErrorKind::UnknownValue {
                        what: "action",
                        found: action.unwrap_or_default().to_string(),
                        expected: ACTIONS.iter().map(|(n, _)| *n).collect(),
                    },
                );
                continue;
            }
        };
        rules.push(CategoryRule {
            name: name.to_string(),
            action,
            threshold: usize::try_from(threshold).unwrap_or(1),
            learned,
        });
    }
    rules
}

/// `harmful_compliance`'s learned scorer: `"learned": false` turns it off, `"paranoia"`
/// (1–4, default 1) sets its threshold.
fn read_learned(rule: &mut Fields<'_>, errors: &mut Errors) -> Option<u8> {
    let on = rule.boolean("learned", errors).unwrap_or(true);
    let level = match rule.count("paranoia", errors) {
        None => 1,
        Some(level @ 1..=4) => level as u8,
        Some(level) => {
            errors.push(
                &rule.path_of("paranoia"),
                PolicyErrorKind::Invalid(format!("{level} is not a paranoia level; use 1 to 4")),
            );
            1
        }
    };
    on.then_some(level)
}

/// `{"name": ["regex", …]}`: regex rules on the normalised text (lower case, look-alikes
/// folded, punctuation kept), each counting as one hit of its category.
fn read_patterns(section: &mut Fields<'_>, errors: &mut Errors) -> Vec<(String, Vec<Regex>)> {
    let path = section.path_of("patterns");
    let mut out = Vec::new();
    for (name, sources) in read_term_map(section, "patterns", errors) {
        let mut compiled = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            match crate::policy::user_regex::compile(source) {
                Ok(regex) => compiled.push(regex),
                Err(reason) => errors.push(
                    &format!("{path}.{name}[{index}]"),
                    PolicyErrorKind::Invalid(reason),
                ),
            }
        }
        out.push((name, compiled));
    }
    out
}

/// Term categories act on one hit; the scored category on [`DEFAULT_POINTS`].
fn default_threshold(category: &str) -> u64 {
    if category == COMPLIANCE_CATEGORY {
        DEFAULT_POINTS as u64
    } else {
        1
    }
}

/// `{"name": ["term", …]}`: terms added to a built-in category, a category of the route's
/// own, or a scope topic's keywords.
pub(super) fn read_term_map(
    section: &mut Fields<'_>,
    field: &'static str,
    errors: &mut Errors,
) -> Vec<(String, Vec<String>)> {
    let Some(entries) = section.entries(field, errors) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (at, name, list) in entries {
        let terms: Option<Vec<String>> = list.as_array().and_then(|items| {
            items
                .iter()
                .map(|t| t.as_str().map(str::to_string))
                .collect()
        });
        match terms {
            Some(terms) if terms.iter().all(|t| !t.trim().is_empty()) => {
                out.push((name.to_string(), terms))
            }
            _ => errors.push(
                &at,
                PolicyErrorKind::WrongType {
                    expected: "an array of non-blank strings",
                    found: type_name(list),
                },
            ),
        }
    }
    out
}
