//! The request side (PSF IG-1, IG-2, IG-5, DG-1): reading a body into its segments, the
//! inspection of each, the rewrite that is forwarded, token estimates, paths and encodings.

pub mod encoding;
pub(crate) mod inspect;
pub mod path;
pub(crate) mod rewrite;
pub(crate) mod schema;
pub(crate) mod tokens;
