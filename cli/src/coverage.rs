//! `psf-guard coverage`: where a policy stands on each of the 40 competencies of the
//! Production Safety Framework, as a markdown table or JSON. The decisions are the
//! engine's ([`psf_engine::psf`]); this file reads the files and prints.

use super::{args::Args, EXIT_INVALID};
use psf_engine::psf::{assess, check_framework, read_framework, tally, Entry, Status};
use psf_engine::{Mode, Policy};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  psf-guard coverage POLICY.json [--format md|json] [--strict] [--framework FILE]
        one row per PSF competency: enforced, supported-off, documented or
        organisational, with the policy fields that decide it
  --format      md (default): a markdown table and a tally; json: one object
  --strict      exit 1 when a competency the filter can enforce is off in POLICY
  --framework   the PSF text (default ../shared/psf/framework.md beside the repository);
                without it the compiled-in ids and titles are used

exit status: 0 reported, 1 with --strict when something is supported but off,
2 for a policy the filter refuses or bad usage
";

/// The framework's text, beside the repository like the evaluation set.
const FRAMEWORK: &str = "../shared/psf/framework.md";

/// The framework file's statements and what to call it in the report, or why it cannot be used.
fn framework(args: &Args) -> Result<(String, BTreeMap<String, String>), String> {
    let (path, explicit) = match args.value("framework") {
        Some(path) => (PathBuf::from(path), true),
        None => (psf_host::repo_root().join(FRAMEWORK), false),
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(_) if !explicit => return Ok(("embedded".into(), BTreeMap::new())),
        Err(error) => return Err(format!("{}: cannot read: {error}", path.display())),
    };
    let statements = read_framework(&text);
    if let Err(mismatch) = check_framework(&statements) {
        return Err(format!("{}: {mismatch}", path.display()));
    }
    let shown = path.canonicalize().unwrap_or(path);
    Ok((shown.display().to_string(), statements))
}

/// `--strict` as `--strict=`, which [`Args`] reads as a switch: args.rs's `SWITCHES` does
/// not list it (listing it there makes this unnecessary).
pub fn spell_switches(argv: &[String]) -> Vec<String> {
    argv.iter()
        .map(|arg| match arg.as_str() {
            "--strict" => "--strict=".to_string(),
            _ => arg.clone(),
        })
        .collect()
}

fn usage(message: &str) -> ExitCode {
    eprintln!("psf-guard coverage: {message}\n\n{USAGE}");
    ExitCode::from(EXIT_INVALID)
}

pub fn coverage(args: &Args) -> anyhow::Result<ExitCode> {
    if let Err(error) = args.only(&["format", "strict", "framework"]) {
        return Ok(usage(&error.to_string()));
    }
    let [file] = args.positional.as_slice() else {
        return Ok(usage("name one policy file"));
    };
    let json = match args.value("format").unwrap_or("md") {
        "md" => false,
        "json" => true,
        other => {
            return Ok(usage(&format!(
                "unknown format {other:?}, expected md or json"
            )))
        }
    };
    let (framework_name, statements) = match framework(args) {
        Ok(framework) => framework,
        Err(message) => return Ok(usage(&message)),
    };
    let document = match std::fs::read(file) {
        Ok(document) => document,
        Err(error) => {
            eprintln!("{file}: cannot read: {error}");
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let policy = match Policy::from_json(&document) {
        Ok(policy) => policy,
        Err(refused) => {
            let errors = refused.errors();
            eprintln!("{file}: invalid policy ({} error(s)):", errors.len());
            for error in errors {
                eprintln!("  {error}");
            }
            return Ok(ExitCode::from(EXIT_INVALID));
        }
    };
    let entries = assess(&policy, &statements);
    let tally = tally(&entries);
    if json {
        print_json(&policy, &framework_name, &entries, &tally)?;
    } else {
        print_markdown(&policy, &entries, &tally);
    }
    let off: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.status == Status::SupportedOff)
        .collect();
    if args.switch("strict") && !off.is_empty() {
        eprintln!(
            "psf-guard coverage: {file}: {} competenc{} the filter supports {} off:",
            off.len(),
            if off.len() == 1 { "y" } else { "ies" },
            if off.len() == 1 { "is" } else { "are" }
        );
        for entry in off {
            eprintln!("  {} {}: {}", entry.id, entry.title, entry.note);
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The `--format json` report, fields in reading order.
#[derive(Serialize)]
struct Report<'a> {
    policy: &'a str,
    owner: &'a str,
    digest: &'a str,
    mode: &'static str,
    framework: &'a str,
    competencies: &'a [Entry],
    tally: &'a BTreeMap<Status, usize>,
}

fn print_json(
    policy: &Policy,
    framework: &str,
    entries: &[Entry],
    tally: &BTreeMap<Status, usize>,
) -> anyhow::Result<()> {
    let report = Report {
        policy: &policy.name,
        owner: &policy.owner,
        digest: &policy.digest,
        mode: policy.mode.as_str(),
        framework,
        competencies: entries,
        tally,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn print_markdown(policy: &Policy, entries: &[Entry], tally: &BTreeMap<Status, usize>) {
    println!(
        "# PSF coverage of policy {:?} ({}, owner {})\n",
        policy.name, policy.digest, policy.owner
    );
    println!("| id | competency | status | where / what |");
    println!("|---|---|---|---|");
    for entry in entries {
        let mut what = String::new();
        if !entry.paths.is_empty() {
            what += &grouped(&entry.paths);
            what += ": ";
        }
        what += &entry.note;
        if !entry.missing.is_empty() {
            what += &format!("; missing: {}", grouped(&entry.missing));
        }
        println!(
            "| {} | {} | {} | {} |",
            entry.id,
            cell(entry.title),
            entry.status.as_str(),
            cell(&what)
        );
    }
    let counts: Vec<String> = tally
        .iter()
        .map(|(status, n)| format!("{n} {}", status.as_str()))
        .collect();
    let mut line = format!("\ntally: {}", counts.join(", "));
    if policy.mode != Mode::Enforce {
        line += &format!(" (mode {}: findings are not blocked)", policy.mode.as_str());
    }
    println!("{line}");
}

/// Paths as code spans, with `routes[a].x, routes[b].x` written `routes[a, b].x`.
fn grouped(paths: &[String]) -> String {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    let mut plain: Vec<&str> = Vec::new();
    for path in paths {
        let split = path
            .strip_prefix("routes[")
            .and_then(|rest| rest.split_once(']'));
        match split {
            Some((id, rest)) => match groups.iter_mut().find(|(r, _)| r == rest) {
                Some((_, ids)) => ids.push(id),
                None => groups.push((rest.to_string(), vec![id])),
            },
            None => plain.push(path),
        }
    }
    groups
        .iter()
        .map(|(rest, ids)| format!("`routes[{}]{rest}`", ids.join(", ")))
        .chain(plain.iter().map(|p| format!("`{p}`")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A table cell: a `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}
