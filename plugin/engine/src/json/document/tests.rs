//! The document parser against serde_json, and what the tree keeps.

use super::*;

fn check_document(body: &[u8]) -> Result<(), DocumentError> {
    Document::parse(std::str::from_utf8(body).unwrap()).map(|_| ())
}

fn duplicate(body: &str) -> Option<String> {
    match check_document(body.as_bytes()) {
        Err(DocumentError::DuplicateKey { pointer }) => Some(pointer),
        _ => None,
    }
}

#[test]
fn duplicate_keys_anywhere_are_named() {
    // See: #15 (finding 4)
    assert_eq!(
        duplicate(r#"{"max_tokens":1,"model":"m","max_tokens":100000}"#).as_deref(),
        Some("/max_tokens")
    );
    assert_eq!(
        duplicate(r#"{"messages":[{"role":"user","content":"a"},{"content":"x","role":"user","content":"y"}]}"#)
            .as_deref(),
        Some("/messages/1/content")
    );
    // An escaped spelling is the same key to every parser.
    assert_eq!(
        duplicate(r#"{"max_tokens":1,"max\u005ftokens":2}"#).as_deref(),
        Some("/max_tokens")
    );
    // The same key in sibling objects, or as a string value, is fine.
    assert_eq!(
        duplicate(r#"{"a":{"k":1},"b":{"k":2},"c":"a","d":["a","a"]}"#),
        None
    );
    assert_eq!(duplicate(r#"{"a":"x,\"a\":y","b":1}"#), None);
}

#[test]
fn depth_counts_every_field() {
    // See: #15 (finding 5)
    let deep = format!(
        r#"{{"model":"m","unread":{}1{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(matches!(
        check_document(deep.as_bytes()),
        Err(DocumentError::TooDeep { .. })
    ));
    let fine = format!("{}1{}", "[".repeat(127), "]".repeat(127));
    assert_eq!(check_document(fine.as_bytes()), Ok(()));
    // serde_json refuses the 128th level, and so does the document.
    let over = format!("{}1{}", "[".repeat(128), "]".repeat(128));
    assert!(serde_json::from_str::<serde_json::Value>(&over).is_err());
    assert!(matches!(
        check_document(over.as_bytes()),
        Err(DocumentError::TooDeep { .. })
    ));
}

#[test]
fn large_objects_are_checked_by_hash() {
    let members: Vec<String> = (0..50_000).map(|i| format!("\"k{i}\":{i}")).collect();
    let body = format!("{{{}}}", members.join(","));
    assert_eq!(check_document(body.as_bytes()), Ok(()));
    let body = format!("{{{},\"k49999\":0}}", members.join(","));
    assert_eq!(
        check_document(body.as_bytes()),
        Err(DocumentError::DuplicateKey {
            pointer: "/k49999".into()
        })
    );
}

#[test]
fn agrees_with_serde_on_keys() {
    let body = r#"{"a\"b":1,"é\ud83d\ude00":2,"x":{"y":[{"z":null}]}}"#;
    assert_eq!(check_document(body.as_bytes()), Ok(()));
    let parsed: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(parsed.get("é😀").is_some());
}

#[test]
fn strings_come_with_their_pointers() {
    let body = r#"{"model":"m","messages":[{"role":"user","name":"ada@example.org","content":"hi"}],"stop":["x"]}"#;
    let skip = |key: &str| matches!(key, "model" | "role");
    let document = Document::parse(body).unwrap();
    let found: Vec<String> = document
        .strings(&skip)
        .into_iter()
        .map(|f| format!("{}={}", f.pointer, f.text))
        .collect();
    assert_eq!(
        found,
        [
            "/messages/0/name=ada@example.org",
            "/messages/0/content=hi",
            "/stop/0=x"
        ]
    );
}

#[test]
fn numbers_no_float_can_hold_are_refused_with_their_pointer() {
    assert_eq!(
        check_document(br#"{"a":[1,{"b":1e92222}]}"#),
        Err(DocumentError::NumberOutOfRange {
            pointer: "/a/1/b".into()
        })
    );
    assert_eq!(
        check_document(br#"{"a":-1e400}"#),
        Err(DocumentError::NumberOutOfRange {
            pointer: "/a".into()
        })
    );
    for fine in [
        &br#"{"a":1e300,"b":-0.5,"c":1e-400,"d":"1e999"}"#[..],
        b"[12345678901234567890]",
    ] {
        assert_eq!(check_document(fine), Ok(()));
    }
}

#[test]
fn hostile_bytes_do_not_panic() {
    for body in [
        "\"",
        "{\"",
        "{\"a\\",
        "{\"\\u12",
        "{\"\\ud800\\u",
        "}}]]",
        "{\"a\":1,\"a\"",
    ] {
        assert!(matches!(
            check_document(body.as_bytes()),
            Err(DocumentError::NotJson { .. } | DocumentError::DuplicateKey { .. })
        ));
    }
}

/// The grammar is serde_json's: what one refuses, so does the other.
#[test]
fn agrees_with_serde_on_what_is_json() {
    for body in [
        "",
        " ",
        "{",
        "{}x",
        "[1,]",
        "[,1]",
        r#"{"a":}"#,
        r#"{"a" 1}"#,
        r#"{"a":1,}"#,
        "{1:2}",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "1e+",
        "+1",
        "tru",
        "nul",
        r#""\u00""#,
        r#""\x""#,
        "\"a\u{1}\"",
        r#""\ud800""#,
        r#""\udc00""#,
        r#""\ud800\u0041""#,
        "\"tab\there\"",
        r#""\t""#,
        "[1 2]",
        r#"{"a":1 "b":2}"#,
        "NaN",
        "Infinity",
        "[-0, 0.5e-3, 1E+2, -12]",
        r#""\ud83d\ude00""#,
        r#""\/\b\f""#,
        r#"  {"a" : [ true , false , null ] }  "#,
        r#""""#,
    ] {
        let ours = Document::parse(body).is_ok();
        let theirs = serde_json::from_str::<serde_json::Value>(body).is_ok();
        assert_eq!(ours, theirs, "{body:?}");
    }
}

#[test]
fn answers_may_repeat_a_key() {
    let body = r#"{"a":"x","a":"y"}"#;
    assert!(Document::parse(body).is_err());
    let document = Document::parse_keeping_duplicates(body).unwrap();
    assert_eq!(document.strings(&|_| false).len(), 2);
}

#[test]
fn values_keep_their_spans_and_shapes() {
    let body = r#"{"model":"m","n":2,"max_tokens":1.0,"messages":[{"content":"a\nb"}],"x":-3}"#;
    let document = Document::parse(body).unwrap();
    let root = document.root();
    assert_eq!(root.get("model").unwrap().raw(), "\"m\"");
    assert_eq!(root.get("n").and_then(Json::as_u64), Some(2));
    assert_eq!(root.get("max_tokens").and_then(Json::as_u64), None);
    assert_eq!(root.get("x").and_then(Json::as_u64), None);
    let content = root.pointer("/messages/0/content").unwrap();
    assert_eq!(content.as_str(), Some("a\nb"));
    assert_eq!(content.raw(), r#""a\nb""#);
    assert_eq!(root.get("messages").unwrap().len(), 1);
    assert_eq!(root.span(), 0..body.len());
    assert_eq!(
        root.to_value(),
        serde_json::from_str::<serde_json::Value>(body).unwrap()
    );
}
