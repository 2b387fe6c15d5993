//! `psf-guard audit`: checks and maintains the audit trail the filter writes (PSF OM-5, DG-2,
//! DG-3).
//!
//! Records are chained per VM by `psf_engine::audit::chain`: `verify` walks the chains and
//! names every break; `prune` (retention) and `erase` (a data subject's records) remove records
//! on purpose and put one signed tombstone in place of each run they removed, so the chain
//! still verifies and the removal itself is on record.

use super::{args::Args, EXIT_INVALID};
use anyhow::Context as _;
use psf_engine::audit::chain::{check_line, hmac_hex, LineError, Link, Tombstone, GENESIS};
use psf_engine::audit::time::rfc3339;
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

/// Where a log line holds a record: Envoy's log (`[…][info][wasm] … psf.audit {…}`) and the
/// shipped access-log format (`… psf_audit={…}`, from `%FILTER_STATE(wasm.psf_audit:PLAIN)%`).
const LOG_MARKERS: [&str; 2] = ["psf.audit {", "psf_audit={"];
const SIGNING_KEY_ENV: &str = "PSF_AUDIT_SIGNING_KEY";
/// As for the policy's `subject_key`: a short key makes signatures guessable.
const MIN_KEY_LEN: usize = 16;
/// No record is this long; a longer line (say, a binary file without newlines) is skipped
/// rather than held in memory.
const MAX_LINE: usize = 16 << 20;
/// The fields a tombstone's signature covers; any other field would be unauthenticated.
const TOMBSTONE_FIELDS: [&str; 9] = [
    "type",
    "vm",
    "first_seq",
    "last_seq",
    "prev",
    "last_hash",
    "reason",
    "at",
    "signature",
];

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

/// What one line of an audit file holds.
enum Item<'a> {
    Blank,
    /// Text without a record, such as Envoy's other log lines: ignored.
    Other,
    Record {
        link: Link,
        json: &'a str,
        /// What comes before the record on its line: empty in JSONL, Envoy's log prefix
        /// ending in `psf.audit ` in a log.
        prefix: &'a str,
    },
    Tombstone(Tombstone),
    /// Should hold a record but does not. `link` when the chain fields still read (an edited
    /// record), so the walk can go on from it.
    Broken {
        why: String,
        link: Option<Link>,
    },
}

/// `line` as read, with or without its newline; `None` for a line over [`MAX_LINE`].
fn classify(line: Option<&[u8]>) -> Item<'_> {
    let Some(line) = line else {
        return broken(format!(
            "line longer than {} MiB: not an audit record",
            MAX_LINE >> 20
        ));
    };
    let Ok(text) = std::str::from_utf8(line) else {
        return broken("binary data, not text: not an audit record");
    };
    let text = text.trim();
    if text.is_empty() {
        return Item::Blank;
    }
    let (prefix, json) = if text.starts_with('{') {
        ("", text)
    } else if let Some(at) = LOG_MARKERS
        .iter()
        .filter_map(|marker| Some(text.find(marker)? + marker.len() - 1))
        .min()
    {
        text.split_at(at)
    } else if text.chars().any(|c| c.is_control() && c != '\t') {
        return broken("binary data, not text: not an audit record");
    } else {
        return Item::Other;
    };
    if json.contains("\"psf.audit.tombstone\"") {
        if let Some(item) = read_tombstone(json) {
            return item;
        }
    }
    match check_line(json) {
        Ok(link) => Item::Record { link, json, prefix },
        Err(LineError::HashMismatch) => Item::Broken {
            why: "hash does not match: the record was edited".into(),
            link: serde_json::from_str(json).ok(),
        },
        Err(LineError::Unreadable(why)) => broken(format!(
            "not a readable audit record ({}): truncated, or not written by psf-guard",
            printable(&why)
        )),
    }
}

fn broken(why: impl Into<String>) -> Item<'static> {
    Item::Broken {
        why: why.into(),
        link: None,
    }
}

/// `None` when `json` is not a tombstone after all (say, a record quoting the type name).
fn read_tombstone(json: &str) -> Option<Item<'static>> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    if value.get("type")?.as_str()? != Tombstone::TYPE {
        return None;
    }
    let extra: Vec<&str> = value
        .as_object()?
        .keys()
        .map(String::as_str)
        .filter(|k| !TOMBSTONE_FIELDS.contains(k))
        .collect();
    if !extra.is_empty() {
        return Some(broken(format!(
            "tombstone with fields its signature does not cover ({}): not written by psf-guard",
            printable(&extra.join(", "))
        )));
    }
    Some(match serde_json::from_value::<Tombstone>(value) {
        Ok(tombstone) => Item::Tombstone(tombstone),
        Err(error) => broken(format!(
            "unreadable tombstone ({})",
            printable(&error.to_string())
        )),
    })
}

