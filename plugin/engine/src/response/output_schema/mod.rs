//! Output schemas (PSF OV-2): a JSON Schema subset compiled once when the policy loads, and
//! checked against the model's JSON answer or a named tool's arguments.

mod answer;
mod compile;
mod settings;
mod validate;

pub use answer::{answer_parts, ToolCall};
pub use compile::{compile, Schema};
pub use settings::{OutputSchema, SchemaAction};
pub use validate::Violation;
