//! Renders Envoy configs from `envoy/*.template.yaml` and runs a real Envoy on free
//! loopback ports, so end-to-end tests exercise the filter exactly as it ships.

use crate::http1::{self, SendOptions};
use crate::message::HttpRequest;
use crate::repo_root;
use anyhow::{bail, Context};
use std::collections::HashSet;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Compiled in so rendering never depends on the working directory.
const GUARD_TEMPLATE: &str = include_str!("../../envoy/envoy.template.yaml");
const PASSTHROUGH_TEMPLATE: &str = include_str!("../../envoy/passthrough.template.yaml");

/// The Envoy binary: `$ENVOY_BIN`, else `.venv/bin/envoy` in the repository, else `envoy`
/// on `PATH`.
pub fn envoy_bin() -> anyhow::Result<PathBuf> {
    if let Some(bin) = std::env::var_os("ENVOY_BIN") {
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            return Ok(bin);
        }
        bail!("ENVOY_BIN={} does not exist", bin.display());
    }
    let venv = repo_root().join(".venv/bin/envoy");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("envoy");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    bail!(
        "envoy not found (looked at $ENVOY_BIN, {}, PATH): run `make envoy` to install it",
        venv.display()
    )
}

/// A loopback port that was free a moment ago; never hands out the same port twice per
/// process, so several Envoys started back to back do not collide.
/// The oldest Envoy the filter is tested on, and where `make envoy` installs it.
pub const OLDEST_ENVOY: &str = "1.36.4";

/// The Envoy binaries the tests run on: `(version, path)`, the one of [`envoy_bin`] first,
/// then [`OLDEST_ENVOY`] (`$ENVOY_OLDEST_BIN`, else `.venv/envoy-<version>/envoy/_bin/envoy`).
pub fn envoy_versions() -> anyhow::Result<Vec<(String, PathBuf)>> {
    let newest = envoy_bin()?;
    let oldest = std::env::var_os("ENVOY_OLDEST_BIN").map_or_else(
        || repo_root().join(format!(".venv/envoy-{OLDEST_ENVOY}/envoy/_bin/envoy")),
        PathBuf::from,
    );
    if !oldest.exists() {
        bail!(
            "Envoy {OLDEST_ENVOY} not found at {}: run `make envoy`",
            oldest.display()
        );
    }
    Ok(vec![
        (envoy_version(&newest)?, newest),
        (envoy_version(&oldest)?, oldest),
    ])
}

/// `1.40.0` from `envoy --version`.
pub fn envoy_version(bin: &Path) -> anyhow::Result<String> {
    let out = Command::new(bin).arg("--version").output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split("version: ")
        .nth(1)
        .and_then(|rest| rest.split('/').nth(1))
        .map(str::to_string)
        .with_context(|| format!("no version in {text:?}"))
}

pub fn free_port() -> u16 {
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    for _ in 0..64 {
        let port = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(0);
        if port != 0 && given.insert(port) {
            return port;
        }
    }
    // Binding keeps failing: fall back to a pid-derived high port rather than panic.
    20_000 + (std::process::id() % 30_000) as u16
}

/// Everything that varies between rendered Envoy configs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvoyConfig {
    pub listener_port: u16,
    pub upstream_port: u16,
    pub admin_port: u16,
    /// The filter; relative paths resolve against Envoy's working directory (the repo root).
    pub wasm_file: PathBuf,
    /// The policy handed to the filter as its plugin configuration.
    pub policy_json: String,
    pub access_log: PathBuf,
    /// Render `passthrough.template.yaml`: the same proxy without the filter.
    pub passthrough: bool,
    /// Leave out the template's path normalisation and `use_remote_address`, as a stock
    /// connection manager (Istio's, or one written from the proxy-wasm examples) has them.
    pub stock_hcm: bool,
}

impl Default for EnvoyConfig {
    /// The committed `envoy/envoy.yaml`: 10000 → 10001, admin 9901, `policies/default.json`
    /// (empty if that file cannot be read; [`render_default_envoy_yaml`] reports it).
    fn default() -> Self {
        Self {
            listener_port: 10000,
            upstream_port: 10001,
            admin_port: 9901,
            wasm_file: PathBuf::from("dist/psf_guard.wasm"),
            policy_json: std::fs::read_to_string(default_policy_path()).unwrap_or_default(),
            access_log: PathBuf::from("/dev/stdout"),
            passthrough: false,
            stock_hcm: false,
        }
    }
}

