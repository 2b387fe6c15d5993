//! Human oversight and model governance on a route (PSF HO-1, HO-3, MS-3): its autonomy
//! level, the AI disclosure on its answers, and the approved, pinned models it may call.

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use std::collections::BTreeMap;

/// How much a route's answers act on their own (HO-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Autonomy {
    /// Answers inform a person, who decides.
    Advisory,
    /// A person reviews high-stakes actions before they happen.
    Supervised,
    /// Answers act without review.
    Autonomous,
}

impl Autonomy {
    pub const ALL: [(&'static str, Autonomy); 3] = [
        ("advisory", Autonomy::Advisory),
        ("supervised", Autonomy::Supervised),
        ("autonomous", Autonomy::Autonomous),
    ];

    pub fn as_str(self) -> &'static str {
        Autonomy::ALL
            .iter()
            .find(|(_, a)| *a == self)
            .map_or("advisory", |(name, _)| name)
    }
}

/// The AI disclosure on a route's answers (HO-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disclosure {
    /// `x-ai-generated: true` on the model's responses.
    pub header: bool,
    /// An optional text for clients to show, sent as `x-ai-disclosure`.
    pub text: Option<String>,
}

impl Default for Disclosure {
    fn default() -> Self {
        Self {
            header: true,
            text: None,
        }
    }
}

/// The models a route may call, with pinned versions (MS-3).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApprovedModels {
    /// Pinned model versions (`gpt-4o-2024-08-06`); anything else is refused.
    pub pinned: Vec<String>,
    /// Names clients may use, each mapped to a pinned version it is rewritten to.
    pub aliases: BTreeMap<String, String>,
}

pub(super) fn read_autonomy(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<Autonomy> {
    fields.choice("autonomy", &Autonomy::ALL, errors)
}

pub(super) fn read_disclosure(fields: &mut Fields<'_>, errors: &mut Errors) -> Disclosure {
    let Some(value) = fields.value("disclosure") else {
        return Disclosure::default();
    };
    let Some(mut section) = Fields::open(value, &fields.path_of("disclosure"), errors) else {
        return Disclosure::default();
    };
    let header = section.boolean("header", errors).unwrap_or(true);
    let text = section.string("text", errors).map(str::to_string);
    if let Some(text) = &text {
        if text.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
            errors.push(
                &section.path_of("text"),
                PolicyErrorKind::Invalid(
                    "the disclosure is sent as a header: printable ASCII only".into(),
                ),
            );
        }
    }
    section.finish(errors);
    Disclosure { header, text }
}

pub(super) fn read_approved_models(
    fields: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<ApprovedModels> {
    let value = fields.value("approved_models")?;
    let mut section = Fields::open(value, &fields.path_of("approved_models"), errors)?;
    let pinned = section.strings("pinned", errors).unwrap_or_default();
    if pinned.is_empty() {
        errors.push(
            &section.path_of("pinned"),
            PolicyErrorKind::Invalid("list at least one pinned model version".into()),
        );
    }
    let mut aliases = BTreeMap::new();
    for (path, alias, target) in section.entries("aliases", errors).unwrap_or_default() {
        match target.as_str() {
            Some(target) if pinned.iter().any(|p| p == target) => {
                aliases.insert(alias.to_string(), target.to_string());
            }
            Some(target) => errors.push(
                &path,
                PolicyErrorKind::Invalid(format!("{target:?} is not one of the pinned versions")),
            ),
            None => errors.push(
                &path,
                PolicyErrorKind::Invalid("expected a pinned version".into()),
            ),
        }
    }
    section.finish(errors);
    Some(ApprovedModels { pinned, aliases })
}

impl ApprovedModels {
    /// The pinned version `model` stands for, or `None` when it is not approved.
    pub fn resolve<'a>(&'a self, model: &'a str) -> Option<&'a str> {
        if self.pinned.iter().any(|p| p == model) {
            return Some(model);
        }
        self.aliases.get(model).map(String::as_str)
    }
}
