//! `content_filter.scope` (PSF OV-3): the topics a route's answers stay on, and those they
//! must not touch.

use super::content::read_term_map;
use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use crate::detect::content::{ContentAction, Scope, DEFAULT_MIN_WORDS};

const ACTIONS: [(&str, ContentAction); 2] = [
    ("flag", ContentAction::Flag),
    ("block", ContentAction::Block),
];

pub(super) fn read_scope(section: &mut Fields<'_>, errors: &mut Errors) -> Option<Scope> {
    let value = section.value("scope")?;
    let path = section.path_of("scope");
    let mut fields = Fields::open(value, &path, errors)?;
    let allowed = read_term_map(&mut fields, "allowed_topics", errors);
    let forbidden = read_term_map(&mut fields, "forbidden_topics", errors);
    // A forbidden topic is a clear line, so it blocks; an answer on none of the allowed
    // topics is flagged unless the route says otherwise, as keyword sets judge topic bluntly.
    let forbidden_action = fields
        .choice("forbidden_action", &ACTIONS, errors)
        .unwrap_or(ContentAction::Block);
    let off_topic_action = fields
        .choice("off_topic_action", &ACTIONS, errors)
        .unwrap_or(ContentAction::Flag);
    let min_words = fields
        .count("min_words", errors)
        .map_or(DEFAULT_MIN_WORDS, |n| {
            usize::try_from(n).unwrap_or(usize::MAX)
        });
    fields.finish(errors);
    if allowed.is_empty() && forbidden.is_empty() {
        errors.push(
            &path,
            PolicyErrorKind::Invalid(
                "a scope needs allowed_topics, forbidden_topics or both".into(),
            ),
        );
        return None;
    }
    match Scope::new(
        &allowed,
        &forbidden,
        (forbidden_action, off_topic_action),
        min_words,
    ) {
        Ok(scope) => Some(scope),
        Err(reason) => {
            errors.push(&path, PolicyErrorKind::Invalid(reason));
            None
        }
    }
}
