//! The `output_schema` section of a route (PSF OV-2).

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use crate::response::output_schema::{compile, OutputSchema, SchemaAction};
use serde_json::Value;

const ACTIONS: [(&str, SchemaAction); 2] =
    [("block", SchemaAction::Block), ("flag", SchemaAction::Flag)];

pub(super) fn read_output_schema(
    fields: &mut Fields<'_>,
    errors: &mut Errors,
) -> Option<OutputSchema> {
    let value = fields.value("output_schema")?;
    let path = fields.path_of("output_schema");
    let mut section = Fields::open(value, &path, errors)?;
    let compiled = |value: &Value, at: &str, errors: &mut Errors| match compile(value) {
        Ok(schema) => Some(schema),
        Err((below, reason)) => {
            errors.push(&format!("{at}{below}"), PolicyErrorKind::Invalid(reason));
            None
        }
    };
    let content = section
        .value("schema")
        .and_then(|schema| compiled(schema, &section.path_of("schema"), errors));
    let mut tools = Vec::new();
    for (at, name, schema) in section.entries("tools", errors).unwrap_or_default() {
        if let Some(schema) = compiled(schema, &at, errors) {
            tools.push((name.to_string(), schema));
        }
    }
    let json = section.boolean("json", errors).unwrap_or(false);
    let max_chars = section
        .count("max_chars", errors)
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let action = section
        .choice("action", &ACTIONS, errors)
        .unwrap_or(SchemaAction::Block);
    section.finish(errors);
    Some(OutputSchema {
        json: json || content.is_some(),
        content,
        tools,
        max_chars,
        action,
        source: value.to_string(),
    })
}
