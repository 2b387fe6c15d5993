//! PII and secret detection (PSF DG-1), being built for #4. So far: the checksum and
//! structure validators that let detectors tell a real card, IBAN or national id from a
//! look-alike. Nothing here is wired into the request path yet.

pub mod detect;
pub mod validate;
