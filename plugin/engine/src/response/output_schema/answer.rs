//! The parts of a complete answer an output schema checks: the assistant's text and each
//! tool call's name and arguments, in every supported format.

use serde_json::Value;

/// One tool call of an answer, with its arguments parsed (`None` when they are not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: Option<Value>,
    /// Where the call sits in the body, for error messages.
    pub pointer: String,
}

/// The assistant text of each choice (one for formats without choices), and the tool calls.
pub fn answer_parts(body: &Value) -> (Vec<(String, String)>, Vec<ToolCall>) {
    let mut texts = Vec::new();
    let mut calls = Vec::new();
    let parsed = |s: &Value| s.as_str().and_then(|a| serde_json::from_str(a).ok());
    if let Some(choices) = body.get("choices").and_then(Value::as_array) {
        for (i, choice) in choices.iter().enumerate() {
            let message = &choice["message"];
            if let Some(text) = message["content"].as_str().or(choice["text"].as_str()) {
                texts.push((format!("/choices/{i}/message/content"), text.to_string()));
            }
            for (j, call) in message["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                calls.push(ToolCall {
                    name: call["function"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    arguments: parsed(&call["function"]["arguments"]),
                    pointer: format!("/choices/{i}/message/tool_calls/{j}/function/arguments"),
                });
            }
        }
    }
    // Anthropic content blocks, or Responses output items.
    let blocks = body
        .get("content")
        .or(body.get("output"))
        .and_then(Value::as_array);
    let mut text = String::new();
    for (i, block) in blocks.into_iter().flatten().enumerate() {
        let kind = block["type"].as_str().unwrap_or_default();
        match kind {
            "text" => text.push_str(block["text"].as_str().unwrap_or_default()),
            "message" => {
                for part in block["content"].as_array().into_iter().flatten() {
                    text.push_str(part["text"].as_str().unwrap_or_default());
                }
            }
            "tool_use" => calls.push(ToolCall {
                name: block["name"].as_str().unwrap_or_default().to_string(),
                arguments: Some(block["input"].clone()),
                pointer: format!("/content/{i}/input"),
            }),
            "function_call" => calls.push(ToolCall {
                name: block["name"].as_str().unwrap_or_default().to_string(),
                arguments: parsed(&block["arguments"]),
                pointer: format!("/output/{i}/arguments"),
            }),
            _ => {}
        }
    }
    if blocks.is_some() && body.get("choices").is_none() {
        let at = if body.get("content").is_some() {
            "/content"
        } else {
            "/output"
        };
        texts.push((at.to_string(), text));
    }
    (texts, calls)
}
