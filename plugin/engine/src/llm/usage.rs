//! The token usage a provider reports, from a JSON answer or from stream events: OpenAI
//! `usage` (chat, completions, and the stream's final usage chunk), the Responses API
//! (`usage`, and `response.usage` in `response.completed`), and Anthropic (`usage`, and in
//! streams `message_start`'s `message.usage` then `message_delta`'s cumulative `usage`).

use serde_json::Value;

/// Tokens the provider says a request used; `None` until it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub prompt: Option<u64>,
    pub completion: Option<u64>,
}

impl Usage {
    /// Takes what `value` (an answer or one stream event) reports. Counts only grow:
    /// streamed counts are cumulative, and a later event never lowers them.
    pub fn read(&mut self, value: &Value) {
        for usage in [
            value.get("usage"),
            value.get("message").and_then(|m| m.get("usage")),
            value.get("response").and_then(|r| r.get("usage")),
        ]
        .into_iter()
        .flatten()
        {
            let count = |names: &[&str]| -> Option<u64> {
                let found: Vec<u64> = names
                    .iter()
                    .filter_map(|n| usage.get(*n).and_then(Value::as_u64))
                    .collect();
                (!found.is_empty()).then(|| found.iter().sum())
            };
            // Anthropic reports cached input apart from `input_tokens`; OpenAI includes it.
            let prompt = count(&["prompt_tokens"]).or_else(|| {
                count(&[
                    "input_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                ])
            });
            let completion = count(&["completion_tokens"]).or_else(|| count(&["output_tokens"]));
            if let Some(prompt) = prompt {
                self.prompt = Some(self.prompt.map_or(prompt, |p| p.max(prompt)));
            }
            if let Some(completion) = completion {
                self.completion = Some(self.completion.map_or(completion, |c| c.max(completion)));
            }
        }
    }

    pub fn is_complete(&self) -> bool {
        self.prompt.is_some() && self.completion.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(values: &[Value]) -> Usage {
        let mut usage = Usage::default();
        for v in values {
            usage.read(v);
        }
        usage
    }

    #[test]
    fn reads_each_provider_shape() {
        let openai = read(&[
            json!({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42}}),
        ]);
        assert_eq!((openai.prompt, openai.completion), (Some(12), Some(30)));
        let responses = read(&[
            json!({"type": "response.completed", "response": {"usage": {"input_tokens": 9, "output_tokens": 4}}}),
        ]);
        assert_eq!((responses.prompt, responses.completion), (Some(9), Some(4)));
        let anthropic = read(&[
            json!({"type": "message_start", "message": {"usage": {"input_tokens": 20, "cache_read_input_tokens": 5, "output_tokens": 1}}}),
            json!({"type": "message_delta", "usage": {"output_tokens": 15}}),
        ]);
        assert_eq!(
            (anthropic.prompt, anthropic.completion),
            (Some(25), Some(15))
        );
        assert!(!read(&[json!({"choices": [{"delta": {"content": "hi"}}]})]).is_complete());
    }
}
