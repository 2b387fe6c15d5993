//! A JSON object reader that tracks the field path and collects every error,
//! so `psf-guard check` and `on_configure` can list all problems at once as `path: reason`.

use super::error::{PolicyError, PolicyErrorKind};
use serde_json::{Map, Value};

/// Collects errors while a policy document is walked.
#[derive(Debug, Default)]
pub struct Errors(Vec<PolicyError>);

impl Errors {
    pub fn push(&mut self, path: &str, kind: PolicyErrorKind) {
        self.0.push(PolicyError::new(path, kind));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_vec(self) -> Vec<PolicyError> {
        self.0
    }
}

/// The fields of one JSON object at `path`. Each field read is remembered, and
/// [`Fields::finish`] reports the ones nobody read (unknown fields are errors).
pub struct Fields<'v> {
    path: String,
    map: &'v Map<String, Value>,
    known: Vec<&'static str>,
}

impl<'v> Fields<'v> {
    /// Opens `value` as an object; reports and returns `None` when it is not one.
    pub fn open(value: &'v Value, path: &str, errors: &mut Errors) -> Option<Self> {
        match value {
            Value::Object(map) => Some(Self {
                path: path.to_string(),
                map,
                known: Vec::new(),
            }),
            other => {
                errors.push(
                    path,
                    PolicyErrorKind::WrongType {
                        expected: "an object",
                        found: type_name(other),
                    },
                );
                None
            }
        }
    }

    /// The path of field `name` inside this object.
    pub fn path_of(&self, name: &str) -> String {
        if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.path)
        }
    }

    /// The raw value of an optional field.
    pub fn value(&mut self, name: &'static str) -> Option<&'v Value> {
        self.known.push(name);
        self.map.get(name).filter(|v| !v.is_null())
    }

    /// The raw value of a required field; reports it when missing.
    pub fn required(&mut self, name: &'static str, errors: &mut Errors) -> Option<&'v Value> {
        let value = self.value(name);
        if value.is_none() {
            errors.push(&self.path_of(name), PolicyErrorKind::Missing);
        }
        value
    }

    /// An optional string field.
    pub fn string(&mut self, name: &'static str, errors: &mut Errors) -> Option<&'v str> {
        let value = self.value(name)?;
        self.as_str(name, value, errors)
    }

    /// A required, non-blank string field.
    pub fn required_string(&mut self, name: &'static str, errors: &mut Errors) -> Option<&'v str> {
        let value = self.required(name, errors)?;
        let text = self.as_str(name, value, errors)?;
        if text.trim().is_empty() {
            errors.push(&self.path_of(name), PolicyErrorKind::Blank);
            return None;
        }
        Some(text)
    }

    /// An optional non-negative whole number.
    pub fn count(&mut self, name: &'static str, errors: &mut Errors) -> Option<u64> {
        let value = self.value(name)?;
        match value.as_u64() {
            Some(n) => Some(n),
            None => {
                errors.push(
                    &self.path_of(name),
                    PolicyErrorKind::WrongType {
                        expected: "a non-negative whole number",
                        found: type_name(value),
                    },
                );
                None
            }
        }
    }

    /// An optional boolean.
    pub fn boolean(&mut self, name: &'static str, errors: &mut Errors) -> Option<bool> {
        let value = self.value(name)?;
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                errors.push(
                    &self.path_of(name),
                    PolicyErrorKind::WrongType {
                        expected: "true or false",
                        found: type_name(other),
                    },
                );
                None
            }
        }
    }

    /// An optional array of strings.
    pub fn strings(&mut self, name: &'static str, errors: &mut Errors) -> Option<Vec<String>> {
        self.value(name)?;
        let mut out = Vec::new();
        for (path, item) in self.array(name, errors) {
            match item {
                Value::String(text) => out.push(text.clone()),
                other => errors.push(
                    &path,
                    PolicyErrorKind::WrongType {
                        expected: "a string",
                        found: type_name(other),
                    },
                ),
            }
        }
        Some(out)
    }

    /// An optional array field, as its elements with their paths.
    pub fn array(&mut self, name: &'static str, errors: &mut Errors) -> Vec<(String, &'v Value)> {
        let Some(value) = self.value(name) else {
            return Vec::new();
        };
        let path = self.path_of(name);
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{path}[{i}]"), item))
                .collect(),
            other => {
                errors.push(
                    &path,
                    PolicyErrorKind::WrongType {
                        expected: "an array",
                        found: type_name(other),
                    },
                );
                Vec::new()
            }
        }
    }

    /// An optional object field whose keys are the author's own names (categories, tools,
    /// entity types), as `(path, key, value)` entries. `None` when absent; an empty list,
    /// reported, when it is not an object.
    pub fn entries(
        &mut self,
        name: &'static str,
        errors: &mut Errors,
    ) -> Option<Vec<(String, &'v str, &'v Value)>> {
        let value = self.value(name)?;
        let path = self.path_of(name);
        match value {
            Value::Object(map) => Some(
                map.iter()
                    .map(|(key, item)| (format!("{path}.{key}"), key.as_str(), item))
                    .collect(),
            ),
            other => {
                errors.push(
                    &path,
                    PolicyErrorKind::WrongType {
                        expected: "an object",
                        found: type_name(other),
                    },
                );
                Some(Vec::new())
            }
        }
    }

    /// An optional field that must be one of `choices`.
    pub fn choice<T: Copy>(
        &mut self,
        name: &'static str,
        choices: &[(&'static str, T)],
        errors: &mut Errors,
    ) -> Option<T> {
        let text = self.string(name, errors)?;
        match choices.iter().find(|(label, _)| *label == text) {
            Some((_, choice)) => Some(*choice),
            None => {
                errors.push(
                    &self.path_of(name),
                    PolicyErrorKind::UnknownValue {
                        what: name,
                        found: text.to_string(),
                        expected: choices.iter().map(|(label, _)| *label).collect(),
                    },
                );
                None
            }
        }
    }

    /// Reports every field of the object that no reader asked for.
    pub fn finish(self, errors: &mut Errors) {
        for name in self.map.keys() {
            if !self.known.contains(&name.as_str()) {
                let mut expected = self.known.clone();
                expected.sort_unstable();
                expected.dedup();
                errors.push(
                    &self.path_of(name),
                    PolicyErrorKind::UnknownField {
                        found: name.clone(),
                        expected,
                    },
                );
            }
        }
    }

    fn as_str(&self, name: &str, value: &'v Value, errors: &mut Errors) -> Option<&'v str> {
        match value {
            Value::String(text) => Some(text),
            other => {
                errors.push(
                    &self.path_of(name),
                    PolicyErrorKind::WrongType {
                        expected: "a string",
                        found: type_name(other),
                    },
                );
                None
            }
        }
    }
}

/// The JSON type of `value`, for error messages.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
