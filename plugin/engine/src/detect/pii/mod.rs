//! PII and secrets (PSF DG-1): detectors validated by checksum or structure where one
//! exists, classes and sensitivities, per-direction actions, and the per-exchange masker
//! whose restore map puts placeholders back into the model's answer.

pub mod action;
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
pub mod masker;
mod network;
mod phone;
pub mod response;
pub(crate) mod secret;
mod seeds;
pub mod settings;
mod skip;
mod specs;
mod userinfo;
pub mod validate;
mod wallet;
mod window;
