//! The probes: what in a policy turns each control on, as config paths.

use super::competencies::Found;
use crate::llm::ApiFormat;
use crate::policy::{HiddenCharacters, Route, StateAction};
use crate::Policy;

/// A metadata field of the policy, when set. New metadata fields are added here.
pub(super) fn metadata<'p>(policy: &'p Policy, field: &str) -> Option<&'p str> {
    match field {
        "name" => Some(policy.name.as_str()),
        "owner" => Some(policy.owner.as_str()),
        "description" => policy.description.as_deref(),
        // The accountability lists: evidence recorded, with dates, in the policy.
        list => {
            let name = list.strip_prefix("accountability.")?;
            let (key, entries) = policy.accountability.document.get_key_value(name)?;
            (!entries.as_array()?.is_empty()).then_some(key.as_str())
        }
    }
}

pub(super) fn nothing(_: &Policy) -> Found {
    Found::default()
}

pub(super) fn route_path(route: &Route, section: &str) -> String {
    if section.is_empty() {
        format!("routes[{}]", route.id)
    } else {
        format!("routes[{}].{section}", route.id)
    }
}

/// A per-route section: on where `has` holds, missing on the routes `applies` to without it.
pub(super) fn per_route(
    policy: &Policy,
    section: &str,
    applies: fn(&Route) -> bool,
    has: fn(&Route) -> bool,
) -> Found {
    let paths: Vec<String> = policy
        .routes
        .iter()
        .filter(|r| has(r))
        .map(|r| route_path(r, section))
        .collect();
    let missing = if paths.is_empty() {
        Vec::new()
    } else {
        policy
            .routes
            .iter()
            .filter(|r| applies(r) && !has(r))
            .map(|r| route_path(r, section))
            .collect()
    };
    Found {
        on: !paths.is_empty(),
        paths,
        missing,
    }
}

pub(super) fn injection(policy: &Policy) -> Found {
    let mut found = per_route(policy, "injection", Route::inspects_body, |r| {
        r.injection.is_some()
    });
    if found.on {
        found.paths.extend(
            policy
                .routes
                .iter()
                .filter(|r| r.hidden_characters != HiddenCharacters::Allow)
                .map(|r| route_path(r, "sanitize.hidden_characters")),
        );
    }
    found
}

pub(super) fn input_checks(policy: &Policy) -> Found {
    let mut paths: Vec<String> = policy
        .routes
        .iter()
        .filter(|r| r.inspects_body())
        .map(|r| route_path(r, "limits"))
        .collect();
    // Every rule kind is an input check today; a new kind must say whether it is one.
    paths.extend(policy.rules.iter().map(|rule| match rule.check {
        crate::Check::RequestBodySize { .. } => format!("rules[{}]", rule.id),
    }));
    Found {
        on: !paths.is_empty(),
        paths,
        missing: Vec::new(),
    }
}

pub(super) fn audit_sampling(policy: &Policy) -> Found {
    let mut paths = vec!["audit".to_string()];
    paths.extend(quality_sampling(policy).paths);
    Found::on(paths)
}

pub(super) fn quality_sampling(policy: &Policy) -> Found {
    let mut paths = Vec::new();
    if policy.audit.sample_per_million > 0 {
        paths.push("audit.sample_rate".to_string());
    }
    if policy.audit.include_text {
        paths.push("audit.include_text".to_string());
    }
    Found {
        on: !paths.is_empty(),
        paths,
        missing: Vec::new(),
    }
}

pub(super) fn rate_limits(policy: &Policy) -> Found {
    let Some(rates) = &policy.rate_limits else {
        return Found::default();
    };
    let mut found = Found::on(
        rates
            .limits
            .iter()
            .map(|l| format!("rate_limits.limits[{}]", l.id))
            .collect(),
    );
    if policy.abuse.is_some() {
        found.paths.push("abuse".into());
    } else {
        found.missing.push("abuse".into());
    }
    found
}

pub(super) fn is_chat(route: &Route) -> bool {
    matches!(
        route.api_format(),
        Some(ApiFormat::OpenAiChat | ApiFormat::OpenAiResponses | ApiFormat::AnthropicMessages)
    )
}

pub(super) fn system_prompt(policy: &Policy) -> Found {
    per_route(policy, "system_prompt", is_chat, |r| {
        r.system_prompt.is_some()
    })
}

pub(super) fn reads_responses(policy: &Policy) -> Found {
    per_route(policy, "", |_| false, Route::reads_responses)
}

pub(super) fn output_schema(policy: &Policy) -> Found {
    per_route(
        policy,
        "output_schema",
        |_| false,
        |r| r.output_schema.is_some(),
    )
}

pub(super) fn content_filter(policy: &Policy) -> Found {
    per_route(policy, "content_filter", Route::inspects_body, |r| {
        r.content.as_ref().is_some_and(|c| c.response)
    })
}

