//! Policy JSON → [`Policy`], collecting every error with its field path.

use super::accountability::read_accountability;
use super::audit::read_audit;
use super::confidence::read_confidence;
use super::content::read_content;
use super::error::{PolicyError, PolicyErrorKind, PolicyErrors};
use super::fallback::read_fallback;
use super::guards::HiddenCharacters;
use super::guards::{read_injection, read_sanitize, read_system_prompt};
use super::incident::read_incident;
use super::links::read_links;
use super::output_errors::read_output_errors;
use super::output_schema::read_output_schema;
use super::oversight::{read_approved_models, read_autonomy, read_disclosure};
use super::pii::read_pii;
use super::rate_limits::{read_abuse, read_rate_limits};
use super::reader::{Errors, Fields};
use super::residency::read_residency;
use super::review::read_review;
use super::route::{
    BodyFormat, EncodedBodies, Limits, MaxTokens, OverCap, PathMatch, Route, UnknownFields, ROLES,
};
use super::size::parse_size;
use super::{Action, Check, Mode, Policy, Rule, POLICY_VERSION};
use crate::llm::{ApiFormat, SelectorFormat};
use serde_json::Value;

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
    let policy = read_policy(&value, document, &mut errors);
    match policy {
        Some(policy) if errors.is_empty() => Ok(policy),
        _ => Err(PolicyErrors(errors.into_vec())),
    }
}

fn read_policy(value: &Value, document: &[u8], errors: &mut Errors) -> Option<Policy> {
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
    let mode = fields
        .choice("mode", &Mode::ALL, errors)
        .unwrap_or_default();
    let rules = read_rules(&mut fields, errors);
    let routes = read_routes(&mut fields, errors);
    let rate_limits = read_rate_limits(&mut fields, name, errors);
    let max_keys = rate_limits.as_ref().map(|r| r.max_keys);
    let abuse = read_abuse(&mut fields, name, max_keys, errors);
    let audit = read_audit(&mut fields, errors);
    let incident = read_incident(&mut fields, errors);
    let accountability = read_accountability(&mut fields, errors);
    let residency = read_residency(&mut fields, errors);
    for (i, limit) in rate_limits.iter().flat_map(|r| r.limits.iter().enumerate()) {
        for route in &limit.routes {
            if !routes.iter().any(|r| &r.id == route) {
                errors.push(
                    &format!("rate_limits.limits[{i}].routes"),
                    PolicyErrorKind::Invalid(format!("no route has id {route:?}")),
                );
            }
        }
    }
    fields.finish(errors);
    Some(Policy {
        name: name?.to_string(),
        owner: owner?.trim().to_string(),
        description,
        mode,
        rules,
        routes,
        rate_limits,
        abuse,
        audit,
        digest: crate::audit::chain::sha256_hex(document)[..12].to_string(),
        incident,
        accountability,
        residency,
        loaded_ms: 0,
    })
}

fn read_rules(fields: &mut Fields<'_>, errors: &mut Errors) -> Vec<Rule> {
    read_unique(fields, "rules", errors, read_rule, |rule| &rule.id)
}

/// The elements of array `name`, each read by `read`; an element whose id repeats an
/// earlier one is reported and dropped.
fn read_unique<T>(
    fields: &mut Fields<'_>,
    name: &'static str,
    errors: &mut Errors,
    read: fn(&str, &Value, &mut Errors) -> Option<T>,
    id: fn(&T) -> &String,
) -> Vec<T> {
    let mut items: Vec<T> = Vec::new();
    for (path, value) in fields.array(name, errors) {
        let Some(item) = read(&path, value, errors) else {
            continue;
        };
        if items.iter().any(|seen| id(seen) == id(&item)) {
            errors.push(
                &format!("{path}.id"),
                PolicyErrorKind::DuplicateId(id(&item).clone()),
            );
            continue;
        }
        items.push(item);
    }
    items
}