/// Text from the input, safe to print on a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

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

/// The chains seen so far, one per VM, in the order the VMs first appear.
struct Walk<'k> {
    /// Checks tombstone signatures when set.
    key: Option<&'k [u8]>,
    vms: Vec<VmChain>,
    index: HashMap<String, usize>,
}

struct VmChain {
    vm: String,
    /// The last record (or tombstone end) in seq order: what the next one must link to.
    head: Option<Head>,
    first_seq: u64,
    last_seq: u64,
    records: u64,
    tombstones: u64,
}

struct Head {
    seq: u64,
    hash: String,
}

impl<'k> Walk<'k> {
    fn new(key: Option<&'k [u8]>) -> Self {
        Self {
            key,
            vms: Vec::new(),
            index: HashMap::new(),
        }
    }

    /// The problems `item` shows, each a sentence naming its VM.
    fn step(&mut self, item: &Item<'_>) -> Vec<String> {
        let mut problems = Vec::new();
        match item {
            Item::Blank | Item::Other => {}
            Item::Record { link, .. } => self.record(link, &mut problems),
            Item::Tombstone(tombstone) => self.tombstone(tombstone, &mut problems),
            Item::Broken { why, link } => match link {
                Some(link) => {
                    problems.push(format!("vm {:?}: seq {}: {why}", link.vm, link.seq));
                    self.record(link, &mut problems);
                }
                None => problems.push(why.clone()),
            },
        }
        problems
    }

    fn chain(&mut self, vm: &str) -> &mut VmChain {
        let at = match self.index.get(vm) {
            Some(&at) => at,
            None => {
                self.index.insert(vm.to_string(), self.vms.len());
                self.vms.push(VmChain {
                    vm: vm.to_string(),
                    head: None,
                    first_seq: 0,
                    last_seq: 0,
                    records: 0,
                    tombstones: 0,
                });
                self.vms.len() - 1
            }
        };
        &mut self.vms[at]
    }

    fn record(&mut self, link: &Link, problems: &mut Vec<String>) {
        let chain = self.chain(&link.vm);
        let name = format!("vm {:?}", link.vm);
        chain.records += 1;
        let advance = match &chain.head {
            None => {
                if link.seq == 0 && link.prev != GENESIS {
                    problems.push(format!(
                        "{name}: seq 0 starts the chain but its prev is not the genesis hash: a record was replaced"
                    ));
                }
                chain.first_seq = link.seq;
                true
            }
            Some(head) => follows(head, link.seq, &link.prev, &name, "", problems),
        };
        if advance {
            chain.head = Some(Head {
                seq: link.seq,
                hash: link.hash.clone(),
            });
            chain.last_seq = link.seq;
        }
    }

    fn tombstone(&mut self, tombstone: &Tombstone, problems: &mut Vec<String>) {
        let key = self.key;
        let chain = self.chain(&tombstone.vm);
        let name = format!("vm {:?}", tombstone.vm);
        let what = format!(
            "tombstone for seq {} to {}",
            tombstone.first_seq, tombstone.last_seq
        );
        chain.tombstones += 1;
        if let Some(key) = key {
            if !tombstone.signed_with(key) {
                problems.push(format!(
                    "{name}: {what}: the signature does not match the signing key: forged, edited, or signed with another key"
                ));
            }
        }
        if tombstone.first_seq > tombstone.last_seq {
            problems.push(format!(
                "{name}: {what}: first_seq is after last_seq: not a valid tombstone"
            ));
            return;
        }
        let advance = match &chain.head {
            None => {
                if tombstone.first_seq == 0 && tombstone.prev != GENESIS {
                    problems.push(format!(
                        "{name}: {what} starts the chain but its prev is not the genesis hash: a record was replaced"
                    ));
                }
                chain.first_seq = tombstone.first_seq;
                true
            }
            Some(head) => follows(
                head,
                tombstone.first_seq,
                &tombstone.prev,
                &name,
                &format!("{what}: "),
                problems,
            ),
        };
        if advance {
            chain.head = Some(Head {
                seq: tombstone.last_seq,
                hash: tombstone.last_hash.clone(),
            });
            chain.last_seq = tombstone.last_seq;
        }
    }
}

