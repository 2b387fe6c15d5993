//! The `audit` section of a policy.

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use crate::audit::settings::{AuditSettings, Collector};

/// PSF OM-5 asks for at least 30 days.
const MIN_RETENTION_DAYS: u64 = 30;

pub(super) fn read_audit(fields: &mut Fields<'_>, errors: &mut Errors) -> AuditSettings {
    let defaults = AuditSettings::default();
    let Some(value) = fields.value("audit") else {
        return defaults;
    };
    let Some(mut section) = Fields::open(value, &fields.path_of("audit"), errors) else {
        return defaults;
    };
    let retention_days = section
        .count("retention_days", errors)
        .unwrap_or(defaults.retention_days);
    let short_ok = section
        .boolean("allow_short_retention", errors)
        .unwrap_or(false);
    if retention_days == 0 || (retention_days < MIN_RETENTION_DAYS && !short_ok) {
        errors.push(
            &section.path_of("retention_days"),
            PolicyErrorKind::Invalid(format!(
                "{retention_days} days is under the {MIN_RETENTION_DAYS} PSF OM-5 asks for; set \"allow_short_retention\": true to keep it (at least 1)"
            )),
        );
    }
    let subject_header = section
        .string("subject_header", errors)
        .map(str::to_ascii_lowercase);
    let subject_key = section.string("subject_key", errors).map(str::to_string);
    if subject_header.is_some() && subject_key.as_deref().is_none_or(|k| k.len() < 16) {
        errors.push(
            &section.path_of("subject_key"),
            PolicyErrorKind::Invalid(
                "a subject_header needs a subject_key of at least 16 characters: subjects are stored only as its HMAC".into(),
            ),
        );
    }
    let sample_rate = match section.value("sample_rate") {
        None => 0.01,
        Some(rate) => match rate.as_f64().filter(|r| (0.0..=1.0).contains(r)) {
            Some(rate) => rate,
            None => {
                errors.push(
                    &section.path_of("sample_rate"),
                    PolicyErrorKind::Invalid(format!("{rate} is not a fraction between 0 and 1")),
                );
                0.01
            }
        },
    };
    let include_text = section.boolean("include_text", errors).unwrap_or(false);
    let collector = read_collector(&mut section, errors);
    let model_labels = section.strings("model_labels", errors).unwrap_or_default();
    if model_labels.len() > MAX_MODEL_LABELS {
        errors.push(
            &section.path_of("model_labels"),
            PolicyErrorKind::Invalid(format!(
                "{} names; at most {MAX_MODEL_LABELS}, each a metric label of its own",
                model_labels.len()
            )),
        );
    }
    section.finish(errors);
    AuditSettings {
        retention_days,
        subject_header,
        subject_key,
        include_text,
        sample_per_million: (sample_rate * 1_000_000.0).round() as u32,
        collector,
        model_labels,
    }
}

/// Model names and patterns that get a metric label of their own: each is a stat forever.
const MAX_MODEL_LABELS: usize = 200;

fn read_collector(section: &mut Fields<'_>, errors: &mut Errors) -> Option<Collector> {
    let value = section.value("collector")?;
    let mut fields = Fields::open(value, &section.path_of("collector"), errors)?;
    let cluster = fields
        .required_string("cluster", errors)
        .map(str::to_string);
    let path = fields.string("path", errors).unwrap_or("/").to_string();
    let authority = fields.string("authority", errors).map(str::to_string);
    let timeout_ms = fields.count("timeout_ms", errors).unwrap_or(2000);
    let batch = fields.count("batch", errors).unwrap_or(100);
    let max_pending = fields.count("max_pending", errors).unwrap_or(10_000);
    for (name, value, low, high) in [
        ("timeout_ms", timeout_ms, 1, 60_000),
        ("batch", batch, 1, 10_000),
        ("max_pending", max_pending, 1, 1_000_000),
    ] {
        if !(low..=high).contains(&value) {
            errors.push(
                &fields.path_of(name),
                PolicyErrorKind::Invalid(format!("{value} is not between {low} and {high}")),
            );
        }
    }
    fields.finish(errors);
    let cluster = cluster?;
    Some(Collector {
        authority: authority.unwrap_or_else(|| cluster.clone()),
        cluster,
        path,
        timeout_ms,
        batch: batch as usize,
        max_pending: max_pending as usize,
    })
}
