//! JSON plumbing shared by the request and response sides: the whole-document guard, the
//! top-level splicer and the string walker.

pub mod guard;
pub mod splice;
pub mod strings;
