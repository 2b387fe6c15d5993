//! `psf-guard coverage` as a user runs it: one row per PSF competency, decided from the policy.

use crate::default_policy;
use psf_host::repo_root;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Command, Output};

fn psf_guard(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_psf-guard"))
        .arg("coverage")
        .args(args)
        .current_dir(repo_root())
        .output()
        .expect("run psf-guard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str, contents: &str) -> PathBuf {
    let dir = repo_root().join("target/cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{}-coverage-{name}", std::process::id()));
    std::fs::write(&path, contents).unwrap();
    path
}

/// The table rows of the markdown report, as `(id, status, where / what)`.
fn rows(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| id |"))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 4, "{line}");
            (
                cells[0].trim().to_string(),
                cells[2].trim().to_string(),
                cells[3].trim().to_string(),
            )
        })
        .collect()
}

fn status_of(report: &Value, id: &str) -> String {
    report["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {report}"))["status"]
        .as_str()
        .unwrap()
        .to_string()
}

fn json_report(policy: &str) -> Value {
    let out = psf_guard(&[policy, "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The default policy with every control the filter supports turned on.
fn everything_on() -> Value {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    let demo: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("policies/ratelimit-demo.json")).unwrap(),
    )
    .unwrap();
    policy["rate_limits"] = demo["rate_limits"].clone();
    policy["abuse"] = demo["abuse"].clone();
    policy["audit"] = json!({
        "subject_header": "x-user-id",
        "subject_key": "subject-key-for-tests-0123456789"
    });
    for route in policy["routes"].as_array_mut().unwrap() {
        if route["id"] != "completions" {
            route["system_prompt"] = json!({"pinned": "You answer billing questions."});
        }
        route["confidence"] = json!({"min_mean_logprob": -1.5});
    }
    policy["routes"][0]["output_schema"] = json!({"max_chars": 20000});
    let approved = |message: &str| json!({"message": message, "approved_by": "Jane Doe", "approved_on": "2026-11-01"});
    policy["residency"] = json!({"allowed_regions": ["eu"], "clusters": {"llm": "eu"}});
    for route in policy["routes"].as_array_mut().unwrap() {
        route["autonomy"] = json!("supervised");
        route["approved_models"] = json!({"pinned": ["gpt-4o-2024-08-06"]});
        route["fallback"] = json!({"action": "degrade"});
    }
    policy["routes"][0]["review"] =
        json!({"tools": ["transfer_*"], "key": "review-key-0123456789"});
    policy["incident"] = json!({
        "admin": {"token": "coverage-admin-token-0123456789", "sources": ["127.0.0.1/32"]},
        "templates": {"degrade": approved("Reduced service."), "isolate": approved("Paused.")}
    });
    policy
}

// See: #8 (item 7, "Done when": 40 rows for the default policy).
#[test]
fn coverage_of_the_default_policy_has_one_row_per_competency() {
    let out = psf_guard(&["policies/default.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let rows = rows(&stdout);
    assert_eq!(rows.len(), 40, "{stdout}");
    let ids: Vec<&str> = rows.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids[0], "IG-1");
    assert_eq!(ids[39], "EA-5");
    let row = |id: &str| rows.iter().find(|(i, _, _)| i == id).unwrap().clone();
    let (_, status, what) = row("IG-1");
    assert_eq!(status, "enforced");
    assert!(
        what.contains("openai-chat") && what.contains("].injection`"),
        "{what}"
    );
    assert_eq!(row("IG-4").1, "supported-off");
    assert!(row("IG-4").2.contains("rate_limits"));
    assert_eq!(row("EA-1").1, "enforced");
    assert_eq!(row("DG-4").1, "organisational");
    assert_eq!(row("HO-1").1, "supported-off");
    assert_eq!(
        row("HO-3").1,
        "enforced",
        "answers are disclosed by default"
    );
    assert_eq!(row("MS-4").1, "supported-off");
    let tally = stdout.lines().find(|l| l.starts_with("tally: ")).unwrap();
    assert!(
        tally.contains("enforced") && tally.contains("organisational"),
        "{tally}"
    );
}

#[test]
fn coverage_json_has_forty_entries_and_a_tally_that_adds_up() {
    let report = json_report("policies/default.json");
    assert_eq!(report["policy"], "default");
    let competencies = report["competencies"].as_array().unwrap();
    assert_eq!(competencies.len(), 40);
    let ig1 = &competencies[0];
    assert_eq!(ig1["id"], "IG-1");
    assert_eq!(ig1["domain"], "Input Governance");
    assert_eq!(ig1["status"], "enforced");
    assert!(ig1["paths"]
        .as_array()
        .unwrap()
        .contains(&json!("routes[openai-chat].injection")));
    let tally = report["tally"].as_object().unwrap();
    let total: u64 = tally.values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(total, 40, "{tally:?}");
    for entry in competencies {
        let status = entry["status"].as_str().unwrap();
        assert!(tally.contains_key(status), "{status} not in the tally");
        assert!(entry["note"].as_str().is_some_and(|n| !n.is_empty()));
    }
}

#[test]
fn coverage_sees_rate_limits_only_where_the_policy_has_them() {
    assert_eq!(
        status_of(&json_report("policies/default.json"), "IG-4"),
        "supported-off"
    );
    let demo = json_report("policies/ratelimit-demo.json");
    assert_eq!(status_of(&demo, "IG-4"), "enforced");
    assert_eq!(status_of(&demo, "OM-3"), "enforced");
    let ig4 = demo["competencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "IG-4")
        .unwrap();
    assert!(
        ig4["paths"]
            .as_array()
            .unwrap()
            .contains(&json!("rate_limits.limits[per-api-key]")),
        "{ig4}"
    );
}

#[test]
fn coverage_strict_fails_on_supported_controls_left_off() {
    let out = psf_guard(&["policies/default.json", "--strict"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    for id in ["IG-4", "IG-5", "OV-2", "OV-4", "DG-3", "OM-3"] {
        assert!(
            stderr.contains(&format!("  {id} ")),
            "{id} not in\n{stderr}"
        );
    }
    // Organisational and planned competencies never fail the gate.
    assert!(
        !stderr.contains("DG-4") && !stderr.contains("EA-5"),
        "{stderr}"
    );
    assert_eq!(rows(&text(&out.stdout)).len(), 40);

    let policy = scratch("everything-on.json", &everything_on().to_string());
    let out = psf_guard(&["--strict", policy.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["tally"]["supported-off"], 0, "{report}");
    assert_eq!(status_of(&report, "IG-5"), "enforced");
    assert_eq!(status_of(&report, "DG-3"), "enforced");
}

#[test]
fn coverage_names_the_routes_a_control_misses() {
    let mut policy = everything_on();
    policy["routes"][3]
        .as_object_mut()
        .unwrap()
        .remove("injection");
    let file = scratch("one-route-without-injection.json", &policy.to_string());
    let report = json_report(file.to_str().unwrap());
    let ig1 = &report["competencies"][0];
    assert_eq!(ig1["status"], "enforced");
    assert_eq!(ig1["missing"], json!(["routes[completions].injection"]));
}

#[test]
fn coverage_refuses_a_bad_policy_with_its_errors() {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    policy["owner"] = json!("platform team");
    let file = scratch("team-owner.json", &policy.to_string());
    let out = psf_guard(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("invalid policy") && stderr.contains("owner"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    let out = psf_guard(&["no/such/policy.json", "--strict"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read"));
    let out = psf_guard(&["policies/default.json", "--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn coverage_checks_the_framework_file_against_its_table() {
    let framework = repo_root().join("../shared/psf/framework.md");
    if framework.is_file() {
        let report = json_report("policies/default.json");
        assert_ne!(report["framework"], "embedded");
        let statement = report["competencies"][0]["statement"].as_str().unwrap();
        assert!(statement.contains("Injection patterns"), "{statement}");
    }
    let grown = scratch(
        "framework.md",
        "## IG — Input Governance\n\n- **IG-1** one\n- **IG-6** a competency the table lacks\n",
    );
    let out = psf_guard(&[
        "policies/default.json",
        "--framework",
        grown.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("IG-6") && stderr.contains("EA-5"),
        "{stderr}"
    );
}

#[test]
fn coverage_says_when_the_policy_does_not_block() {
    let mut policy: Value = serde_json::from_str(&default_policy()).unwrap();
    policy["mode"] = json!("monitor");
    let file = scratch("monitor.json", &policy.to_string());
    let out = psf_guard(&[file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let tally = stdout.lines().find(|l| l.starts_with("tally: ")).unwrap();
    assert!(tally.contains("mode monitor"), "{tally}");
}
