//! The `accountability` section (PSF EA-1, EA-4): who answers for the deployment and the
//! evidence behind it, served as JSON at `/.well-known/ai-accountability`.

use super::error::PolicyErrorKind;
use super::reader::{Errors, Fields};
use serde_json::{Map, Value};

/// The public path of the accountability document.
pub const ENDPOINT: &str = "/.well-known/ai-accountability";

/// The lists an accountability section may hold, and the date field each entry must carry.
const LISTS: [(&str, &str); 6] = [
    ("chain", "since"),
    ("model_cards", "reviewed_on"),
    ("vendor_agreements", "signed_on"),
    ("bias_evaluations", "date"),
    ("ethical_reviews", "date"),
    ("regulatory_obligations", "reviewed_on"),
];

/// The validated section, kept as the JSON it will be served as.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Accountability {
    /// Serve [`ENDPOINT`].
    pub endpoint: bool,
    pub document: Map<String, Value>,
}

pub(super) fn read_accountability(fields: &mut Fields<'_>, errors: &mut Errors) -> Accountability {
    let Some(value) = fields.value("accountability") else {
        return Accountability::default();
    };
    let Some(mut section) = Fields::open(value, &fields.path_of("accountability"), errors) else {
        return Accountability::default();
    };
    let endpoint = section.boolean("endpoint", errors).unwrap_or(true);
    let mut document = Map::new();
    for (list, date_field) in LISTS {
        let items = section.array(list, errors);
        let mut kept = Vec::new();
        for (path, item) in items {
            let Some(object) = item.as_object() else {
                errors.push(
                    &path,
                    PolicyErrorKind::Invalid("expected an object of strings".into()),
                );
                continue;
            };
            for (key, value) in object {
                if !value.is_string() {
                    errors.push(
                        &format!("{path}.{key}"),
                        PolicyErrorKind::Invalid("expected a string".into()),
                    );
                }
            }
            match object.get(date_field).and_then(Value::as_str) {
                Some(date) if is_date(date) => {}
                Some(date) => errors.push(
                    &format!("{path}.{date_field}"),
                    PolicyErrorKind::Invalid(format!("{date:?} is not a date (YYYY-MM-DD)")),
                ),
                None => errors.push(&format!("{path}.{date_field}"), PolicyErrorKind::Missing),
            }
            kept.push(item.clone());
        }
        if !kept.is_empty() {
            document.insert(list.to_string(), Value::Array(kept));
        }
    }
    section.finish(errors);
    Accountability { endpoint, document }
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit())
}
