//! Confidence signals (PSF OV-4): the token log-probabilities a provider returns when asked
//! (`logprobs`), summarised per answer as their mean and minimum.

use serde_json::Value;

/// The summary of an answer's token log-probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Confidence {
    pub mean: f64,
    pub min: f64,
    pub tokens: usize,
}

/// Every token log-probability in a complete answer or in one stream event: OpenAI chat
/// (`choices[].logprobs.content[]` and `.refusal[]`), legacy completions
/// (`choices[].logprobs.token_logprobs`) and the Responses API (`logprobs` on output text
/// and its deltas).
pub fn token_logprobs(value: &Value, out: &mut Vec<f64>) {
    for choice in value["choices"].as_array().into_iter().flatten() {
        let logprobs = &choice["logprobs"];
        for list in [&logprobs["content"], &logprobs["refusal"]] {
            out.extend(
                list.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t["logprob"].as_f64()),
            );
        }
        out.extend(
            logprobs["token_logprobs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_f64),
        );
    }
    let responses = value["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|item| item["content"].as_array().into_iter().flatten())
        .chain(std::iter::once(value));
    for part in responses {
        out.extend(
            part["logprobs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["logprob"].as_f64()),
        );
    }
}

/// The mean and minimum of `logprobs`, when there are any.
pub fn summarise(logprobs: &[f64]) -> Option<Confidence> {
    let min = logprobs.iter().copied().fold(f64::INFINITY, f64::min);
    (!logprobs.is_empty()).then(|| Confidence {
        mean: logprobs.iter().sum::<f64>() / logprobs.len() as f64,
        min,
        tokens: logprobs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_each_format_and_summarises() {
        let mut out = Vec::new();
        token_logprobs(
            &json!({"choices": [{"logprobs": {"content": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.5}]}}]}),
            &mut out,
        );
        token_logprobs(
            &json!({"choices": [{"logprobs": {"token_logprobs": [-2.0]}}]}),
            &mut out,
        );
        token_logprobs(
            &json!({"type": "response.output_text.delta", "delta": "x", "logprobs": [{"token": "x", "logprob": -1.0}]}),
            &mut out,
        );
        assert_eq!(out, [-0.5, -1.5, -2.0, -1.0]);
        let summary = summarise(&out).unwrap();
        assert_eq!(
            (summary.mean, summary.min, summary.tokens),
            (-1.25, -2.0, 4)
        );
        assert_eq!(summarise(&[]), None);
    }
}
