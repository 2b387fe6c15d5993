//! The `pii` section of a route (PSF DG-1): actions per entity type or class and direction,
//! restore, the pseudonym key, custom entities and the optional high-entropy detector.

use super::error::PolicyErrorKind;
use super::reader::{type_name, Errors, Fields};
use crate::detect::pii::action::PiiAction;
use crate::detect::pii::detect::{
    CustomEntity, CustomValidator, EntityClass, EntityType, EntropySettings, Scanner, ScannerConfig,
};
use crate::detect::pii::settings::{ActionMap, Direction, PiiSettings};
use std::sync::Arc;

/// A pseudonym key shorter than this is guessable by brute force over likely values.
const MIN_KEY_BYTES: usize = 16;

const VALIDATORS: [(&str, CustomValidator); 3] = [
    ("none", CustomValidator::None),
    ("luhn", CustomValidator::Luhn),
    ("mod97", CustomValidator::Mod97),
];

pub(super) fn read_pii(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<PiiSettings> {
    let value = fields.value("pii")?;
    let path = fields.path_of("pii");
    let mut pii = Fields::open(value, &path, errors)?;
    let custom = read_custom(&mut pii, errors);
    let entropy = read_entropy(&mut pii, errors);
    let min_score = fraction(&mut pii, "min_score", errors).unwrap_or(0.5);
    let custom_names: Vec<String> = custom.iter().map(|c| c.name.clone()).collect();
    let request = read_actions(&mut pii, "request", &custom_names, errors);
    let response = read_actions(&mut pii, "response", &custom_names, errors);
    let restore = pii.boolean("restore", errors).unwrap_or(true);
    let key = pii
        .string("pseudonym_key", errors)
        .map(|k| k.as_bytes().to_vec());
    let uses_pseudonyms = [&request, &response].iter().any(|map| {
        map.by_type
            .iter()
            .map(|(_, a)| a)
            .chain(map.by_class.iter().map(|(_, a)| a))
            .any(|a| *a == PiiAction::Pseudonymize)
    });
    match &key {
        None if uses_pseudonyms => errors.push(
            &pii.path_of("pseudonym_key"),
            PolicyErrorKind::Invalid("\"pseudonymize\" needs a key: set pseudonym_key (at least 16 characters, kept secret)".into()),
        ),
        Some(key) if key.len() < MIN_KEY_BYTES => errors.push(
            &pii.path_of("pseudonym_key"),
            PolicyErrorKind::Invalid(format!("the key has {} characters; use at least {MIN_KEY_BYTES}", key.len())),
        ),
        _ => {}
    }
    pii.finish(errors);
    let config = ScannerConfig {
        custom,
        entropy,
        min_score,
    };
    let scanner = match Scanner::new(&config) {
        Ok(scanner) => scanner,
        Err((index, reason)) => {
            errors.push(
                &format!("{path}.custom[{index}].pattern"),
                PolicyErrorKind::Invalid(reason),
            );
            return None;
        }
    };
    Some(PiiSettings {
        scanner: Arc::new(scanner),
        request,
        response,
        restore,
        pseudonym_key: key,
        source: value.to_string(),
    })
}

/// `{"contact": "placeholder", "email": "redact", …}` over the direction's defaults.
fn read_actions(
    pii: &mut Fields<'_>,
    name: &'static str,
    custom: &[String],
    errors: &mut Errors,
) -> ActionMap {
    let direction = if name == "request" {
        Direction::Request
    } else {
        Direction::Response
    };
    let mut map = ActionMap::default_for(direction);
    let Some(entries) = pii.entries(name, errors) else {
        return map;
    };
    for (at, key, action) in entries {
        let Some(action) = action
            .as_str()
            .and_then(|a| PiiAction::CHOICES.iter().find(|(n, _)| *n == a))
            .map(|(_, a)| *a)
        else {
            errors.push(
                &at,
                PolicyErrorKind::UnknownValue {
                    what: "action",
                    found: action.to_string(),
                    expected: PiiAction::CHOICES.iter().map(|(n, _)| *n).collect(),
                },
            );
            continue;
        };
        if let Some(class) = EntityClass::from_name(key) {
            map.by_class.retain(|(c, _)| *c != class);
            map.by_class.push((class, action));
        } else if EntityType::from_name(key).is_some() || custom.iter().any(|c| c == key) {
            map.by_type.push((key.to_string(), action));
        } else {
            errors.push(&at, PolicyErrorKind::Invalid(format!(
                "{key:?} is neither an entity class ({}) nor an entity type (see the entity table in docs/policy.md, or a custom entity's name)",
                EntityClass::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
            )));
        }
    }
    map
}

fn read_custom(pii: &mut Fields<'_>, errors: &mut Errors) -> Vec<CustomEntity> {
    let mut out: Vec<CustomEntity> = Vec::new();
    for (path, value) in pii.array("custom", errors) {
        let Some(mut entity) = Fields::open(value, &path, errors) else {
            continue;
        };
        let name = entity.required_string("name", errors).map(str::to_string);
        let pattern = entity
            .required_string("pattern", errors)
            .map(str::to_string);
        let validator = entity
            .choice("validator", &VALIDATORS, errors)
            .unwrap_or(CustomValidator::None);
        let context = entity.strings("context", errors).unwrap_or_default();
        let score = fraction(&mut entity, "score", errors).unwrap_or(0.8);
        if let Some(name) = &name {
            let well_formed = name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && name.as_bytes().first().is_some_and(u8::is_ascii_lowercase);
            let reason = if !well_formed {
                Some("use lower-case letters, digits and _ (it becomes the mask label, e.g. [EMPLOYEE_ID_1])".to_string())
            } else if EntityType::from_name(name).is_some()
                || EntityClass::from_name(name).is_some()
            {
                Some(format!("{name:?} is already a built-in type or class"))
            } else if out.iter().any(|c| c.name == *name) {
                Some(format!("{name:?} is defined twice"))
            } else {
                None
            };
            if let Some(reason) = reason {
                errors.push(&entity.path_of("name"), PolicyErrorKind::Invalid(reason));
            }
        }
        entity.finish(errors);
        if let (Some(name), Some(pattern)) = (name, pattern) {
            out.push(CustomEntity {
                name,
                pattern,
                validator,
                context,
                score,
            });
        }
    }
    out
}

fn read_entropy(pii: &mut Fields<'_>, errors: &mut Errors) -> Option<EntropySettings> {
    let value = pii.value("high_entropy")?;
    let mut entropy = Fields::open(value, &pii.path_of("high_entropy"), errors)?;
    let min_length = entropy.count("min_length", errors).unwrap_or(24);
    let bits = number(&mut entropy, "min_bits_per_char", errors).unwrap_or(4.0);
    if !(1.0..=8.0).contains(&bits) {
        errors.push(
            &entropy.path_of("min_bits_per_char"),
            PolicyErrorKind::Invalid(format!("{bits} is not between 1 and 8 bits per character")),
        );
    }
    if !(12..=1024).contains(&min_length) {
        errors.push(
            &entropy.path_of("min_length"),
            PolicyErrorKind::Invalid(format!(
                "{min_length} is not between 12 and 1024 characters"
            )),
        );
    }
    entropy.finish(errors);
    Some(EntropySettings {
        min_length: usize::try_from(min_length).unwrap_or(24),
        min_bits_per_char: bits as f32,
    })
}

fn number(fields: &mut Fields<'_>, name: &'static str, errors: &mut Errors) -> Option<f64> {
    let value = fields.value(name)?;
    let number = value.as_f64();
    if number.is_none() {
        errors.push(
            &fields.path_of(name),
            PolicyErrorKind::WrongType {
                expected: "a number",
                found: type_name(value),
            },
        );
    }
    number
}

/// A score between 0 and 1.
pub(super) fn fraction(
    fields: &mut Fields<'_>,
    name: &'static str,
    errors: &mut Errors,
) -> Option<f32> {
    let value = number(fields, name, errors)?;
    if (0.0..=1.0).contains(&value) {
        Some(value as f32)
    } else {
        errors.push(
            &fields.path_of(name),
            PolicyErrorKind::Invalid(format!("{value} is not a score between 0 and 1")),
        );
        None
    }
}
