//! Human review of high-stakes tool calls (PSF HO-2). On a supervised route, an answer that
//! calls a listed tool is held: the client gets 202 `pending_human_review` with a ticket, and
//! the item goes to the review queue. A reviewer approves by giving the client an
//! `x-psf-approval` value, `<expiry>.<HMAC(key, ticket.expiry)>`; the client replays the same
//! request with it, and the answer is let through.

use crate::audit::chain::hmac_hex;
use crate::policy::Review;
use serde_json::Value;

/// A tool call the route holds for review.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldCall {
    pub tool: String,
    pub arguments: Value,
}

/// The first tool call in `answer` that `review` holds (OpenAI chat, Responses, Anthropic).
pub fn held_call(answer: &Value, review: &Review) -> Option<HeldCall> {
    calls(answer).into_iter().find(|call| review.holds(call))
}

fn calls(answer: &Value) -> Vec<HeldCall> {
    let mut found = Vec::new();
    let parsed = |text: Option<&str>| -> Value {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or(Value::Null)
    };
    for choice in answer["choices"].as_array().into_iter().flatten() {
        for call in choice["message"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            found.push(HeldCall {
                tool: call["function"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                arguments: parsed(call["function"]["arguments"].as_str()),
            });
        }
    }
    for item in answer["output"].as_array().into_iter().flatten() {
        if item["type"] == "function_call" {
            found.push(HeldCall {
                tool: item["name"].as_str().unwrap_or_default().to_string(),
                arguments: parsed(item["arguments"].as_str()),
            });
        }
    }
    for block in answer["content"].as_array().into_iter().flatten() {
        if block["type"] == "tool_use" {
            found.push(HeldCall {
                tool: block["name"].as_str().unwrap_or_default().to_string(),
                arguments: block["input"].clone(),
            });
        }
    }
    found
}

impl Review {
    fn holds(&self, call: &HeldCall) -> bool {
        let named = self.tools.iter().any(|t| match t.strip_suffix('*') {
            Some(prefix) => call.tool.starts_with(prefix),
            None => call.tool == *t,
        });
        named
            && (self.above.is_empty()
                || self.above.iter().any(|(pointer, threshold)| {
                    let value = call.arguments.pointer(pointer).and_then(Value::as_f64);
                    let limit = threshold.parse::<f64>().unwrap_or(f64::MAX);
                    value.is_some_and(|v| v > limit)
                }))
    }
}

/// The approval value for `ticket`, valid until `expiry_s` (Unix seconds).
pub fn approval(key: &str, ticket: &str, expiry_s: u64) -> String {
    format!(
        "{expiry_s}.{}",
        hmac_hex(key.as_bytes(), format!("{ticket}.{expiry_s}").as_bytes())
    )
}

/// Whether `presented` approves `ticket` at `now_ms`; why not, when it does not.
pub fn check_approval(
    key: &str,
    ticket: &str,
    presented: &str,
    now_ms: u64,
) -> Result<(), &'static str> {
    let (expiry, _) = presented
        .trim()
        .split_once('.')
        .ok_or("the approval is malformed")?;
    let expiry_s: u64 = expiry.parse().map_err(|_| "the approval is malformed")?;
    let expected = approval(key, ticket, expiry_s);
    let (a, b) = (expected.as_bytes(), presented.trim().as_bytes());
    let mut diff = a.len() ^ b.len();
    for (i, byte) in a.iter().enumerate() {
        diff |= usize::from(byte ^ b.get(i).copied().unwrap_or(0));
    }
    if diff != 0 {
        return Err("the approval does not match this request");
    }
    if expiry_s * 1000 < now_ms {
        return Err("the approval has expired");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_bind_ticket_key_and_time() {
        let value = approval("k".repeat(16).as_str(), "t1", 2_000);
        let key = "k".repeat(16);
        assert_eq!(check_approval(&key, "t1", &value, 1_999_000), Ok(()));
        assert!(
            check_approval(&key, "t2", &value, 1_000).is_err(),
            "another request"
        );
        assert!(
            check_approval(&"x".repeat(16), "t1", &value, 1_000).is_err(),
            "another key"
        );
        assert_eq!(
            check_approval(&key, "t1", &value, 2_000_001),
            Err("the approval has expired")
        );
        assert!(check_approval(&key, "t1", "garbage", 0).is_err());
        let forged = value.replacen("2000", "9999", 1);
        assert!(
            check_approval(&key, "t1", &forged, 0).is_err(),
            "the expiry is signed"
        );
    }
}
