//! The response side (PSF OV-1..OV-5, DG-1, IG-5): answers and streams filtered on their
//! way, their edge states, confidence and prompt-leak checks, and output schemas.

pub mod answer_state;
pub mod confidence;
pub mod output;
pub(crate) mod output_guard;
pub mod output_schema;
pub mod prompt_leak;
pub mod sse;
