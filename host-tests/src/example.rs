//! The request files in `examples/requests/`, shared by `make demo` and the end-to-end tests.

use crate::HttpRequest;
use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// One example request, ready to send.
#[derive(Debug, Clone)]
pub struct Example {
    /// The file name, e.g. `01-chat-completion.json`.
    pub name: String,
    pub description: String,
    pub request: HttpRequest,
    /// Send with `transfer-encoding: chunked` instead of `content-length`.
    pub chunked: bool,
    /// What the client must get with `policies/default.json`.
    pub expect: Expect,
}

/// The outcome an example promises, checked by the tests so the demo cannot drift.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    /// The error code, for refusals.
    pub code: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExampleFile {
    description: String,
    expect: Expect,
    #[serde(default = "default_method")]
    method: String,
    #[serde(default = "default_path")]
    path: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Value,
    pad_to_bytes: Option<usize>,
    #[serde(default)]
    chunked: bool,
}

fn default_method() -> String {
    "POST".into()
}

fn default_path() -> String {
    "/v1/chat/completions".into()
}

/// Every `*.json` in `dir`, in file-name order.
pub fn load_examples(dir: &Path) -> anyhow::Result<Vec<Example>> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files.iter().map(|path| load_example(path)).collect()
}

fn load_example(path: &Path) -> anyhow::Result<Example> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let file: ExampleFile =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let mut body = file.body;
    if let Some(target) = file.pad_to_bytes {
        pad_last_message(&mut body, target)
            .with_context(|| format!("{}: pad_to_bytes", path.display()))?;
    }
    let mut request = HttpRequest::json(&file.method, &file.path, serde_json::to_vec(&body)?);
    for (name, value) in file.headers {
        request.headers.push((name.to_ascii_lowercase(), value));
    }
    Ok(Example {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        description: file.description,
        request,
        chunked: file.chunked,
        expect: file.expect,
    })
}

/// Lengthens the text of the last message until the serialised body is `target` bytes.
fn pad_last_message(body: &mut Value, target: usize) -> anyhow::Result<()> {
    let current = serde_json::to_vec(body)?.len();
    let Some(content) = body
        .get_mut("messages")
        .and_then(Value::as_array_mut)
        .and_then(|m| m.last_mut())
        .and_then(|m| m.get_mut("content"))
    else {
        bail!("the body has no messages[-1].content to pad");
    };
    let Value::String(text) = content else {
        bail!("messages[-1].content is not a string");
    };
    let filler = "lorem ipsum ";
    let missing = target.saturating_sub(current);
    let mut padding: String = filler.repeat(missing / filler.len() + 1);
    padding.truncate(missing);
    text.push_str(&padding);
    Ok(())
}
