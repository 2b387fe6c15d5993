//! Engine tests, one binary: policy parsing as a table of named cases, then exchanges.

mod exchange;
mod policy_parsing;
