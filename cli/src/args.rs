//! Flags as `--name value` (repeatable) plus positional arguments; small enough to need no crate.
//!
//! Why not clap (#18 asked for derive if build time allows): clap 4.6.1 with derive builds
//! offline in 9.3 s on its own (release, 2 cores), so build time would allow it. But the
//! CLI's tested contract is its own wording and exit status for usage errors: `psf-guard run:
//! unknown option --bogus` exits 1, the same under `audit` or `coverage` exits 2 with that
//! command's usage, a missing flag says `--now is required`. clap words these itself and
//! always exits 2, so keeping the contract means catching each of its errors and rewording
//! it, which keeps this logic and adds a dependency besides.

/// Parsed command-line arguments.
pub struct Args {
    flags: Vec<(String, String)>,
    pub positional: Vec<String>,
}

/// Flags that take no value.
const SWITCHES: [&str; 3] = ["chunked", "passthrough", "report"];

impl Args {
    pub fn parse(argv: &[String]) -> Result<Self, String> {
        let mut flags = Vec::new();
        let mut positional = Vec::new();
        let mut iter = argv.iter();
        while let Some(arg) = iter.next() {
            let Some(name) = arg.strip_prefix("--") else {
                positional.push(arg.clone());
                continue;
            };
            if let Some((name, value)) = name.split_once('=') {
                flags.push((name.to_string(), value.to_string()));
            } else if SWITCHES.contains(&name) {
                flags.push((name.to_string(), String::new()));
            } else {
                let value = iter
                    .next()
                    .ok_or_else(|| format!("--{name} needs a value"))?;
                flags.push((name.to_string(), value.clone()));
            }
        }
        Ok(Self { flags, positional })
    }

    /// The last value of `--name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable `--name`.
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.flags
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn switch(&self, name: &str) -> bool {
        self.flags.iter().any(|(n, _)| n == name)
    }

    pub fn required(&self, name: &str) -> anyhow::Result<&str> {
        self.value(name)
            .ok_or_else(|| anyhow::anyhow!("--{name} is required"))
    }

    /// Fails on any flag outside `known`, so a typo is never silently ignored.
    pub fn only(&self, known: &[&str]) -> anyhow::Result<()> {
        match self
            .flags
            .iter()
            .find(|(n, _)| !known.contains(&n.as_str()))
        {
            Some((name, _)) => anyhow::bail!("unknown option --{name}"),
            None => Ok(()),
        }
    }
}