pub(super) fn confidence(policy: &Policy) -> Found {
    per_route(policy, "confidence", |_| false, |r| r.confidence.is_some())
}

pub(super) fn output_errors(policy: &Policy) -> Found {
    per_route(policy, "output_errors", Route::inspects_body, |r| {
        let e = r.output_errors;
        r.inspects_body()
            && [
                e.upstream_error,
                e.upstream_timeout,
                e.malformed_output,
                e.truncated_stream,
                e.refusal,
                e.empty_output,
                e.output_truncated,
                e.provider_filtered,
            ]
            .iter()
            .any(|action| *action != StateAction::Pass)
    })
}

pub(super) fn pii(policy: &Policy) -> Found {
    per_route(policy, "pii", Route::inspects_body, |r| r.pii.is_some())
}

pub(super) fn retention(_: &Policy) -> Found {
    Found::on(vec!["audit.retention_days".into()])
}

pub(super) fn retention_30_days(policy: &Policy) -> Found {
    Found {
        on: policy.audit.retention_days >= 30,
        paths: vec!["audit.retention_days".into()],
        missing: Vec::new(),
    }
}

pub(super) fn subjects(policy: &Policy) -> Found {
    if policy.audit.subject_header.is_none() {
        return Found::default();
    }
    Found::on(vec![
        "audit.subject_header".into(),
        "audit.subject_key".into(),
    ])
}

pub(super) fn abuse(policy: &Policy) -> Found {
    let Some(abuse) = &policy.abuse else {
        return Found::default();
    };
    let mut paths = vec!["abuse".to_string()];
    if abuse.webhook.is_some() {
        paths.push("abuse.webhook".into());
    }
    Found::on(paths)
}

pub(super) fn models(policy: &Policy) -> Found {
    Found::evidence(
        policy
            .routes
            .iter()
            .filter(|r| !r.limits.models.is_empty())
            .map(|r| route_path(r, "limits.models"))
            .collect(),
    )
}

pub(super) fn fallback(policy: &Policy) -> Found {
    per_route(policy, "fallback", Route::inspects_body, |r| {
        r.fallback.is_some()
    })
}

pub(super) fn residency(policy: &Policy) -> Found {
    match &policy.residency {
        Some(_) => Found::on(vec!["residency".into()]),
        None => Found::default(),
    }
}

pub(super) fn approved_models(policy: &Policy) -> Found {
    per_route(policy, "approved_models", Route::inspects_body, |r| {
        r.approved_models.is_some()
    })
}

pub(super) fn autonomy(policy: &Policy) -> Found {
    per_route(policy, "autonomy", |_| true, |r| r.autonomy.is_some())
}

pub(super) fn review(policy: &Policy) -> Found {
    per_route(
        policy,
        "review",
        |r| r.review.is_some(),
        |r| r.review.is_some(),
    )
}

pub(super) fn disclosure(policy: &Policy) -> Found {
    per_route(policy, "disclosure", |_| true, |r| r.disclosure.header)
}

pub(super) fn overrides(policy: &Policy) -> Found {
    let mut paths = vec!["mode".to_string()];
    if policy.incident.admin.is_some() {
        paths.push("incident.admin".into());
    }
    paths.extend(
        policy
            .routes
            .iter()
            .filter(|r| r.review.is_some())
            .map(|r| route_path(r, "review")),
    );
    Found::on(paths)
}

pub(super) fn accountability(policy: &Policy) -> Found {
    if !policy.accountability.endpoint {
        return Found::default();
    }
    let mut paths = vec!["accountability.endpoint".to_string()];
    paths.extend(
        policy
            .accountability
            .document
            .keys()
            .map(|k| format!("accountability.{k}")),
    );
    Found::on(paths)
}

pub(super) fn kill_switch(policy: &Policy) -> Found {
    match &policy.incident.admin {
        Some(_) => Found::on(vec!["incident.admin".into(), "mode".into()]),
        None => Found::default(),
    }
}

/// Both messages, each with its approval.
pub(super) fn templates(policy: &Policy) -> Found {
    let incident = &policy.incident;
    let mut found = Found::default();
    for (name, template) in [
        ("degrade", &incident.degrade),
        ("isolate", &incident.isolate),
    ] {
        let path = format!("incident.templates.{name}");
        match template {
            Some(t) if t.approved_by.is_some() && t.approved_on.is_some() => found.paths.push(path),
            _ => found.missing.push(path),
        }
    }
    if found.missing.is_empty() {
        Found::on(found.paths)
    } else {
        Found {
            missing: found.missing,
            ..Found::default()
        }
    }
}

pub(super) fn owner(_: &Policy) -> Found {
    Found::on(vec!["owner".into()])
}
