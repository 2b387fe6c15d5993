//! The supported JSON Schema keywords, compiled from the policy: `type`, `properties`,
//! `required`, `additionalProperties`, `enum`, `const`, `minLength`/`maxLength`,
//! `minimum`/`maximum`, `pattern`, `items`, `minItems`/`maxItems`. Any other keyword is a
//! configuration error rather than a check silently skipped.

use regex::{Regex, RegexBuilder};
use serde_json::Value;

/// One compiled schema node.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Allowed JSON types (`integer` counts as a `number` that is whole); empty allows any.
    pub types: Vec<String>,
    pub properties: Vec<(String, Schema)>,
    pub required: Vec<String>,
    pub additional: Additional,
    pub one_of_values: Option<Vec<Value>>,
    pub constant: Option<Value>,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub pattern: Option<Regex>,
    pub items: Option<Box<Schema>>,
    pub min_items: Option<usize>,
    pub max_items: Option<usize>,
}

/// What `additionalProperties` says about properties not listed.
#[derive(Debug, Clone, Default)]
pub enum Additional {
    #[default]
    Any,
    Forbidden,
    Checked(Box<Schema>),
}

const TYPES: [&str; 7] = [
    "object", "array", "string", "number", "integer", "boolean", "null",
];

/// Compiles `value`; errors are `(path below the schema, reason)`.
pub fn compile(value: &Value) -> Result<Schema, (String, String)> {
    node(value, "")
}

fn node(value: &Value, at: &str) -> Result<Schema, (String, String)> {
    let Value::Object(map) = value else {
        return Err((at.to_string(), "a schema must be an object".into()));
    };
    let mut schema = Schema::default();
    for (key, item) in map {
        let here = format!("{at}.{key}");
        match key.as_str() {
            "type" => schema.types = types(item, &here)?,
            "properties" => {
                let Value::Object(props) = item else {
                    return Err((here, "properties must be an object".into()));
                };
                for (name, sub) in props {
                    schema.properties.push((name.clone(), node(sub, &format!("{here}.{name}"))?));
                }
            }
            "required" => schema.required = strings(item, &here)?,
            "additionalProperties" => {
                schema.additional = match item {
                    Value::Bool(true) => Additional::Any,
                    Value::Bool(false) => Additional::Forbidden,
                    other => Additional::Checked(Box::new(node(other, &here)?)),
                }
            }
            "enum" => match item {
                Value::Array(values) if !values.is_empty() => {
                    schema.one_of_values = Some(values.clone())
                }
                _ => return Err((here, "enum must be a non-empty array".into())),
            },
            "const" => schema.constant = Some(item.clone()),
            "minLength" => schema.min_length = Some(count(item, &here)?),
            "maxLength" => schema.max_length = Some(count(item, &here)?),
            "minItems" => schema.min_items = Some(count(item, &here)?),
            "maxItems" => schema.max_items = Some(count(item, &here)?),
            "minimum" => schema.minimum = Some(number(item, &here)?),
            "maximum" => schema.maximum = Some(number(item, &here)?),
            "pattern" => {
                let Some(pattern) = item.as_str() else {
                    return Err((here, "pattern must be a string".into()));
                };
                let compiled = RegexBuilder::new(pattern)
                    .unicode(false)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| (here.clone(), format!("the pattern does not compile: {e}")))?;
                schema.pattern = Some(compiled);
            }
            "items" => schema.items = Some(Box::new(node(item, &here)?)),
            "description" | "title" | "$schema" | "examples" | "default" => {}
            other => {
                return Err((
                    here,
                    format!("{other:?} is not a supported schema keyword (supported: type, properties, required, additionalProperties, enum, const, minLength, maxLength, minimum, maximum, pattern, items, minItems, maxItems)"),
                ))
            }
        }
    }
    Ok(schema)
}

fn types(item: &Value, at: &str) -> Result<Vec<String>, (String, String)> {
    let list = match item {
        Value::String(one) => vec![one.clone()],
        Value::Array(_) => strings(item, at)?,
        _ => {
            return Err((
                at.to_string(),
                "type must be a string or an array of strings".into(),
            ))
        }
    };
    match list.iter().find(|t| !TYPES.contains(&t.as_str())) {
        Some(bad) => Err((at.to_string(), format!("{bad:?} is not a JSON type"))),
        None => Ok(list),
    }
}

fn strings(item: &Value, at: &str) -> Result<Vec<String>, (String, String)> {
    item.as_array()
        .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect())
        .ok_or_else(|| (at.to_string(), "must be an array of strings".into()))
}

fn count(item: &Value, at: &str) -> Result<usize, (String, String)> {
    item.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| (at.to_string(), "must be a non-negative whole number".into()))
}

fn number(item: &Value, at: &str) -> Result<f64, (String, String)> {
    item.as_f64()
        .ok_or_else(|| (at.to_string(), "must be a number".into()))
}
