use psf_engine::{Action, Check, Mode, Policy};

const VALID: &str = r#"{"version":1,"name":"p","owner":"Ada Lovelace","rules":[{"id":"size","type":"request_body_size","max_bytes":10}]}"#;

/// Each case: name, document, the errors expected (`path: reason` prefixes), in order.
const REFUSED: &[(&str, &str, &[&str])] = &[
    ("not json", "{", &["(policy): not valid JSON"]),
    // See: #15: the fields that close its bypasses are validated like every other.
    (
        "hostile-input settings",
        r#"{"version":1,"name":"t","owner":"A B","routes":[{"id":"c","path":"/v1/chat/completions","unknown_fields":"drop","encoded_bodies":"maybe"}],"incident":{"admin":{"token":"xxxxxxxxxxxxxxxxxxxxxxxxxxxx","sources":["127.0.0.1"],"trusted_hops":99}},"audit":{"model_labels":"gpt"}}"#,
        &[
            "routes[0].unknown_fields: unknown unknown_fields \"drop\"",
            "routes[0].encoded_bodies: unknown encoded_bodies \"maybe\"",
            "audit.model_labels: expected an array, found a string",
            "incident.admin.trusted_hops: 99 hops; at most 16",
        ],
    ),
    (
        "not an object",
        "[]",
        &["(policy): expected an object, found an array"],
    ),
    (
        "missing owner",
        r#"{"version":1,"name":"p"}"#,
        &["owner: required field is missing"],
    ),
    (
        "blank owner",
        r#"{"version":1,"name":"p","owner":"  "}"#,
        &["owner: must not be empty"],
    ),
    (
        "owner not a string",
        r#"{"version":1,"name":"p","owner":7}"#,
        &["owner: expected a string, found a number"],
    ),
    (
        "missing everything",
        "{}",
        &[
            "version: required field is missing",
            "name: required field is missing",
            "owner: required field is missing",
        ],
    ),
    (
        "wrong version",
        r#"{"version":2,"name":"p","owner":"o"}"#,
        &["version: unsupported policy version 2"],
    ),
    (
        "unknown mode",
        r#"{"version":1,"name":"p","owner":"o","mode":"audit"}"#,
        &["mode: unknown mode \"audit\", expected one of: enforce, monitor"],
    ),
    (
        "unknown top-level field",
        r#"{"version":1,"name":"p","owner":"o","ownr":"x"}"#,
        &["ownr: unknown field \"ownr\""],
    ),
    (
        "rules not an array",
        r#"{"version":1,"name":"p","owner":"o","rules":{}}"#,
        &["rules: expected an array, found an object"],
    ),
    (
        "rule not an object",
        r#"{"version":1,"name":"p","owner":"o","rules":[3]}"#,
        &["rules[0]: expected an object, found a number"],
    ),
    (
        "unknown action",
        r#"{"version":1,"name":"p","owner":"o","rules":[
        {"id":"a","type":"request_body_size","max_bytes":1},
        {"id":"b","type":"request_body_size","max_bytes":1},
        {"id":"c","type":"request_body_size","max_bytes":1,"action":"blok"}]}"#,
        &["rules[2].action: unknown action \"blok\", expected one of: block, flag"],
    ),
    (
        "unknown rule type",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a","type":"body_size"}]}"#,
        &["rules[0].type: unknown type \"body_size\", expected one of: request_body_size"],
    ),
    (
        "missing rule type",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a"}]}"#,
        &["rules[0].type: required field is missing"],
    ),
    (
        "bad size",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a","type":"request_body_size","max_bytes":"big"}]}"#,
        &["rules[0].max_bytes: invalid size"],
    ),
    (
        "negative size",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a","type":"request_body_size","max_bytes":-5}]}"#,
        &["rules[0].max_bytes: invalid size"],
    ),
    (
        "missing size",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a","type":"request_body_size"}]}"#,
        &["rules[0].max_bytes: required field is missing"],
    ),
    (
        "unknown rule field",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a","type":"request_body_size","max_bytes":1,"limit":2}]}"#,
        &["rules[0].limit: unknown field \"limit\", expected one of: action, id, max_bytes, type"],
    ),
    (
        "bad rule id",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"Body Size","type":"request_body_size","max_bytes":1}]}"#,
        &["rules[0].id: invalid id \"Body Size\""],
    ),
    (
        "duplicate id",
        r#"{"version":1,"name":"p","owner":"o","rules":[{"id":"a","type":"request_body_size","max_bytes":1},{"id":"a","type":"request_body_size","max_bytes":2}]}"#,
        &["rules[1].id: duplicate id \"a\""],
    ),
    (
        "every error at once",
        r#"{"version":1,"name":"","mode":"x","rules":[{"id":"a","type":"request_body_size","max_bytes":"1 TiB","action":"nope"}]}"#,
        &[
            "name: must not be empty",
            "owner: required field is missing",
            "mode: unknown mode",
            "rules[0].action: unknown action",
            "rules[0].max_bytes: invalid size",
        ],
    ),
];