fn read_rule(path: &str, value: &Value, errors: &mut Errors) -> Option<Rule> {
    let mut fields = Fields::open(value, path, errors)?;
    let id = read_id(&mut fields, errors);
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

/// The required `id` of a rule or route, checked for its form.
fn read_id(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<String> {
    let id = fields.required_string("id", errors)?.to_string();
    if !is_valid_id(&id) {
        errors.push(
            &fields.path_of("id"),
            PolicyErrorKind::InvalidId(id.clone()),
        );
    }
    Some(id)
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

const FORMATS: [(&str, Option<ApiFormat>); 5] = [
    ("openai_chat", Some(ApiFormat::OpenAiChat)),
    ("openai_responses", Some(ApiFormat::OpenAiResponses)),
    ("anthropic_messages", Some(ApiFormat::AnthropicMessages)),
    ("completions", Some(ApiFormat::Completions)),
    ("none", None),
];
const OVER_CAP: [(&str, OverCap); 2] = [("reject", OverCap::Reject), ("clamp", OverCap::Clamp)];

fn read_routes(fields: &mut Fields<'_>, errors: &mut Errors) -> Vec<Route> {
    read_unique(fields, "routes", errors, read_route, |route| &route.id)
}

fn read_route(path: &str, value: &Value, errors: &mut Errors) -> Option<Route> {
    let mut fields = Fields::open(value, path, errors)?;
    let id = read_id(&mut fields, errors);
    let exact = fields.string("path", errors);
    let prefix = fields.string("path_prefix", errors);
    let path_match = match (exact, prefix) {
        (Some(exact), None) => Some(PathMatch::Exact(exact.to_string())),
        (None, Some(prefix)) => Some(PathMatch::Prefix(prefix.to_string())),
        _ => {
            errors.push(
                &fields.path_of("path"),
                PolicyErrorKind::Invalid("give exactly one of \"path\" or \"path_prefix\"".into()),
            );
            None
        }
    };
    let methods = fields
        .strings("methods", errors)
        .unwrap_or_default()
        .into_iter()
        .map(|m| m.to_ascii_uppercase())
        .collect();
    let named = fields.choice("format", &FORMATS, errors);
    let selectors = read_selectors(&mut fields, errors);
    let format = match (named, selectors) {
        (Some(_), Some(_)) => {
            errors.push(
                &fields.path_of("selectors"),
                PolicyErrorKind::Invalid(
                    "give either \"format\" or \"selectors\", not both".into(),
                ),
            );
            None
        }
        (Some(named), None) => named.map(BodyFormat::Api),
        (None, Some(selectors)) => Some(BodyFormat::Selectors(selectors)),
        (None, None) => match &path_match {
            Some(PathMatch::Exact(exact)) => ApiFormat::for_path(exact).map(BodyFormat::Api),
            _ => None,
        },
    };
    let limits = match fields.value("limits") {
        Some(limits) => read_limits(&fields.path_of("limits"), limits, format.is_some(), errors),
        None => Some(default_limits(format.is_some())),
    };
    if let (None, Some(limits)) = (&format, &limits) {
        if let Some(name) = body_limit_in_use(limits) {
            let reason = format!(
                "{name} needs a body to read: give the route a \"format\" or \"selectors\""
            );
            errors.push(
                &format!("{}.{name}", fields.path_of("limits")),
                PolicyErrorKind::Invalid(reason),
            );
        }
    }
    let hidden_characters = read_sanitize(&mut fields, errors);
    let injection = read_injection(&mut fields, errors);
    let api = match &format {
        Some(BodyFormat::Api(api)) => Some(*api),
        _ => None,
    };
    let system_prompt = read_system_prompt(&mut fields, api, errors);
    let pii = read_pii(&mut fields, errors);
    let content = read_content(&mut fields, errors);
    let links = read_links(&mut fields, errors);
    let output_errors = read_output_errors(&mut fields, errors);
    let output_schema = read_output_schema(&mut fields, errors);
    let confidence = read_confidence(&mut fields, errors);
    let mode = fields.choice("mode", &Mode::ALL, errors);
    let autonomy = read_autonomy(&mut fields, errors);
    let disclosure = read_disclosure(&mut fields, errors);
    let approved_models = read_approved_models(&mut fields, errors);
    let review = read_review(&mut fields, errors);
    let fallback = read_fallback(&mut fields, errors);
    let unknown_fields = fields
        .choice("unknown_fields", &UnknownFields::CHOICES, errors)
        .unwrap_or_default();
    let encoded_bodies = fields
        .choice("encoded_bodies", &EncodedBodies::CHOICES, errors)
        .unwrap_or_default();
    if review.is_some() && autonomy != Some(super::Autonomy::Supervised) {
        errors.push(
            &fields.path_of("review"),
            PolicyErrorKind::Invalid(
                "human review is for supervised routes: set \"autonomy\": \"supervised\"".into(),
            ),
        );
    }
    if approved_models.is_some() && format.is_none() {
        errors.push(
            &fields.path_of("approved_models"),
            PolicyErrorKind::Invalid(
                "checking the model needs a body to read: give the route a \"format\"".into(),
            ),
        );
    }
    let reads_text = hidden_characters != HiddenCharacters::Allow
        || injection.is_some()
        || pii.is_some()
        || content.is_some();
    if reads_text && format.is_none() {
        let section = if content.is_some() {
            "content_filter"
        } else if pii.is_some() {
            "pii"
        } else if injection.is_some() {
            "injection"
        } else {
            "sanitize"
        };
        errors.push(
            &fields.path_of(section),
            PolicyErrorKind::Invalid(
                "inspecting text needs a body to read: give the route a \"format\" or \"selectors\"".into(),
            ),
        );
    }
    fields.finish(errors);
    Some(Route {
        id: id?,
        path: path_match?,
        methods,
        format,
        limits: limits?,
        hidden_characters,
        injection,
        system_prompt,
        pii,
        content,
        links,
        output_errors,
        output_schema,
        confidence,
        mode,
        autonomy,
        disclosure,
        approved_models,
        review,
        fallback,
        unknown_fields,
        encoded_bodies,
    })
}

fn read_selectors(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<SelectorFormat> {
    fields.value("selectors")?;
    let mut selectors = Vec::new();
    for (path, item) in fields.array("selectors", errors) {
        let Some(mut selector) = Fields::open(item, &path, errors) else {
            continue;
        };
        let pointer = selector.required_string("pointer", errors);
        if let Some(pointer) = pointer {
            if !pointer.starts_with('/') {
                errors.push(
                    &selector.path_of("pointer"),
                    PolicyErrorKind::Invalid(format!(
                        "{pointer:?} is not a JSON pointer (it must start with '/')"
                    )),
                );
            }
        }
        let role = selector
            .choice("role", &ROLES, errors)
            .unwrap_or(crate::llm::Role::User);
        selector.finish(errors);
        if let Some(pointer) = pointer {
            selectors.push((pointer.to_string(), role));
        }
    }
    Some(SelectorFormat { selectors })
}

/// The first limit set that only a route reading the body can check.
fn body_limit_in_use(limits: &Limits) -> Option<&'static str> {
    [
        ("max_messages", limits.max_messages.is_some()),
        ("max_message_chars", limits.max_message_chars.is_some()),
        ("max_total_chars", limits.max_total_chars.is_some()),
        ("max_prompt_tokens", limits.max_prompt_tokens.is_some()),
        ("max_tokens", limits.max_tokens.is_some()),
        ("models", !limits.models.is_empty()),
        ("stream", !limits.allow_stream),
        ("max_n", limits.max_n.is_some()),
        ("tools", limits.tools.is_some()),
    ]
    .into_iter()
    .find_map(|(name, set)| set.then_some(name))
}

fn default_limits(json_body: bool) -> Limits {
    Limits {
        content_types: if json_body {
            vec!["application/json".into()]
        } else {
            Vec::new()
        },
        allow_stream: true,
        ..Limits::default()
    }
}

fn read_limits(path: &str, value: &Value, json_body: bool, errors: &mut Errors) -> Option<Limits> {
    let mut fields = Fields::open(value, path, errors)?;
    let defaults = default_limits(json_body);
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let limits = Limits {
        content_types: fields
            .strings("content_types", errors)
            .map(|types| types.into_iter().map(|t| t.to_ascii_lowercase()).collect())
            .unwrap_or(defaults.content_types),
        max_messages: fields.count("max_messages", errors).map(to_usize),
        max_message_chars: fields.count("max_message_chars", errors).map(to_usize),
        max_total_chars: fields.count("max_total_chars", errors).map(to_usize),
        max_prompt_tokens: fields.count("max_prompt_tokens", errors),
        max_tokens: read_max_tokens(&mut fields, errors),
        models: fields.strings("models", errors).unwrap_or_default(),
        allow_stream: fields.boolean("stream", errors).unwrap_or(true),
        max_n: fields.count("max_n", errors),
        tools: fields.strings("tools", errors),
    };
    fields.finish(errors);
    Some(limits)
}

fn read_max_tokens(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<MaxTokens> {
    let value = fields.value("max_tokens")?;
    let mut cap = Fields::open(value, &fields.path_of("max_tokens"), errors)?;
    let max = cap
        .required("max", errors)
        .and_then(|_| cap.count("max", errors));
    let over = cap
        .choice("action", &OVER_CAP, errors)
        .unwrap_or(OverCap::Reject);
    cap.finish(errors);
    Some(MaxTokens { max: max?, over })
}
