//! External moderation (PSF OV-3): the prompt is sent to a service that speaks the OpenAI
//! moderation API (`POST /v1/moderations`, `{"input": [...]}` in, `{"results": [{"flagged",
//! "categories", "category_scores"}]}` out) before it goes to the model. The engine builds
//! the call and reads the answer; the proxy adapter makes the call. A service that fails or
//! times out is handled by the route's explicit `failure_mode`.

use crate::rejection::Rejection;
use crate::ErrorCode;
use serde_json::{json, Value};

/// What happens when the service cannot give an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// Let the request through, with a `moderation_unavailable` finding in the record.
    Open,
    /// Refuse it: 503 `moderation_unavailable`.
    Closed,
}

/// A route's moderation service.
#[derive(Debug, Clone, PartialEq)]
pub struct ModerationSettings {
    /// The proxy's cluster name for the service.
    pub cluster: String,
    pub path: String,
    pub authority: String,
    /// Sent as the request's `model` when set.
    pub model: Option<String>,
    pub timeout_ms: u64,
    pub failure_mode: FailureMode,
    /// Block when any category score reaches this, besides the service's own `flagged`.
    pub min_score: Option<f64>,
    /// Ask about prompts (before they reach the model).
    pub requests: bool,
    /// Ask about complete JSON answers (before they reach the client).
    pub responses: bool,
}

/// A call for the proxy to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModerationCall {
    pub cluster: String,
    /// `(name, value)` pairs, pseudo-headers first.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub timeout_ms: u64,
}

/// How the service judged the input.
#[derive(Debug, Clone, PartialEq)]
pub enum ModerationVerdict {
    Clear,
    /// The categories it flagged (or scored at or over `min_score`).
    Flagged(Vec<String>),
    /// No usable answer: why.
    Failed(String),
}

/// What was moderated: the prompt, or the model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Prompt,
    Answer,
}

/// What a verdict means for the exchange.
#[derive(Debug, Clone, PartialEq)]
pub enum Judgement {
    Clear,
    /// Refused (flagged, or the service failed and the route fails closed).
    Refuse(Rejection),
    /// The service failed and the route fails open: recorded, and the exchange goes on.
    Flag(Rejection),
}

impl ModerationSettings {
    /// The judgement of the service's answer about `subject` on route `route`.
    pub fn judge(
        &self,
        status: Option<u16>,
        body: &[u8],
        route: &str,
        subject: Subject,
    ) -> Judgement {
        let rule = format!("{route}.content_filter.moderation");
        let (code, what, unmoderated) = match subject {
            Subject::Prompt => (
                ErrorCode::HarmfulRequest,
                "the prompt",
                "forward unmoderated prompts",
            ),
            Subject::Answer => (
                ErrorCode::ContentFiltered,
                "the model's answer",
                "pass unmoderated answers",
            ),
        };
        match self.verdict(status, body) {
            ModerationVerdict::Clear => Judgement::Clear,
            ModerationVerdict::Flagged(categories) => Judgement::Refuse(Rejection::new(
                code,
                rule,
                format!(
                    "the moderation service flagged {what}: {}",
                    categories.join(", ")
                ),
            )),
            ModerationVerdict::Failed(reason) => {
                let rejection = Rejection::new(
                    ErrorCode::ModerationUnavailable,
                    rule,
                    format!("{reason}, and this route does not {unmoderated}"),
                );
                match self.failure_mode {
                    FailureMode::Closed => Judgement::Refuse(rejection),
                    FailureMode::Open => Judgement::Flag(rejection),
                }
            }
        }
    }

    /// The call that moderates `texts` (the strings the model would read, already masked).
    pub fn call(&self, texts: &[String]) -> ModerationCall {
        let mut body = json!({ "input": texts });
        if let (Some(model), Some(object)) = (&self.model, body.as_object_mut()) {
            object.insert("model".into(), Value::String(model.clone()));
        }
        ModerationCall {
            cluster: self.cluster.clone(),
            headers: vec![
                (":method".into(), "POST".into()),
                (":path".into(), self.path.clone()),
                (":authority".into(), self.authority.clone()),
                ("content-type".into(), "application/json".into()),
            ],
            body: body.to_string().into_bytes(),
            timeout_ms: self.timeout_ms,
        }
    }

