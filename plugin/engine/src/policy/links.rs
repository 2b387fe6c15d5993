//! `links`: which domains an answer's data-carrying links may point to, and what happens
//! to the others (see [`crate::detect::content::LinkGuard`]).

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use crate::detect::content::{LinkAction, LinkGuard};

/// `{"allowed_domains": ["example.com"], "action": "neutralize"}`.
pub(super) fn read_links(fields: &mut Fields<'_>, errors: &mut Errors) -> Option<LinkGuard> {
    let value = fields.value("links")?;
    let path = fields.path_of("links");
    let mut links = Fields::open(value, &path, errors)?;
    let mut allowed_domains = Vec::new();
    for (i, domain) in links
        .strings("allowed_domains", errors)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let domain = domain.trim().trim_start_matches("*.").to_ascii_lowercase();
        let valid = !domain.is_empty()
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if valid {
            allowed_domains.push(domain);
        } else {
            errors.push(
                &format!("{path}.allowed_domains[{i}]"),
                PolicyErrorKind::Invalid(
                    "a domain is letters, digits, dashes and dots, like \"example.com\"".into(),
                ),
            );
        }
    }
    let action = links
        .choice("action", &LinkAction::CHOICES, errors)
        .unwrap_or(LinkAction::Neutralize);
    links.finish(errors);
    Some(LinkGuard {
        allowed_domains,
        action,
    })
}
