//! JSON plumbing: the one parse of a request body (`document`), the edits written back
//! into it (`edit`), and the string walker the response side rewrites answers with.

pub mod document;
pub mod edit;
pub mod strings;