fn default_policy_path() -> PathBuf {
    repo_root().join("policies/default.json")
}

impl EnvoyConfig {
    /// The Envoy YAML for this config.
    pub fn render(&self) -> anyhow::Result<String> {
        let (template, name) = if self.passthrough {
            (PASSTHROUGH_TEMPLATE, "passthrough.template.yaml")
        } else {
            (GUARD_TEMPLATE, "envoy.template.yaml")
        };
        let mut body = strip_leading_comments(template);
        if self.stock_hcm {
            body = without_hardening(&body);
        }
        let mut out = format!(
            "# Generated from envoy/{name} by host-tests/src/envoy.rs: edit the template.\n{body}"
        );
        out = out
            .replace("${LISTENER_PORT}", &self.listener_port.to_string())
            .replace("${UPSTREAM_PORT}", &self.upstream_port.to_string())
            .replace("${ADMIN_PORT}", &self.admin_port.to_string())
            .replace("${WASM_FILE}", &yaml_string(&self.wasm_file)?)
            .replace("${ACCESS_LOG}", &yaml_string(&self.access_log)?);
        // Checked before the policy goes in: its JSON may legitimately contain "${".
        let leftover = out.replace("${POLICY_JSON}", "");
        if let Some(start) = leftover.find("${") {
            let rest = &leftover[start..];
            let end = rest.find('}').map_or(rest.len(), |e| e + 1);
            bail!("unrendered placeholder {} in {name}", &rest[..end]);
        }
        if !self.passthrough {
            out = insert_block_scalar(&out, "${POLICY_JSON}", &self.policy_json)?;
        }
        Ok(out)
    }
}

/// The committed `envoy/envoy.yaml`, so a test can check it matches the template and
/// `policies/default.json`.
pub fn render_default_envoy_yaml() -> anyhow::Result<String> {
    let path = default_policy_path();
    let policy_json = std::fs::read_to_string(&path)
        .with_context(|| format!("reading default policy {}", path.display()))?;
    EnvoyConfig {
        policy_json,
        ..EnvoyConfig::default()
    }
    .render()
}

