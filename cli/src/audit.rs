//! `psf-guard audit`: checks and maintains the audit trail the filter writes (PSF OM-5, DG-2,
//! DG-3).
//!
//! Records are chained per VM by `psf_engine::audit::chain`: `verify` walks the chains and
//! names every break; `prune` (retention) and `erase` (a data subject's records) remove records
//! on purpose and put one signed tombstone in place of each run they removed, so the chain
//! still verifies and the removal itself is on record.

use super::{args::Args, EXIT_INVALID};
use anyhow::Context as _;
use psf_engine::audit::chain::{hmac_hex, Tombstone};
use psf_engine::audit::time::parse_rfc3339;
use psf_engine::audit::time::rfc3339;
use psf_engine::audit::verify::{classify, plural, Item, Walk, MAX_LINE};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::iter::Peekable;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const USAGE: &str = "\
usage:
  psf-guard audit verify [--sign-key K] FILE...
        check every VM's chain of records in JSONL files, or in log lines holding
        `psf.audit {...}` or `psf_audit={...}` (FILE - reads stdin); exit 0 when clean,
        1 naming file:line of every problem
  psf-guard audit prune --now T [--sign-key K] FILE...
        remove records whose retention_until is before T (RFC 3339, or `now`)
  psf-guard audit erase --subject ID --key K [--sign-key K] FILE...
        remove every record of one data subject (K: the policy's audit.subject_key)

prune and erase rewrite each file in place (atomically), put one signed tombstone where each
run of removed records was, keep every other line, and refuse a file that does not verify.
The signing key defaults to $PSF_AUDIT_SIGNING_KEY.
";

const SIGNING_KEY_ENV: &str = "PSF_AUDIT_SIGNING_KEY";
/// As for the policy's `subject_key`: a short key makes signatures guessable.
const MIN_KEY_LEN: usize = 16;
/// A mistake on the command line: exit 2 with the usage, not 1.
#[derive(Debug)]
struct Usage(String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

pub fn audit(args: &Args) -> anyhow::Result<ExitCode> {
    match dispatch(args) {
        Err(error) if error.downcast_ref::<Usage>().is_some() => {
            eprintln!("psf-guard audit: {error}\n\n{USAGE}");
            Ok(ExitCode::from(EXIT_INVALID))
        }
        other => other,
    }
}

fn dispatch(args: &Args) -> anyhow::Result<ExitCode> {
    let Some((command, files)) = args.positional.split_first() else {
        return Err(usage("name a command: verify, prune or erase"));
    };
    let known = |flags: &[&str]| args.only(flags).map_err(|e| usage(e.to_string()));
    match command.as_str() {
        "verify" => {
            known(&["sign-key"])?;
            let key = args.value("sign-key").map(str::as_bytes);
            verify(need_files(files, true)?, key)
        }
        "prune" => {
            known(&["now", "sign-key"])?;
            let now = args
                .value("now")
                .ok_or_else(|| usage("--now is required: the time to prune at, or `now`"))?;
            let (at, nanos) = match now {
                "now" => {
                    let now = SystemTime::now();
                    (format_utc(now), unix_nanos(now))
                }
                time => match parse_rfc3339(time) {
                    Some(nanos) => (time.to_string(), nanos),
                    None => {
                        return Err(usage(format!(
                            "--now {time:?} is not an RFC 3339 time such as 2026-12-31T00:00:00Z (or `now`)"
                        )))
                    }
                },
            };
            let key = signing_key(args)?;
            let removal = Removal {
                reason: "retention",
                at,
                key: &key,
                rule: Rule::ExpiredBefore(nanos),
            };
            remove(need_files(files, false)?, &removal)
        }
        "erase" => {
            known(&["subject", "key", "sign-key"])?;
            // The filter hashes the header value trimmed, so the same id must give the same HMAC.
            let subject = args
                .value("subject")
                .ok_or_else(|| usage("--subject is required: the data subject's id"))?
                .trim();
            let subject_key = args.value("key").ok_or_else(|| {
                usage("--key is required: the policy's audit.subject_key the records were written with")
            })?;
            if subject.is_empty() || subject_key.is_empty() {
                return Err(usage("--subject and --key must not be empty"));
            }
            let key = signing_key(args)?;
            let removal = Removal {
                reason: "erasure",
                at: format_utc(SystemTime::now()),
                key: &key,
                rule: Rule::Subject(hmac_hex(subject_key.as_bytes(), subject.as_bytes())),
            };
            remove(need_files(files, false)?, &removal)
        }
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(usage(format!(
            "unknown audit command {other:?}: expected verify, prune or erase"
        ))),
    }
}

fn need_files(files: &[String], stdin_ok: bool) -> anyhow::Result<&[String]> {
    if files.is_empty() {
        return Err(usage("name at least one audit file"));
    }
    if !stdin_ok && files.iter().any(|f| f == "-") {
        return Err(usage("prune and erase rewrite files: name them, not `-`"));
    }
    Ok(files)
}

fn signing_key(args: &Args) -> anyhow::Result<Vec<u8>> {
    let key = match args.value("sign-key") {
        Some(key) => key.to_string(),
        None => std::env::var(SIGNING_KEY_ENV).map_err(|_| {
            usage(format!(
                "a signing key is required for tombstones: pass --sign-key or set {SIGNING_KEY_ENV}"
            ))
        })?,
    };
    if key.len() < MIN_KEY_LEN {
        return Err(usage(format!(
            "the signing key must be at least {MIN_KEY_LEN} characters"
        )));
    }
    Ok(key.into_bytes())
}

// ---------------------------------------------------------------------------------------------
// Reading lines

/// Calls `each` with every line of `input` in order (1-based number, the bytes with their
/// newline), or `None` in place of a line over [`MAX_LINE`].
fn each_line(input: impl Read, mut each: impl FnMut(usize, Option<&[u8]>)) -> io::Result<()> {
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.len() > MAX_LINE && line.last() != Some(&b'\n') {
            skip_line(&mut reader)?;
            each(number, None);
        } else {
            each(number, Some(&line));
        }
    }
}

fn skip_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

fn open(file: &str) -> io::Result<Box<dyn Read>> {
    if file == "-" {
        Ok(Box::new(io::stdin().lock()))
    } else {
        Ok(Box::new(File::open(file)?))
    }
}

// ---------------------------------------------------------------------------------------------
// Walking the chains

// ---------------------------------------------------------------------------------------------
// verify

fn verify(files: &[String], key: Option<&[u8]>) -> anyhow::Result<ExitCode> {
    let mut walk = Walk::new(key);
    let mut problems = 0usize;
    for file in files {
        let (mut records, mut tombstones, mut unreadable, mut ignored) = (0u64, 0, 0, 0);
        let read = open(file).and_then(|input| {
            each_line(input, |number, line| {
                let item = classify(line);
                match &item {
                    Item::Record { .. } | Item::Broken { link: Some(_), .. } => records += 1,
                    Item::Tombstone(_) => tombstones += 1,
                    Item::Broken { link: None, .. } => unreadable += 1,
                    Item::Other => ignored += 1,
                    Item::Blank => {}
                }
                for problem in walk.step(&item) {
                    eprintln!("{file}:{number}: {problem}");
                    problems += 1;
                }
            })
        });
        if let Err(error) = read {
            eprintln!("{file}: cannot read: {error}");
            problems += 1;
            continue;
        }
        if records + tombstones + unreadable == 0 {
            eprintln!("{file}: no audit records (an empty file, or not an audit log?)");
            problems += 1;
            continue;
        }
        let mut summary = format!(
            "{file}: {records} record{}, {tombstones} tombstone{}",
            plural(records),
            plural(tombstones)
        );
        if unreadable > 0 {
            summary += &format!(", {unreadable} unreadable line{}", plural(unreadable));
        }
        if ignored > 0 {
            summary += &format!(", {ignored} other line{} ignored", plural(ignored));
        }
        println!("{summary}");
    }
    for chain in &walk.vms {
        let start = if chain.first_seq > 0 {
            " (starts mid-chain: earlier records are in an older file)"
        } else {
            ""
        };
        println!(
            "vm {:?}: {} record{}, {} tombstone{}, seq {} to {}{start}",
            chain.vm,
            chain.records,
            plural(chain.records),
            chain.tombstones,
            plural(chain.tombstones),
            chain.first_seq,
            chain.last_seq
        );
    }
    let tombstones: u64 = walk.vms.iter().map(|c| c.tombstones).sum();
    if key.is_none() && tombstones > 0 {
        println!("tombstone signatures were not checked: pass --sign-key to check them");
    }
    if problems == 0 {
        println!("ok: every chain verifies");
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "FAILED: {problems} problem{} (listed on stderr)",
            plural(problems as u64)
        );
        Ok(ExitCode::FAILURE)
    }
}

