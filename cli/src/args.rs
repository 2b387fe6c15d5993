//! Flags as `--name value` (repeatable) plus positional arguments; small enough to need no crate.

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
