//! Regexes written by policy authors (custom PII entities, content-filter rules): compiled
//! with limits, so one pattern cannot make every worker's program huge, and with an error
//! an author can act on.

use regex::{Regex, RegexBuilder};

/// Compiled-program limits: a policy pattern must stay small enough for every worker.
const SIZE_LIMIT: usize = 1 << 20;
const DFA_SIZE_LIMIT: usize = 2 << 20;

/// `pattern` compiled; ASCII-only classes first (smaller and faster), Unicode-aware ones
/// when the pattern needs them.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    if pattern.is_empty() {
        return Err("the pattern is empty".into());
    }
    let build = |unicode: bool| {
        RegexBuilder::new(pattern)
            .unicode(unicode)
            .size_limit(SIZE_LIMIT)
            .dfa_size_limit(DFA_SIZE_LIMIT)
            .build()
    };
    match build(false) {
        Ok(regex) => Ok(regex),
        Err(ascii) => build(true).map_err(|_| describe(&ascii)),
    }
}

fn describe(error: &regex::Error) -> String {
    match error {
        regex::Error::CompiledTooBig(limit) => {
            format!("the pattern compiles too large (over {limit} bytes); simplify it")
        }
        other => {
            let text = other.to_string();
            let last = text.lines().last().unwrap_or_default().trim();
            let reason = last.strip_prefix("error:").unwrap_or(last).trim();
            format!("the pattern does not compile: {reason}")
        }
    }
}