// ---------------------------------------------------------------------------------------------
// prune and erase

struct Removal<'k> {
    /// The tombstone's `reason`.
    reason: &'static str,
    /// The tombstone's `at`.
    at: String,
    key: &'k [u8],
    rule: Rule,
}

enum Rule {
    /// `retention_until` before this time (nanoseconds since 1970).
    ExpiredBefore(i128),
    /// `subject` equal to this HMAC.
    Subject(String),
}

/// The fields of a record prune and erase look at.
#[derive(Deserialize)]
struct RecordFields {
    retention_until: Option<serde_json::Value>,
    subject: Option<serde_json::Value>,
}

/// Consecutive removed records of one VM: one tombstone.
struct Run {
    /// The line of its first record, where the tombstone goes.
    line: usize,
    /// That line's text before the record, so a tombstone in a log reads as a log line.
    prefix: String,
    vm: String,
    first_seq: u64,
    last_seq: u64,
    prev: String,
    last_hash: String,
}

/// What pass one over a file decided.
#[derive(Default)]
struct Plan {
    problems: Vec<String>,
    records: u64,
    tombstones: u64,
    /// Line numbers of the records to remove, ascending.
    removed: Vec<usize>,
    runs: Vec<Run>,
    /// Records whose `retention_until` is missing or not a time, and the first one's line.
    undated: u64,
    first_undated: usize,
}