/// Whether `seq` with `prev` comes right after `head`, naming the break when it does not.
/// Returns whether the walk goes on from it (not when it lies behind the head).
fn follows(
    head: &Head,
    seq: u64,
    prev: &str,
    name: &str,
    what: &str,
    problems: &mut Vec<String>,
) -> bool {
    if head.seq.checked_add(1) == Some(seq) {
        if prev != head.hash {
            problems.push(format!(
                "{name}: {what}prev does not match the hash of seq {}: a record was replaced or removed",
                head.seq
            ));
        }
        true
    } else if seq > head.seq {
        let missing = seq - head.seq - 1;
        problems.push(format!(
            "{name}: {what}seq {seq} follows seq {}: {missing} record{} missing (deleted?)",
            head.seq,
            plural(missing)
        ));
        true
    } else {
        problems.push(format!(
            "{name}: {what}seq {seq} follows seq {}: out of order or repeated (records moved, swapped or copied?)",
            head.seq
        ));
        false
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

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

/// Nanoseconds since 1970-01-01T00:00:00Z of an RFC 3339 date-time such as
/// `2026-12-27T13:40:00.123Z` or `2026-12-27T14:40:00+01:00`.
fn parse_rfc3339(text: &str) -> Option<i128> {
    let bytes = text.as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = text.get(from..to)?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    if bytes.get(4) != Some(&b'-')
        || bytes.get(7) != Some(&b'-')
        || !matches!(bytes.get(10), Some(b'T' | b't' | b' '))
        || bytes.get(13) != Some(&b':')
        || bytes.get(16) != Some(&b':')
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut nanos: i128 = 0;
    if bytes.get(at) == Some(&b'.') {
        let start = at + 1;
        at = start;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
        for place in 0..9 {
            let digit = bytes.get(start + place).filter(|_| start + place < at);
            nanos = nanos * 10 + digit.map_or(0, |d| i128::from(d - b'0'));
        }
    }
    let offset = match text.get(at..)? {
        "Z" | "z" => 0,
        zone => {
            let sign = match zone.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if zone.len() != 6 || zone.as_bytes()[3] != b':' {
                return None;
            }
            let (hours, minutes) = (number(at + 1, at + 3)?, number(at + 4, at + 6)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            sign * (hours * 3600 + minutes * 60)
        }
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(i128::from(seconds) * 1_000_000_000 + nanos)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

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
    fn rfc3339_times_parse_to_the_same_instant() {
        let z = parse_rfc3339("2026-12-27T13:40:00Z").unwrap();
        for (text, nanos) in [
            ("2026-12-27T13:40:00.123Z", z + 123_000_000),
            ("2026-12-27T13:40:00.000000001z", z + 1),
            ("2026-12-27t14:40:00+01:00", z),
            ("2026-12-27 13:10:00-00:30", z),
            ("1970-01-01T00:00:00Z", 0),
            ("2024-02-29T00:00:00Z", 1_709_164_800_000_000_000),
        ] {
            assert_eq!(parse_rfc3339(text), Some(nanos), "{text}");
        }
        for bad in [
            "",
            "2026-12-27",
            "2026-12-27T13:40:00",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-12-27T24:00:00Z",
            "2026-12-27T13:40:00.Z",
            "2026-12-27T13:40:00+0100",
            "+026-12-27T13:40:00Z",
            "2026-12-27T13:40:00Zjunk",
            "２026-12-27T13:40:00Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

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

    #[test]
    fn lines_are_classified_without_panicking() {
        for line in [
            &b"\xff\xfe\x00binary"[..],
            b"{\"vm\":\"a\",\"seq\":1,\"prev\":\"",
            b"[info][wasm] psf.audit {",
            b"\x01\x02\x03",
            b"{\"type\":\"psf.audit.tombstone\"}",
            b"{\"type\":\"psf.audit.tombstone\",\"vm\":\"a\",\"first_seq\":1,\"last_seq\":0,\"prev\":\"\",\"last_hash\":\"\",\"reason\":\"x\",\"at\":\"\",\"signature\":\"\",\"extra\":1}",
        ] {
            assert!(matches!(classify(Some(line)), Item::Broken { .. }));
        }
        assert!(matches!(classify(Some(b"  \r\n")), Item::Blank));
        assert!(matches!(
            classify(Some(b"[info] something else\n")),
            Item::Other
        ));
        assert!(matches!(classify(None), Item::Broken { .. }));
    }
}
