//! Every field the policy parser accepts is documented in `docs/policy.md`.
//!
//! The fields are not listed by hand: the test asks the parser. A probe field inserted into
//! an object makes the parser refuse it with the list of fields that object accepts
//! (`UnknownField { expected }`). Starting from the shipped policies, the test probes every
//! object they hold, and every accepted field they leave out (as an object, then as an array
//! of objects), until nothing new turns up.

use psf_engine::{Policy, PolicyErrorKind};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

const PROBE: &str = "zz_probe_field";

/// The fields the object at `pointer` accepts, when `document` with a probe there says.
fn accepted_at(document: &Value, pointer: &str, shape: Option<&Value>) -> Option<Vec<String>> {
    let mut doc = document.clone();
    if let Some(shape) = shape {
        set(&mut doc, pointer, shape.clone())?;
    }
    doc.pointer_mut(pointer)?
        .as_object_mut()?
        .insert(PROBE.into(), json!(1));
    let refused = Policy::from_json(doc.to_string().as_bytes()).err()?;
    refused.errors().iter().find_map(|e| match e.kind() {
        PolicyErrorKind::UnknownField { found, expected } if found == PROBE => {
            Some(expected.iter().map(|f| f.to_string()).collect())
        }
        _ => None,
    })
}

/// Sets the value at `pointer` (its parent must exist and be an object).
fn set(doc: &mut Value, pointer: &str, value: Value) -> Option<()> {
    let (parent, key) = pointer.rsplit_once('/')?;
    doc.pointer_mut(parent)?
        .as_object_mut()?
        .insert(key.replace("~1", "/").replace("~0", "~"), value);
    Some(())
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every object pointer in `value`.
fn objects(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            out.push(pointer.clone());
            for (key, child) in map {
                objects(child, format!("{pointer}/{}", escape(key)), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                objects(child, format!("{pointer}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn accepted_fields(document: &Value) -> BTreeSet<String> {
    let mut fields = BTreeSet::new();
    let mut seen = HashSet::new();
    let mut queue = Vec::new();
    objects(document, String::new(), &mut queue);
    while let Some(pointer) = queue.pop() {
        if !seen.insert(pointer.clone()) || pointer.matches('/').count() > 6 {
            continue;
        }
        let Some(accepted) = accepted_at(document, &pointer, None) else {
            continue;
        };
        for field in accepted {
            let child = format!("{pointer}/{}", escape(&field));
            if document.pointer(&child).is_none() {
                // Absent here: probe it as an object, then as an array of one object.
                for shape in [json!({}), json!([{}])] {
                    let inner = if shape.is_array() {
                        format!("{child}/0")
                    } else {
                        child.clone()
                    };
                    if let Some(nested) = accepted_with_shape(document, &child, &inner, &shape) {
                        fields.extend(nested);
                    }
                }
            }
            fields.insert(field);
        }
    }
    fields
}

/// The fields of an object the shipped policies leave out, probed one level down.
fn accepted_with_shape(
    document: &Value,
    child: &str,
    inner: &str,
    shape: &Value,
) -> Option<Vec<String>> {
    let mut doc = document.clone();
    set(&mut doc, child, shape.clone())?;
    accepted_at(&doc, inner, None)
}

/// Every word inside backticks in `text`, split at anything but letters, digits and `_`.
fn backticked_words(text: &str) -> HashSet<String> {
    let mut words = HashSet::new();
    for line in text.lines() {
        for (i, span) in line.split('`').enumerate() {
            if i % 2 == 1 {
                words.extend(
                    span.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .filter(|w| !w.is_empty())
                        .map(str::to_string),
                );
            }
        }
    }
    words
}

#[test]
fn every_accepted_policy_field_is_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let documented =
        backticked_words(&std::fs::read_to_string(root.join("docs/policy.md")).unwrap());
    let mut accepted = BTreeSet::new();
    for policy in ["policies/default.json", "policies/ratelimit-demo.json"] {
        let text = std::fs::read_to_string(root.join(policy)).unwrap();
        let document: Value = serde_json::from_str(&text).unwrap();
        accepted.extend(accepted_fields(&document));
    }
    // The probe must reach deep: a route section's fields and a rate limit's.
    for deep in [
        "paranoia",
        "allowed_domains",
        "over_budget",
        "retention_days",
    ] {
        assert!(
            accepted.contains(deep),
            "the probe missed {deep}: {accepted:?}"
        );
    }
    let missing: Vec<&String> = accepted
        .iter()
        .filter(|f| !documented.contains(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "{} policy fields are not documented in docs/policy.md: {missing:?}",
        missing.len()
    );
}
