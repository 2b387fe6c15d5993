//! `psf-guard audit` on sealed audit files, as an operator runs it: verify names each break,
//! prune and erase leave files that still verify.

use psf_engine::audit::chain::{hmac_hex, Chain, Tombstone};
use psf_host::repo_root;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SIGN_KEY: &str = "sign-key-for-tests-0123456789";
const SUBJECT_KEY: &str = "subject-key-for-tests-0123456789";

/// Runs `psf-guard audit ARGS`, without a signing key from the environment unless given.
fn audit(args: &[&str], sign_key_env: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_psf-guard"));
    command
        .arg("audit")
        .args(args)
        .env_remove("PSF_AUDIT_SIGNING_KEY")
        .current_dir(repo_root());
    if let Some(key) = sign_key_env {
        command.env("PSF_AUDIT_SIGNING_KEY", key);
    }
    command.output().expect("run psf-guard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Stdout and stderr together, for messages.
fn said(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

fn scratch(name: &str, contents: &[u8]) -> PathBuf {
    let dir = repo_root().join("target/cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-audit-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn subject(id: &str) -> String {
    hmac_hex(SUBJECT_KEY.as_bytes(), id.as_bytes())
}

/// Twelve records, `vm-a` and `vm-b` interleaved (line 1 is a0, 2 b0, 3 a1, 4 b1 …, 12 b5).
/// Seq 0-2 of each VM expire in January 2026, seq 3-5 on 2027-01-01, -02 and -03.
/// Alice is the subject of vm-a's seq 1, 3, 4 and vm-b's seq 2; seq 5 has no subject; the
/// others are Bob's.
fn fixture() -> Vec<String> {
    let mut chains = [Chain::new("vm-a"), Chain::new("vm-b")];
    let mut lines = Vec::new();
    for seq in 0..6u64 {
        for chain in &mut chains {
            let until = if seq < 3 {
                format!("2026-01-0{}T13:40:00.123Z", seq + 1)
            } else {
                format!("2027-01-0{}T00:00:00Z", seq - 2)
            };
            let alice = match chain.vm() {
                "vm-a" => [1, 3, 4].contains(&seq),
                _ => seq == 2,
            };
            let who = match (seq, alice) {
                (5, _) => String::new(),
                (_, true) => format!(r#","subject":"{}""#, subject("alice")),
                (_, false) => format!(r#","subject":"{}""#, subject("bob")),
            };
            lines.push(chain.seal(&format!(
                r#"{{"type":"psf.audit","request_id":"{}-{seq}","decision":"allow","retention_until":"{until}"{who}}}"#,
                chain.vm()
            )));
        }
    }
    lines
}

fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

fn fixture_file(name: &str) -> PathBuf {
    scratch(name, joined(&fixture()).as_bytes())
}

fn verify(file: &Path, with_key: bool) -> Output {
    let mut args = vec!["verify"];
    if with_key {
        args.extend(["--sign-key", SIGN_KEY]);
    }
    args.push(path_str(file));
    audit(&args, None)
}

fn assert_verifies(file: &Path) {
    let out = verify(file, true);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(text(&out.stdout).contains("ok: every chain verifies"));
}

/// Runs verify on `lines` and checks it fails naming `expected` (file:line: message).
fn assert_fails(name: &str, lines: &[String], expected: &[(usize, &str)]) {
    let file = scratch(name, joined(lines).as_bytes());
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let stderr = text(&out.stderr);
    for (line, message) in expected {
        let wanted = format!("{}:{line}: {message}", file.display());
        assert!(stderr.contains(&wanted), "missing {wanted:?} in\n{stderr}");
    }
    assert_eq!(stderr.lines().count(), expected.len(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn tombstones(file: &Path) -> Vec<Tombstone> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| l.contains(Tombstone::TYPE))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn verify_passes_on_interleaved_chains_with_a_summary() {
    let file = fixture_file("clean.jsonl");
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let stdout = text(&out.stdout);
    for expected in [
        "clean.jsonl: 12 records, 0 tombstones",
        "vm \"vm-a\": 6 records, 0 tombstones, seq 0 to 5\n",
        "vm \"vm-b\": 6 records, 0 tombstones, seq 0 to 5\n",
        "ok: every chain verifies",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert_eq!(text(&out.stderr), "");

    // A rotated file starts mid-chain: its first record of a VM is taken as the start.
    let rotated = scratch("rotated.jsonl", joined(&fixture()[4..]).as_bytes());
    let out = verify(&rotated, false);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains("seq 2 to 5 (starts mid-chain"),
        "{}",
        said(&out)
    );
    // Split over two files given in order, the chains run on from one to the next.
    let first = scratch("part1.jsonl", joined(&fixture()[..5]).as_bytes());
    let second = scratch("part2.jsonl", joined(&fixture()[5..]).as_bytes());
    let out = audit(&["verify", path_str(&first), path_str(&second)], None);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let out = audit(&["verify", path_str(&second), path_str(&first)], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "files out of order: {}",
        said(&out)
    );
}

#[test]
fn an_edited_record_fails_with_the_hash_message() {
    let mut lines = fixture();
    lines[4] = lines[4].replace(r#""decision":"allow""#, r#""decision":"block""#);
    assert_fails(
        "edited.jsonl",
        &lines,
        &[(
            5,
            "vm \"vm-a\": seq 2: hash does not match: the record was edited",
        )],
    );
}

#[test]
fn a_deleted_record_fails_with_the_missing_message() {
    let mut lines = fixture();
    lines.remove(4); // vm-a seq 2; vm-a seq 3 moves up to line 6.
    assert_fails(
        "deleted.jsonl",
        &lines,
        &[(
            6,
            "vm \"vm-a\": seq 3 follows seq 1: 1 record missing (deleted?)",
        )],
    );
    let mut lines = fixture();
    lines.drain(4..9); // vm-a seq 2, 3, 4 and vm-b seq 2, 3
    assert_fails(
        "deleted-many.jsonl",
        &lines,
        &[
            (
                5,
                "vm \"vm-b\": seq 4 follows seq 1: 2 records missing (deleted?)",
            ),
            (
                6,
                "vm \"vm-a\": seq 5 follows seq 1: 3 records missing (deleted?)",
            ),
        ],
    );
}

#[test]
fn swapped_records_fail() {
    let mut lines = fixture();
    lines.swap(2, 4); // vm-a seq 1 and 2
    assert_fails(
        "swapped.jsonl",
        &lines,
        &[
            (
                3,
                "vm \"vm-a\": seq 2 follows seq 0: 1 record missing (deleted?)",
            ),
            (
                5,
                "vm \"vm-a\": seq 1 follows seq 2: out of order or repeated",
            ),
        ],
    );
}

#[test]
fn a_replaced_record_fails_with_the_prev_message() {
    // Another chain of the same VM seals a different seq 1, which links to its own seq 0.
    let mut other = Chain::new("vm-a");
    other.seal(r#"{"type":"psf.audit","decision":"block"}"#);
    let forged = other.seal(r#"{"type":"psf.audit","decision":"allow"}"#);
    let mut lines = fixture();
    lines[2] = forged;
    assert_fails(
        "replaced.jsonl",
        &lines,
        &[
            (
                3,
                "vm \"vm-a\": prev does not match the hash of seq 0: a record was replaced or removed",
            ),
            (
                5,
                "vm \"vm-a\": prev does not match the hash of seq 1: a record was replaced or removed",
            ),
        ],
    );
}

#[test]
fn prune_removes_expired_records_behind_signed_tombstones() {
    let file = fixture_file("prune.jsonl");
    let name = path_str(&file);
    let out = audit(
        &["prune", "--now", "2026-06-01T00:00:00Z", name],
        Some(SIGN_KEY),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains(&format!(
            "{name}: pruned 6 records with retention_until before 2026-06-01T00:00:00Z; wrote 2 tombstones; 6 records kept"
        )),
        "{}",
        said(&out)
    );
    let content = std::fs::read_to_string(&file).unwrap();
    assert_eq!(content.lines().count(), 8, "{content}");
    assert!(!content.contains("2026-01-0"), "expired records remain");
    assert_eq!(content.matches("2027-01-0").count(), 6);
    let written = tombstones(&file);
    assert_eq!(written.len(), 2);
    for (tombstone, vm) in written.iter().zip(["vm-a", "vm-b"]) {
        assert_eq!(tombstone.vm, vm);
        assert_eq!((tombstone.first_seq, tombstone.last_seq), (0, 2));
        assert_eq!(tombstone.reason, "retention");
        assert_eq!(tombstone.at, "2026-06-01T00:00:00Z");
        assert!(tombstone.signed_with(SIGN_KEY.as_bytes()));
    }
    assert!(content.starts_with(r#"{"type":"psf.audit.tombstone","vm":"vm-a""#));
    assert!(!file.with_extension("jsonl.tmp").exists());
    assert_verifies(&file);
    let out = verify(&file, false);
    assert!(
        text(&out.stdout).contains("signatures were not checked"),
        "{}",
        said(&out)
    );

    // Again, later: the new tombstones follow the old ones, which stay as they are.
    let out = audit(
        &[
            "prune",
            "--sign-key",
            SIGN_KEY,
            "--now",
            "2027-01-03T00:00:00Z",
            name,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains("pruned 4 records"),
        "{}",
        said(&out)
    );
    let ranges: Vec<_> = tombstones(&file)
        .iter()
        .map(|t| (t.vm.clone(), t.first_seq, t.last_seq))
        .collect();
    assert_eq!(
        ranges,
        [
            ("vm-a".to_string(), 0, 2),
            ("vm-b".to_string(), 0, 2),
            ("vm-a".to_string(), 3, 4),
            ("vm-b".to_string(), 3, 4),
        ]
    );
    assert_verifies(&file);
    let out = verify(&file, false);
    assert!(
        text(&out.stdout).contains("vm \"vm-a\": 1 record, 2 tombstones, seq 0 to 5"),
        "{}",
        said(&out)
    );

    // Nothing more to prune: the file is left as it is.
    let before = std::fs::read(&file).unwrap();
    let out = audit(
        &["prune", "--now", "2027-01-03T00:00:00Z", name],
        Some(SIGN_KEY),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains("nothing to prune"),
        "{}",
        said(&out)
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn prune_refuses_a_file_that_does_not_verify() {
    let mut lines = fixture();
    lines.remove(7);
    let file = scratch("prune-tampered.jsonl", joined(&lines).as_bytes());
    let before = std::fs::read(&file).unwrap();
    let out = audit(
        &["prune", "--now", "2030-01-01T00:00:00Z", path_str(&file)],
        Some(SIGN_KEY),
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("1 record missing"), "{stderr}");
    assert!(
        stderr.contains("does not verify (1 problem): left untouched"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);

    // Nor a tombstone signed with another key.
    let file = fixture_file("prune-other-key.jsonl");
    let out = audit(
        &["prune", "--now", "2026-06-01T00:00:00Z", path_str(&file)],
        Some("another-key-0123456789"),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let before = std::fs::read(&file).unwrap();
    let out = audit(
        &["prune", "--now", "2030-01-01T00:00:00Z", path_str(&file)],
        Some(SIGN_KEY),
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains("signature does not match"),
        "{}",
        said(&out)
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn erase_removes_every_record_of_one_subject() {
    let file = fixture_file("erase.jsonl");
    let name = path_str(&file);
    let out = audit(
        &[
            "erase",
            "--subject",
            "alice",
            "--key",
            SUBJECT_KEY,
            "--sign-key",
            SIGN_KEY,
            name,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains(&format!(
            "{name}: removed 4 records of the subject; wrote 3 tombstones; 8 records kept"
        )),
        "{}",
        said(&out)
    );
    let content = std::fs::read_to_string(&file).unwrap();
    assert!(!content.contains(&subject("alice")), "{content}");
    assert_eq!(content.matches(&subject("bob")).count(), 6);
    let ranges: Vec<_> = tombstones(&file)
        .iter()
        .map(|t| (t.vm.clone(), t.first_seq, t.last_seq, t.reason.clone()))
        .collect();
    assert_eq!(
        ranges,
        [
            ("vm-a".to_string(), 1, 1, "erasure".to_string()),
            ("vm-b".to_string(), 2, 2, "erasure".to_string()),
            ("vm-a".to_string(), 3, 4, "erasure".to_string()),
        ]
    );
    assert_verifies(&file);

    // Once more: nothing left, and it says so.
    let out = audit(
        &["erase", "--subject", "alice", "--key", SUBJECT_KEY, name],
        Some(SIGN_KEY),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("{name}: no records of this subject")),
        "{stdout}"
    );
    assert!(stdout.contains("nothing erased"), "{stdout}");
    assert!(!stdout.contains("alice"), "the subject id is not printed");
}

#[test]
fn a_forged_tombstone_fails_verify_with_the_signing_key() {
    // vm-a's seq 1-2 replaced by a tombstone signed with the wrong key.
    let lines = fixture();
    let link = |line: &str| psf_engine::audit::chain::check_line(line).unwrap();
    let (first, last) = (link(&lines[2]), link(&lines[4]));
    let forged = Tombstone::new(
        "vm-a",
        1,
        2,
        &first.prev,
        &last.hash,
        "erasure",
        "2026-06-01T00:00:00Z",
        b"not-the-operators-key",
    );
    let mut edited = lines.clone();
    edited[2] = forged.to_line();
    edited.remove(4);
    let file = scratch("forged.jsonl", joined(&edited).as_bytes());
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(text(&out.stdout).contains("tombstone signatures were not checked"));
    let out = verify(&file, true);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    let expected = format!(
        "{}:3: vm \"vm-a\": tombstone for seq 1 to 2: the signature does not match the signing key",
        file.display()
    );
    assert!(text(&out.stderr).contains(&expected), "{}", said(&out));

    // A tombstone with a field its signature does not cover is not accepted either.
    let mut value: serde_json::Value = serde_json::from_str(&forged.to_line()).unwrap();
    value["note"] = "trust me".into();
    edited[2] = value.to_string();
    let file = scratch("forged-field.jsonl", joined(&edited).as_bytes());
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains("fields its signature does not cover (note)"),
        "{}",
        said(&out)
    );
}

#[test]
fn envoy_log_lines_verify() {
    let mut log =
        String::from("[2026-12-27 13:39:59.001][1][info][main] starting main dispatch loop\n");
    for line in fixture() {
        log.push_str(&format!(
            "[2026-12-27 13:40:00.123][42][info][wasm] [source/extensions/common/wasm/context.cc:1192] wasm log psf_guard psf-guard: psf.audit {line}\n"
        ));
        log.push_str("[2026-12-27 13:40:00.124][42][debug][http] [source/common/http/conn_manager_impl.cc:1959] request end stream\n");
    }
    let file = scratch("envoy.log", log.as_bytes());
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains("12 records, 0 tombstones, 13 other lines ignored"),
        "{}",
        said(&out)
    );
    // The shipped access-log format, with `-` where a request left no record.
    let mut access = String::new();
    for line in fixture() {
        access.push_str(&format!(
            "[2026-12-27T13:40:00.123Z] \"POST /v1/chat/completions HTTP/1.1\" 200 - 120 430 18 \"r-1\" psf_audit={line}\n"
        ));
        access.push_str("[2026-12-27T13:40:00.124Z] \"GET /healthz HTTP/1.1\" 200 - 0 2 0 \"r-2\" psf_audit=-\n");
    }
    let file = scratch("access.log", access.as_bytes());
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains("12 records, 0 tombstones, 12 other lines ignored"),
        "{}",
        said(&out)
    );
    // Read from stdin, as at the end of a pipe.
    let out = Command::new(env!("CARGO_BIN_EXE_psf-guard"))
        .args(["audit", "verify", "-"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));

    // An edit shows inside a log line too.
    let edited = log.replacen(r#""decision":"allow""#, r#""decision":"block""#, 1);
    let file = scratch("envoy-edited.log", edited.as_bytes());
    let out = verify(&file, false);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains(":2: vm \"vm-a\": seq 0: hash does not match"),
        "{}",
        said(&out)
    );
    // Pruned in place, a log keeps its other lines, and a tombstone keeps the log prefix.
    let file = scratch("envoy-prune.log", log.as_bytes());
    let out = audit(
        &["prune", "--now", "2026-06-01T00:00:00Z", path_str(&file)],
        Some(SIGN_KEY),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(
        text(&out.stdout).contains("pruned 6 records"),
        "{}",
        said(&out)
    );
    let pruned = std::fs::read_to_string(&file).unwrap();
    assert_eq!(pruned.matches("request end stream").count(), 12);
    assert_eq!(
        pruned
            .matches("psf.audit {\"type\":\"psf.audit.tombstone\"")
            .count(),
        2
    );
    assert_verifies(&file);
}

#[test]
fn hostile_input_gives_clear_errors_without_panicking() {
    let lines = fixture();
    let mut binary = joined(&lines[..4]).into_bytes();
    binary.extend_from_slice(b"\x00\xff\xfe\x7fELF\x01\x02\n");
    binary.extend_from_slice(joined(&lines[4..]).as_bytes());
    let truncated = format!("{}{}\n", joined(&lines[..4]), &lines[4][..40]);
    let cases: [(&str, &[u8], &str); 5] = [
        ("binary.jsonl", &binary, ":5: binary data, not text"),
        (
            "truncated.jsonl",
            truncated.as_bytes(),
            ":5: not a readable audit record (EOF while parsing",
        ),
        ("empty.jsonl", b"", "no audit records (an empty file"),
        (
            "garbage.jsonl",
            b"\x00\x01\x02\x03\xff",
            ":1: binary data, not text",
        ),
        (
            "json.jsonl",
            b"{\"vm\": 7, \"seq\": -1}\n[1,2]\n{\"type\":\"psf.audit.tombstone\"}\n",
            ":1: not a readable audit record",
        ),
    ];
    for (name, contents, expected) in cases {
        let file = scratch(name, contents);
        let out = verify(&file, true);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", said(&out));
        assert!(
            stderr.contains(expected),
            "{name}: missing {expected:?} in\n{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        let out = audit(
            &["prune", "--now", "2030-01-01T00:00:00Z", path_str(&file)],
            Some(SIGN_KEY),
        );
        assert_eq!(out.status.code(), Some(1), "{name}: {}", said(&out));
        assert!(
            text(&out.stderr).contains("left untouched"),
            "{name}: {}",
            said(&out)
        );
        assert_eq!(std::fs::read(&file).unwrap(), contents, "{name}");
    }
    let out = audit(&["verify", "no/such/audit.jsonl"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no/such/audit.jsonl: cannot read"));
}

#[test]
fn usage_errors_exit_2() {
    let file = fixture_file("usage.jsonl");
    let name = path_str(&file);
    for (args, expected) in [
        (&[][..], "name a command"),
        (&["verify"][..], "name at least one audit file"),
        (&["check", name][..], "unknown audit command \"check\""),
        (
            &["verify", "--bogus", "1", name][..],
            "unknown option --bogus",
        ),
        (&["prune", name][..], "--now is required"),
        (
            &["prune", "--now", "yesterday", name][..],
            "is not an RFC 3339 time",
        ),
        (
            &["prune", "--now", "now", name][..],
            "a signing key is required",
        ),
        (
            &["prune", "--now", "now", "--sign-key", "short", name][..],
            "at least 16 characters",
        ),
        (
            &["erase", "--subject", "alice", "--sign-key", SIGN_KEY, name][..],
            "--key is required",
        ),
        (
            &["prune", "--now", "now", "--sign-key", SIGN_KEY, "-"][..],
            "not `-`",
        ),
    ] {
        let out = audit(args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", said(&out));
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            said(&out)
        );
    }
    let out = audit(&["help"], None);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("psf-guard audit prune --now T"));
}
