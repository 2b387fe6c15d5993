//! Plain HTTP messages shared by the wasmtime host, the mock LLM and the Envoy harness,
//! so one scenario can be played through any of them and the results compared byte for byte.

/// An HTTP request as a client sends it or as the upstream receives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    pub method: String,
    pub path: String,
    /// Regular headers only (no HTTP/2 pseudo-headers); names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// An HTTP response as the client receives it or as the upstream sends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    pub status: u16,
    /// Regular headers only; names are lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// A request with a JSON body and `content-type: application/json`.
    pub fn json(method: &str, path: &str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            method: method.to_string(),
            path: path.to_string(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// The first value of header `name` (case-insensitive) in `headers`.
pub fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The text a client reads from an SSE body: the deltas of the first choice (OpenAI chat),
/// of text blocks (Anthropic) or of output text (Responses API), joined in order.
pub fn streamed_text(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split("\n\n")
        .filter_map(|event| event.lines().find_map(|line| line.strip_prefix("data: ")))
        .filter_map(|data| serde_json::from_str::<serde_json::Value>(data).ok())
        .filter_map(|event| {
            let delta = event
                .pointer("/choices/0/delta/content")
                .or_else(|| event.pointer("/delta/text"))
                .or_else(|| {
                    (event["type"] == "response.output_text.delta").then(|| &event["delta"])
                })?;
            delta.as_str().map(str::to_string)
        })
        .collect()
}