fn remove(files: &[String], removal: &Removal<'_>) -> anyhow::Result<ExitCode> {
    let mut failed = false;
    let mut total = 0u64;
    for file in files {
        match remove_from(file, removal) {
            Ok(Some(removed)) => total += removed,
            Ok(None) => failed = true,
            Err(error) => {
                eprintln!("{file}: {error:#}; left untouched");
                failed = true;
            }
        }
    }
    if let Rule::Subject(subject) = &removal.rule {
        if total == 0 && !failed {
            println!(
                "no records of this subject (subject {}…) in {} file{}: nothing erased; \
                 check that --key is the audit.subject_key of the policy that wrote them",
                &subject[..subject.len().min(12)],
                files.len(),
                plural(files.len() as u64)
            );
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Prunes or erases in one file: `Some(records removed)`, or `None` when it refused the file
/// (after saying why).
fn remove_from(file: &str, removal: &Removal<'_>) -> anyhow::Result<Option<u64>> {
    // Work on the file itself, not a symlink to it, so the rename replaces the right file.
    let path = fs::canonicalize(file).context("cannot read")?;
    let before = fs::metadata(&path).context("cannot read")?;
    let plan = plan(&path, removal).context("cannot read")?;
    if !plan.problems.is_empty() {
        for problem in &plan.problems {
            eprintln!("{file}:{problem}");
        }
        eprintln!(
            "{file}: does not verify ({} problem{}): left untouched; run `psf-guard audit verify`",
            plan.problems.len(),
            plural(plan.problems.len() as u64)
        );
        return Ok(None);
    }
    if plan.records + plan.tombstones == 0 {
        eprintln!("{file}: no audit records (an empty file, or not an audit log?): left untouched");
        return Ok(None);
    }
    if plan.undated > 0 {
        eprintln!(
            "{file}: {} record{} without a readable retention_until (first at line {}) kept",
            plan.undated,
            plural(plan.undated),
            plan.first_undated
        );
    }
    let removed = plan.removed.len() as u64;
    let kept = plan.records - removed;
    if removed == 0 {
        match &removal.rule {
            Rule::ExpiredBefore(_) => println!(
                "{file}: nothing to prune: none of its {kept} record{} expires before {}",
                plural(kept),
                removal.at
            ),
            Rule::Subject(_) => println!("{file}: no records of this subject"),
        }
        return Ok(Some(0));
    }
    rewrite(&path, &before, &plan, removal)?;
    let tombstones = plan.runs.len() as u64;
    let what = match removal.rule {
        Rule::ExpiredBefore(_) => format!(
            "pruned {removed} record{} with retention_until before {}",
            plural(removed),
            removal.at
        ),
        Rule::Subject(_) => format!("removed {removed} record{} of the subject", plural(removed)),
    };
    println!(
        "{file}: {what}; wrote {tombstones} tombstone{}; {kept} record{} kept",
        plural(tombstones),
        plural(kept)
    );
    Ok(Some(removed))
}

/// Pass one: verifies the file on its own (with signatures) and finds the runs to remove.
fn plan(path: &Path, removal: &Removal<'_>) -> io::Result<Plan> {
    let mut walk = Walk::new(Some(removal.key));
    let mut plan = Plan::default();
    // The open run of each VM, as an index into `plan.runs`.
    let mut open: HashMap<String, usize> = HashMap::new();
    each_line(File::open(path)?, |number, line| {
        let item = classify(line);
        for problem in walk.step(&item) {
            plan.problems.push(format!("{number}: {problem}"));
        }
        match item {
            Item::Record { link, json, prefix } => {
                plan.records += 1;
                if !removes(removal, json, number, &mut plan) {
                    open.remove(&link.vm);
                } else if let Some(&at) = open.get(&link.vm) {
                    plan.removed.push(number);
                    let run = &mut plan.runs[at];
                    run.last_seq = link.seq;
                    run.last_hash = link.hash;
                } else {
                    plan.removed.push(number);
                    open.insert(link.vm.clone(), plan.runs.len());
                    plan.runs.push(Run {
                        line: number,
                        prefix: prefix.to_string(),
                        vm: link.vm,
                        first_seq: link.seq,
                        last_seq: link.seq,
                        prev: link.prev,
                        last_hash: link.hash,
                    });
                }
            }
            // An existing tombstone stays as it is and ends the run before it.
            Item::Tombstone(tombstone) => {
                plan.tombstones += 1;
                open.remove(&tombstone.vm);
            }
            _ => {}
        }
    })?;
    Ok(plan)
}

/// Whether `removal` takes the record `json`.
fn removes(removal: &Removal<'_>, json: &str, number: usize, plan: &mut Plan) -> bool {
    let fields: Option<RecordFields> = serde_json::from_str(json).ok();
    match &removal.rule {
        Rule::ExpiredBefore(now) => {
            let until = fields
                .as_ref()
                .and_then(|f| f.retention_until.as_ref())
                .and_then(|v| v.as_str())
                .and_then(parse_rfc3339);
            match until {
                Some(until) => until < *now,
                None => {
                    if plan.undated == 0 {
                        plan.first_undated = number;
                    }
                    plan.undated += 1;
                    false
                }
            }
        }
        Rule::Subject(subject) => fields
            .as_ref()
            .and_then(|f| f.subject.as_ref())
            .and_then(|v| v.as_str())
            .is_some_and(|s| s == subject),
    }
}

/// Pass two: writes the file without the removed records, a tombstone in place of each run,
/// to `FILE.tmp` next to it; checks the result verifies; renames it over the file.
fn rewrite(
    path: &Path,
    before: &fs::Metadata,
    plan: &Plan,
    removal: &Removal<'_>,
) -> anyhow::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| {
            format!(
                "cannot create {} (left by an interrupted run? remove it and retry)",
                tmp.display()
            )
        })?;
    let guard = RemoveOnDrop(Some(tmp.clone()));
    let mut out = BufWriter::new(created);
    let mut runs = plan.runs.iter().peekable();
    let mut removed = plan.removed.iter().peekable();
    let mut written = Ok(());
    each_line(File::open(path)?, |number, line| {
        if written.is_ok() {
            written = copy_line(&mut out, number, line, &mut runs, &mut removed, removal);
        }
    })?;
    written?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.set_permissions(before.permissions())?;
    file.sync_all()?;
    drop(file);

    let check = plan_check(&tmp, removal.key)?;
    if let Some(problem) = check {
        anyhow::bail!("the rewritten file would not verify ({problem}): a bug in psf-guard");
    }
    let now = fs::metadata(path)?;
    if now.len() != before.len() || now.modified().ok() != before.modified().ok() {
        anyhow::bail!("the file changed while it was being rewritten (is it still being written to? prune rotated files only)");
    }
    fs::rename(&tmp, path)?;
    guard.disarm();
    // The rename is durable once the directory is synced.
    if let Some(dir) = path.parent() {
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Line `number` of the new file: a tombstone if a run starts there, then the line unless it
/// is removed.
fn copy_line<'p>(
    out: &mut impl Write,
    number: usize,
    line: Option<&[u8]>,
    runs: &mut Peekable<impl Iterator<Item = &'p Run>>,
    removed: &mut Peekable<impl Iterator<Item = &'p usize>>,
    removal: &Removal<'_>,
) -> io::Result<()> {
    if let Some(run) = runs.next_if(|run| run.line == number) {
        let tombstone = Tombstone::new(
            &run.vm,
            run.first_seq,
            run.last_seq,
            &run.prev,
            &run.last_hash,
            removal.reason,
            &removal.at,
            removal.key,
        );
        out.write_all(run.prefix.as_bytes())?;
        out.write_all(tombstone.to_line().as_bytes())?;
        out.write_all(b"\n")?;
    }
    if removed.next_if(|&&at| at == number).is_none() {
        // Pass one refused the file if any line was over MAX_LINE.
        out.write_all(line.unwrap_or_default())?;
    }
    Ok(())
}

/// The first problem `verify` would find in `path` on its own, if any.
fn plan_check(path: &Path, key: &[u8]) -> io::Result<Option<String>> {
    let mut walk = Walk::new(Some(key));
    let mut first = None;
    each_line(File::open(path)?, |number, line| {
        if first.is_none() {
            first = walk
                .step(&classify(line))
                .into_iter()
                .next()
                .map(|p| format!("line {number}: {p}"));
        }
    })?;
    Ok(first)
}

struct RemoveOnDrop(Option<PathBuf>);

impl RemoveOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            fs::remove_file(path).ok();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Time, without a date crate: RFC 3339 in, RFC 3339 UTC out.

fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => since.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// `time` as `2026-12-31T00:00:00.000Z`, the form records use.
fn format_utc(time: SystemTime) -> String {
    let millis = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    rfc3339(u64::try_from(millis).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_utc_and_reads_it_back() {
        for millis in [0u64, 951_782_400_123, 1_798_675_200_000, 4_107_542_399_999] {
            let text = format_utc(UNIX_EPOCH + Duration::from_millis(millis));
            assert_eq!(
                parse_rfc3339(&text),
                Some(i128::from(millis) * 1_000_000),
                "{text}"
            );
        }
        assert_eq!(
            format_utc(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }
}
