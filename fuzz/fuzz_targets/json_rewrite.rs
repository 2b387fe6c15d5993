//! The JSON splice and rewrite, and the one reading of a body (`json_guard`), checked
//! against serde_json: on every body both accept, the filter reads the same strings at the
//! same pointers that serde_json parses, and a rewrite of every string is still JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use psf_engine::json::guard::{check_document, read_document};
use psf_engine::json::splice::{insert_top_level, replace_top_level_number};
use psf_engine::json::strings::rewrite_strings;
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
    let parsed = serde_json::from_slice::<Value>(data);
    let guarded = match std::str::from_utf8(data) {
        Ok(text) => read_document(text, &|_| false),
        Err(_) => Ok(Vec::new()),
    };
    if let (Ok(value), Ok(fields)) = (&parsed, &guarded) {
        // Differential: the same strings at the same pointers.
        let mut ours: Vec<(String, String)> = fields
            .iter()
            .map(|f| (f.pointer.clone(), f.text.to_string()))
            .collect();
        let mut theirs = Vec::new();
        strings(value, &mut String::new(), &mut theirs);
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs);
    }
    assert_eq!(check_document(data).is_ok(), guarded.is_ok());
    let rewritten = rewrite_strings(data, &|_| true, &mut |_, text| {
        (!text.is_empty()).then(|| format!("<{}>", text.len()))
    });
    if let (Ok(_), Ok(Some(out))) = (&parsed, &rewritten) {
        assert!(
            serde_json::from_slice::<Value>(out).is_ok(),
            "rewrite broke the JSON"
        );
    }
    // A duplicate key is refused before any splice (json_guard), so only unique keys are
    // spliced: serde_json would read the last of two, the splice changes the first.
    if let (Ok(Value::Object(_)), Ok(_)) = (&parsed, &guarded) {
        if let Some(out) = replace_top_level_number(data, "max_tokens", 7) {
            let value: Value = serde_json::from_slice(&out).expect("splice keeps JSON");
            assert_eq!(value["max_tokens"], 7);
        }
        if let Some(out) = insert_top_level(data, "psf_fuzz", "1") {
            assert!(
                serde_json::from_slice::<Value>(&out).is_ok(),
                "insert keeps JSON"
            );
        }
    }
});