    /// Reads the service's answer: `status` is `None` when the call failed or timed out.
    pub fn verdict(&self, status: Option<u16>, body: &[u8]) -> ModerationVerdict {
        let Some(status) = status else {
            return ModerationVerdict::Failed(
                "the moderation service did not answer in time".into(),
            );
        };
        if status != 200 {
            return ModerationVerdict::Failed(format!(
                "the moderation service answered with status {status}"
            ));
        }
        let Ok(answer) = serde_json::from_slice::<Value>(body) else {
            return ModerationVerdict::Failed("the moderation service's answer is not JSON".into());
        };
        let Some(results) = answer.get("results").and_then(Value::as_array) else {
            return ModerationVerdict::Failed(
                "the moderation service's answer has no \"results\" array".into(),
            );
        };
        let mut flagged: Vec<String> = Vec::new();
        for result in results {
            let mut add = |name: &str| {
                if !flagged.iter().any(|f| f == name) {
                    flagged.push(name.to_string());
                }
            };
            let categories = result.get("categories").and_then(Value::as_object);
            if result.get("flagged").and_then(Value::as_bool) == Some(true) {
                let named: Vec<&String> = categories
                    .into_iter()
                    .flatten()
                    .filter(|(_, on)| on.as_bool() == Some(true))
                    .map(|(name, _)| name)
                    .collect();
                if named.is_empty() {
                    add("flagged");
                }
                named.into_iter().for_each(|n| add(n));
            }
            if let Some(min) = self.min_score {
                let scores = result.get("category_scores").and_then(Value::as_object);
                for (name, score) in scores.into_iter().flatten() {
                    if score.as_f64().is_some_and(|s| s >= min) {
                        add(name);
                    }
                }
            }
        }
        if flagged.is_empty() {
            ModerationVerdict::Clear
        } else {
            ModerationVerdict::Flagged(flagged)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(min_score: Option<f64>) -> ModerationSettings {
        ModerationSettings {
            cluster: "moderation".into(),
            path: "/v1/moderations".into(),
            authority: "moderation".into(),
            model: Some("omni-moderation-latest".into()),
            timeout_ms: 500,
            failure_mode: FailureMode::Closed,
            min_score,
            requests: true,
            responses: false,
        }
    }

    #[test]
    fn the_call_speaks_the_openai_moderation_api() {
        let call = settings(None).call(&["hello".into()]);
        let body: Value = serde_json::from_slice(&call.body).unwrap();
        assert_eq!(
            body,
            json!({"input": ["hello"], "model": "omni-moderation-latest"})
        );
        assert!(call
            .headers
            .contains(&(":path".into(), "/v1/moderations".into())));
    }

    #[test]
    fn flags_scores_and_failures() {
        let flagged = br#"{"results":[{"flagged":true,"categories":{"violence":true,"hate":false},"category_scores":{"violence":0.9,"hate":0.4}}]}"#;
        let clear = br#"{"results":[{"flagged":false,"categories":{"violence":false},"category_scores":{"violence":0.4}}]}"#;
        assert_eq!(
            settings(None).verdict(Some(200), flagged),
            ModerationVerdict::Flagged(vec!["violence".into()])
        );
        assert_eq!(
            settings(None).verdict(Some(200), clear),
            ModerationVerdict::Clear
        );
        assert_eq!(
            settings(Some(0.3)).verdict(Some(200), clear),
            ModerationVerdict::Flagged(vec!["violence".into()])
        );
        for (status, body) in [
            (None, &b""[..]),
            (Some(500), b"{}"),
            (Some(200), b"<html>"),
            (Some(200), b"{}"),
        ] {
            assert!(matches!(
                settings(None).verdict(status, body),
                ModerationVerdict::Failed(_)
            ));
        }
    }
}
