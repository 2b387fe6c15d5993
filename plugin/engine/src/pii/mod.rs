//! PII and secrets (PSF DG-1): detectors validated by checksum or structure where one
//! exists, with classes and sensitivities. Not wired into the request path yet.

mod assign;
mod context;
mod custom;
mod date;
pub mod detect;
mod entity;
mod entropy;
mod features;
mod hit;
mod keccak;
pub mod labels;
mod network;
mod phone;
mod secret;
mod seeds;
mod skip;
mod specs;
mod userinfo;
pub mod validate;
mod wallet;
mod window;
