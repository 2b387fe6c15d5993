//! The one parse of a body (`json::document`) and the edits written back into it, checked
//! against serde_json: both accept the same bodies; on those, the document reads the same
//! strings at the same pointers and the same tree, and a body with every string replaced,
//! a number set and a member added is still JSON with exactly those changes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::json::document::{Document, DocumentError, Shape};
use psf_engine::json::edit::BodyEdits;
use psf_engine::llm::{push_index, push_token};
use serde_json::Value;

fn strings(value: &Value, pointer: &mut String, out: &mut Vec<(String, String)>) {
    let base = pointer.len();
    match value {
        Value::String(text) => out.push((pointer.clone(), text.clone())),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                push_index(pointer, i);
                strings(item, pointer, out);
                pointer.truncate(base);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                push_token(pointer, key);
                strings(member, pointer, out);
                pointer.truncate(base);
            }
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = serde_json::from_str::<Value>(text);
    let document = Document::parse(text);
    match (&parsed, &document) {
        (Ok(_), Err(DocumentError::NotJson { at })) => panic!("serde accepts, refused at {at}"),
        (Err(_), Ok(_)) => panic!("serde refuses what the document accepts"),
        _ => {}
    }
    let (Ok(value), Ok(document)) = (&parsed, &document) else {
        return;
    };
    assert_eq!(&document.root().to_value(), value);
    let mut ours: Vec<(String, String)> = document
        .strings(&|_| false)
        .into_iter()
        .map(|f| (f.pointer, f.text.to_string()))
        .collect();
    let mut theirs = Vec::new();
    strings(value, &mut String::new(), &mut theirs);
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    let mut edits = BodyEdits::default();
    for (_, string) in document.string_values() {
        let old = string.as_str().unwrap_or_default();
        edits.set_text(string, format!("<{}>", old.len()));
    }
    let root = document.root();
    if let Some(number) = root
        .get("max_tokens")
        .filter(|v| matches!(v.shape(), Shape::Number(_)))
    {
        edits.set_json(number, "7".into());
    }
    let object = root.is_object() && root.get("psf_fuzz").is_none();
    if object {
        edits.add_member("psf_fuzz", "1".into());
    }
    if let Some(out) = edits.splice(document) {
        let spliced: Value = serde_json::from_slice(&out).expect("splicing keeps JSON");
        assert_eq!(spliced, edits.to_value(document));
        if object {
            assert_eq!(spliced["psf_fuzz"], 1);
        }
    }
});