/// The template without its `# psf:hardening` block.
fn without_hardening(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut inside = false;
    for line in template.lines() {
        let marker = line.trim_start();
        if marker.starts_with("# psf:hardening-end") {
            inside = false;
            continue;
        }
        if marker.starts_with("# psf:hardening") {
            inside = true;
        }
        if !inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Drops the template's header comment (it names the placeholders).
fn strip_leading_comments(template: &str) -> String {
    template
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A path as a double-quoted YAML scalar (JSON strings are valid YAML).
fn yaml_string(path: &Path) -> anyhow::Result<String> {
    let s = path
        .to_str()
        .with_context(|| format!("path {} is not UTF-8", path.display()))?;
    Ok(serde_json::to_string(s)?)
}

/// Replaces `placeholder` (the value of a `key: ${...}` line) with a literal block scalar
/// holding `text`, each line indented two spaces deeper than the key.
fn insert_block_scalar(yaml: &str, placeholder: &str, text: &str) -> anyhow::Result<String> {
    let mut out = String::with_capacity(yaml.len() + text.len() * 2);
    let mut found = false;
    for line in yaml.lines() {
        let Some(at) = line.find(placeholder) else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        if !line[at + placeholder.len()..].trim().is_empty() {
            bail!("{placeholder} must end its line: {line:?}");
        }
        found = true;
        let key_indent = line.len() - line.trim_start().len();
        let pad = " ".repeat(key_indent + 2);
        out.push_str(&line[..at]);
        out.push_str("|\n");
        // Trimmed so the first line fixes the block's indentation for all the others.
        for l in text.trim().lines() {
            if l.trim().is_empty() {
                out.push('\n');
            } else {
                out.push_str(&pad);
                out.push_str(l.trim_end());
                out.push('\n');
            }
        }
    }
    if !found {
        bail!("{placeholder} not found in template");
    }
    Ok(out)
}

/// `yaml` with the socket address port `old` moved to `new`.
fn with_port(yaml: &str, old: u16, new: u16) -> String {
    yaml.replace(
        &format!("port_value: {old}\n"),
        &format!("port_value: {new}\n"),
    )
}

/// How an Envoy start-up ended.
enum Startup {
    Live,
    Exited(std::process::ExitStatus),
}

/// How to run Envoy.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// Worker threads (`--concurrency`).
    pub concurrency: u32,
    pub log_level: String,
    /// How long to wait for the admin `/ready` endpoint to say `LIVE`.
    pub ready_timeout: Duration,
    /// The Envoy binary; `None` is [`envoy_bin`].
    pub binary: Option<PathBuf>,
}

impl Default for EnvoyOptions {
    fn default() -> Self {
        Self {
            concurrency: 2,
            log_level: "info".into(),
            ready_timeout: Duration::from_secs(30),
            binary: None,
        }
    }
}

/// A running Envoy; killed on drop. Its files live in `target/envoy-runs/<unique>/`.
pub struct Envoy {
    child: Child,
    dir: PathBuf,
    listener: SocketAddr,
    admin: SocketAddr,
}

impl Envoy {
    /// Starts Envoy with `config` and waits until it is ready to serve.
    pub fn start(config: &EnvoyConfig, opts: &EnvoyOptions) -> anyhow::Result<Envoy> {
        Self::start_yaml(&config.render()?, config, opts)
    }

    /// Starts Envoy with hand-edited `yaml` (rendered from `config`, whose ports it uses),
    /// for tests that pin down how Envoy behaves with other settings.
    pub fn start_yaml(
        yaml: &str,
        config: &EnvoyConfig,
        opts: &EnvoyOptions,
    ) -> anyhow::Result<Envoy> {
        let (mut yaml, mut ports) = (yaml.to_string(), (config.listener_port, config.admin_port));
        for attempt in 1.. {
            let mut envoy = Self::launch_on(&yaml, ports, opts)?;
            let status = match envoy.wait_for_startup(opts.ready_timeout)? {
                Startup::Live => return Ok(envoy),
                Startup::Exited(status) => status,
            };
            let log = envoy.log();
            // Tests run in parallel, and another one may bind a port between `free_port`
            // and this Envoy's bind: that start is retried on fresh ports, a few times.
            let movable = [ports.0, ports.1]
                .iter()
                .all(|p| yaml.contains(&format!("port_value: {p}\n")));
            if attempt < 4 && movable && log.contains("Address already in use") {
                let fresh = (free_port(), free_port());
                yaml = with_port(&yaml, ports.0, fresh.0);
                yaml = with_port(&yaml, ports.1, fresh.1);
                ports = fresh;
                continue;
            }
            bail!(
                "envoy exited during startup ({status}); log tail:\n{}",
                tail(&log, 60)
            );
        }
        unreachable!("the start-up loop returns or fails")
    }

    /// Starts Envoy with a config it should refuse and returns its log once it exits
    /// non-zero. Fails if it becomes ready or exits cleanly instead.
    pub fn start_expect_failure(config: &EnvoyConfig) -> anyhow::Result<String> {
        let opts = EnvoyOptions::default();
        let mut envoy = Self::launch(&config.render()?, config, &opts)?;
        match envoy.wait_for_startup(opts.ready_timeout)? {
            Startup::Exited(status) if !status.success() => Ok(envoy.log()),
            Startup::Exited(_) => bail!(
                "envoy exited cleanly but was expected to fail; log:\n{}",
                envoy.log()
            ),
            Startup::Live => bail!(
                "envoy started but was expected to refuse the config; log tail:\n{}",
                tail(&envoy.log(), 60)
            ),
        }
    }

    fn launch(yaml: &str, config: &EnvoyConfig, opts: &EnvoyOptions) -> anyhow::Result<Envoy> {
        Self::launch_on(yaml, (config.listener_port, config.admin_port), opts)
    }

    /// Starts Envoy on `(listener, admin)` ports, which `yaml` names.
    fn launch_on(yaml: &str, ports: (u16, u16), opts: &EnvoyOptions) -> anyhow::Result<Envoy> {
        let (child, dir) = spawn(yaml, opts)?;
        Ok(Envoy {
            child,
            dir,
            listener: SocketAddr::from(([127, 0, 0, 1], ports.0)),
            admin: SocketAddr::from(([127, 0, 0, 1], ports.1)),
        })
    }

    /// Polls until Envoy is ready or has exited; fails when neither happens in `timeout`.
    fn wait_for_startup(&mut self, timeout: Duration) -> anyhow::Result<Startup> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(Startup::Exited(status));
            }
            if self.is_live() {
                return Ok(Startup::Live);
            }
            if Instant::now() > deadline {
                bail!(
                    "envoy neither became ready nor exited in {timeout:?}; log tail:\n{}",
                    tail(&self.log(), 60)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until Envoy's log contains `needle` (its log is written asynchronously,
    /// and a stream's last callbacks run after the client has its response).
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(needle) {
                return Ok(log);
            }
            if Instant::now() > deadline {
                bail!(
                    "{needle:?} not in Envoy's log after {timeout:?}; tail:\n{}",
                    tail(&log, 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Where clients connect.
    pub fn listener_addr(&self) -> SocketAddr {
        self.listener
    }

    /// The admin endpoint.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin
    }

    /// The run directory (rendered config, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// GET `path` on the admin endpoint; fails on a non-2xx status.
    pub fn admin_get(&self, path: &str) -> anyhow::Result<String> {
        let resp = http1::send(
            self.admin,
            &HttpRequest {
                method: "GET".into(),
                path: path.into(),
                ..HttpRequest::default()
            },
            &SendOptions {
                timeout: Duration::from_secs(5),
                ..SendOptions::default()
            },
        )?;
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        if !(200..300).contains(&resp.status) {
            bail!("admin GET {path}: status {}: {body}", resp.status);
        }
        Ok(body)
    }

    /// Envoy's log file followed by whatever it wrote to stdout/stderr (access log,
    /// early startup errors).
    pub fn log(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "{}{}{}",
            read("envoy.log"),
            read("stderr.log"),
            read("stdout.log")
        )
    }

    fn is_live(&self) -> bool {
        self.admin_get("/ready").is_ok_and(|b| b.trim() == "LIVE")
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Writes the config to a fresh run directory and starts Envoy on it.
fn spawn(rendered: &str, opts: &EnvoyOptions) -> anyhow::Result<(Child, PathBuf)> {
    static RUN: AtomicU32 = AtomicU32::new(0);
    let bin = match &opts.binary {
        Some(bin) => bin.clone(),
        None => envoy_bin()?,
    };
    let run = RUN.fetch_add(1, Ordering::SeqCst);
    let pid = std::process::id();
    let dir = repo_root()
        .join("target/envoy-runs")
        .join(format!("{pid}-{run}"));
    // A leftover from an earlier process with the same pid must not mix logs.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let yaml = dir.join("envoy.yaml");
    std::fs::write(&yaml, rendered)?;
    // Distinct base ids keep concurrent Envoys' shared-memory names apart.
    let base_id = (pid % 100_000) * 100 + run % 100;
    let child = Command::new(&bin)
        .current_dir(repo_root())
        .arg("-c")
        .arg(&yaml)
        .arg("--concurrency")
        .arg(opts.concurrency.to_string())
        .arg("--log-level")
        .arg(&opts.log_level)
        .arg("--base-id")
        .arg(base_id.to_string())
        .arg("--disable-hot-restart")
        // Flush access logs quickly so tests and the demo can read them.
        .arg("--file-flush-interval-msec")
        .arg("200")
        .arg("--log-path")
        .arg(dir.join("envoy.log"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout.log"))?)
        .stderr(std::fs::File::create(dir.join("stderr.log"))?)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    Ok((child, dir))
}

/// `envoy --mode validate -c PATH`. Envoy 1.40 builds the filter chain here, loading the
/// wasm and running its `on_configure`: a missing `.wasm` or a policy the filter refuses
/// fails validation too (relative paths resolve against the repo root).
pub fn validate(yaml_path: &Path) -> anyhow::Result<()> {
    let bin = envoy_bin()?;
    let out = Command::new(&bin)
        .current_dir(repo_root())
        .arg("--mode")
        .arg("validate")
        .arg("-c")
        .arg(yaml_path)
        .arg("--disable-hot-restart")
        .arg("--log-level")
        .arg("warn")
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "envoy --mode validate {} failed ({}):\n{}{}",
            yaml_path.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
