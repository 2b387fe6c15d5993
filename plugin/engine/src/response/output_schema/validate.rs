//! Checking a JSON value against a compiled schema: the first violation, with the JSON
//! pointer of the offending value and the reason.

use super::compile::{Additional, Schema};
use crate::llm::pointer_escape;
use crate::rejection::Rejection;
use crate::ErrorCode;
use serde_json::Value;

/// Where an answer breaks its schema, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the checked value (`""` for the value itself).
    pub pointer: String,
    pub reason: String,
}

impl Violation {
    /// The error that reports it on route `route`: 502 `output_schema_violation`, with the
    /// pointer as `param` and never the offending value.
    pub fn rejection(self, route: &str) -> Rejection {
        Rejection::new(
            ErrorCode::OutputSchemaViolation,
            format!("{route}.output_schema"),
            format!(
                "the model's answer breaks this route's output schema at {}: {}",
                self.pointer, self.reason
            ),
        )
        .at(self.pointer)
    }
}

impl Schema {
    /// The first violation of `value`, if any.
    pub fn check(&self, value: &Value) -> Result<(), Violation> {
        self.at(value, "")
    }

    fn at(&self, value: &Value, pointer: &str) -> Result<(), Violation> {
        let fail = |reason: String| {
            Err(Violation {
                pointer: pointer.to_string(),
                reason,
            })
        };
        if !self.types.is_empty() && !self.types.iter().any(|t| has_type(value, t)) {
            return fail(format!(
                "expected {}, found {}",
                self.types.join(" or "),
                type_of(value)
            ));
        }
        if let Some(constant) = &self.constant {
            if value != constant {
                return fail(format!("must be {constant}"));
            }
        }
        if let Some(values) = &self.one_of_values {
            if !values.contains(value) {
                return fail("is not one of the allowed values".into());
            }
        }
        match value {
            Value::String(text) => {
                let length = text.chars().count();
                if self.min_length.is_some_and(|min| length < min) {
                    return fail(format!(
                        "is shorter than {} characters",
                        self.min_length.unwrap_or(0)
                    ));
                }
                if self.max_length.is_some_and(|max| length > max) {
                    return fail(format!(
                        "is longer than {} characters",
                        self.max_length.unwrap_or(0)
                    ));
                }
                if self.pattern.as_ref().is_some_and(|p| !p.is_match(text)) {
                    return fail("does not match the pattern".into());
                }
            }
            Value::Number(number) => {
                let n = number.as_f64().unwrap_or(f64::NAN);
                if self.minimum.is_some_and(|min| n < min) {
                    return fail(format!(
                        "is below the minimum {}",
                        self.minimum.unwrap_or(0.0)
                    ));
                }
                if self.maximum.is_some_and(|max| n > max) {
                    return fail(format!(
                        "is above the maximum {}",
                        self.maximum.unwrap_or(0.0)
                    ));
                }
            }
            Value::Array(items) => {
                if self.min_items.is_some_and(|min| items.len() < min) {
                    return fail(format!(
                        "has fewer than {} items",
                        self.min_items.unwrap_or(0)
                    ));
                }
                if self.max_items.is_some_and(|max| items.len() > max) {
                    return fail(format!(
                        "has more than {} items",
                        self.max_items.unwrap_or(0)
                    ));
                }
                if let Some(schema) = &self.items {
                    for (index, item) in items.iter().enumerate() {
                        schema.at(item, &format!("{pointer}/{index}"))?;
                    }
                }
            }
            Value::Object(members) => {
                if let Some(missing) = self.required.iter().find(|k| !members.contains_key(*k)) {
                    return fail(format!("is missing the required property {missing:?}"));
                }
                for (key, member) in members {
                    let here = format!("{pointer}/{}", pointer_escape(key));
                    match self.properties.iter().find(|(name, _)| name == key) {
                        Some((_, schema)) => schema.at(member, &here)?,
                        None => match &self.additional {
                            Additional::Any => {}
                            Additional::Forbidden => {
                                return Err(Violation {
                                    pointer: here,
                                    reason: "is not an allowed property".into(),
                                })
                            }
                            Additional::Checked(schema) => schema.at(member, &here)?,
                        },
                    }
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
        Ok(())
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        other => type_of(value) == other,
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::super::compile;
    use serde_json::json;

    #[test]
    fn each_keyword_reports_the_pointer_and_reason() {
        let schema = compile(&json!({
            "type": "object",
            "required": ["name", "tags"],
            "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 2, "maxLength": 8, "pattern": "^[a-z]+$"},
                "age": {"type": "integer", "minimum": 0, "maximum": 150},
                "kind": {"enum": ["a", "b"]},
                "v": {"const": 1},
                "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}}
            }
        }))
        .unwrap();
        assert!(schema
            .check(&json!({"name": "ada", "tags": ["x"], "age": 36}))
            .is_ok());
        let cases = [
            (json!([]), "", "expected object"),
            (json!({"tags": []}), "", "required property \"name\""),
            (json!({"name": "a", "tags": ["x"]}), "/name", "shorter"),
            (json!({"name": "ADA", "tags": ["x"]}), "/name", "pattern"),
            (
                json!({"name": "ada", "tags": ["x"], "age": 1.5}),
                "/age",
                "expected integer",
            ),
            (
                json!({"name": "ada", "tags": ["x"], "age": 200}),
                "/age",
                "maximum",
            ),
            (
                json!({"name": "ada", "tags": ["x"], "kind": "c"}),
                "/kind",
                "allowed values",
            ),
            (
                json!({"name": "ada", "tags": ["x"], "v": 2}),
                "/v",
                "must be 1",
            ),
            (
                json!({"name": "ada", "tags": [1]}),
                "/tags/0",
                "expected string",
            ),
            (
                json!({"name": "ada", "tags": ["x", "y", "z"]}),
                "/tags",
                "more than 2",
            ),
            (
                json!({"name": "ada", "tags": ["x"], "extra": 1}),
                "/extra",
                "not an allowed",
            ),
        ];
        for (value, pointer, reason) in cases {
            let violation = schema.check(&value).unwrap_err();
            assert_eq!(violation.pointer, pointer, "{value}");
            assert!(
                violation.reason.contains(reason),
                "{value}: {}",
                violation.reason
            );
        }
    }

    #[test]
    fn unknown_keywords_and_bad_values_are_configuration_errors() {
        assert_eq!(compile(&json!({"oneOf": []})).unwrap_err().0, ".oneOf");
        assert_eq!(compile(&json!({"type": "int"})).unwrap_err().0, ".type");
        assert_eq!(compile(&json!({"pattern": "("})).unwrap_err().0, ".pattern");
        assert_eq!(
            compile(&json!({"properties": {"a": {"minLength": -1}}}))
                .unwrap_err()
                .0,
            ".properties.a.minLength"
        );
    }
}
