//! The prompt-token estimate used before admission, when no tokenizer is at hand.
//!
//! Estimate = Σ over segments ⌈chars / 4⌉ + 4 per message + 3. Four characters per token
//! is the usual rule of thumb for English with BPE tokenizers (cl100k, o200k); the per-message
//! term covers role and separator tokens as OpenAI documents them. It over-counts code and
//! under-counts CJK text, which tokenizes nearer one token per character.

use crate::llm::LlmRequest;

pub fn estimate_prompt_tokens(request: &LlmRequest) -> u64 {
    let text: u64 = request
        .segments
        .iter()
        .map(|s| (s.text.chars().count() as u64).div_ceil(4))
        .sum();
    text + 4 * request.message_count as u64 + 3
}