#[test]
fn refused_policies_name_every_field_and_reason() {
    for (name, document, expected) in REFUSED {
        let errors = match Policy::from_json(document.as_bytes()) {
            Ok(policy) => panic!("{name}: accepted {policy:?}"),
            Err(errors) => errors,
        };
        let lines: Vec<String> = errors.errors().iter().map(|e| e.to_string()).collect();
        assert_eq!(lines.len(), expected.len(), "{name}: got {lines:#?}");
        for (line, prefix) in lines.iter().zip(expected.iter()) {
            assert!(
                line.starts_with(prefix),
                "{name}: {line:?} should start with {prefix:?}"
            );
        }
    }
}

#[test]
fn a_person_with_a_team_mailbox_is_still_a_person() {
    let document = r#"{"version":1,"name":"p","owner":"Ada Lovelace <ai-team@example.com>"}"#;
    assert!(Policy::from_json(document.as_bytes()).is_ok());
}

#[test]
fn valid_policy_parses_with_defaults() {
    let policy = Policy::from_json(VALID.as_bytes()).expect("valid");
    assert_eq!(policy.name, "p");
    assert_eq!(policy.owner, "Ada Lovelace");
    assert_eq!(policy.mode, Mode::Enforce);
    assert_eq!(policy.rules.len(), 1);
    assert_eq!(policy.rules[0].action, Action::Block);
    assert_eq!(
        policy.rules[0].check,
        Check::RequestBodySize { max_bytes: 10 }
    );
    assert_eq!(
        policy.summary(),
        r#"policy "p" (version 1, owner "Ada Lovelace"): mode enforce, 1 rule, 0 routes"#
    );
}

#[test]
fn shipped_policies_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).expect("policies/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let document = std::fs::read(&path).expect("read");
            if let Err(errors) = Policy::from_json(&document) {
                panic!("{}:\n{errors}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 1, "no policies found in {dir}");
}

#[test]
fn hostile_documents_are_refused_without_panicking() {
    let deep = "[".repeat(10_000);
    let cases: Vec<Vec<u8>> = vec![
        vec![0xff, 0xfe, 0x00],
        deep.into_bytes(),
        br#"{"version":1e400}"#.to_vec(),
        br#"{"version":1,"name":"p","owner":"o","rules":[null,{},[],"x"]}"#.to_vec(),
        Vec::new(),
    ];
    for document in cases {
        assert!(Policy::from_json(&document).is_err());
    }
}

/// Headers only the filter may set are named by the policy, so the filter strips exactly
/// those from what the client sent: the flags header always, a fallback route's header,
/// and the limit-export header of a policy with limits.
#[test]
fn reserved_request_headers_follow_the_policy() {
    let bare = Policy::from_json(br#"{"version":1,"name":"t","owner":"Ops","rules":[]}"#).unwrap();
    assert_eq!(bare.reserved_request_headers(), ["x-psf-flags"]);
    let document = serde_json::json!({"version": 1, "name": "t", "owner": "Ops",
        "routes": [{"id": "c", "path": "/v1/chat/completions",
            "fallback": {"action": "reroute", "on": ["5xx"], "header": "X-Use-Backup"}}],
        "rate_limits": {"limits": [{"id": "k", "key": [{"header": "x-api-key"}], "window": "1m",
            "requests": 10}], "export_header": "x-psf-limit-key"}});
    let policy =
        Policy::from_json(document.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        policy.reserved_request_headers(),
        ["x-psf-flags", "x-use-backup", "x-psf-limit-key"]
    );
}
