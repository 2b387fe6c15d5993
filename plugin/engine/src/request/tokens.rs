//! The prompt-token estimate used before admission, when no tokenizer is at hand.
//!
//! Estimate = Σ over segments ⌈chars / 4⌉ + 4 per message + 3. Four characters per token
//! is the usual rule of thumb for English with BPE tokenizers (cl100k, o200k); the per-message
//! term covers role and separator tokens as OpenAI documents them. Measured against cl100k and
//! o200k (docs/token-estimate.md): English prose is over-counted by about 17 %, code is about
//! right, and IDs, keys, base64 and CJK text are under-counted (CJK by 40–60 %).

use crate::llm::LlmRequest;

pub fn estimate_prompt_tokens(request: &LlmRequest) -> u64 {
    let chars: Vec<usize> = request
        .segments
        .iter()
        .map(|s| s.text.chars().count())
        .collect();
    estimate_from_char_counts(&chars, request.message_count)
}

/// The same estimate from per-segment character counts already at hand.
pub(crate) fn estimate_from_char_counts(segment_chars: &[usize], message_count: usize) -> u64 {
    let text: u64 = segment_chars.iter().map(|&n| (n as u64).div_ceil(4)).sum();
    text + 4 * message_count as u64 + 3
}
