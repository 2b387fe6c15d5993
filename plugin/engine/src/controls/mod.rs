//! Operational controls (PSF IG-4, HO-2, HO-4, IR-2, MS-4): rate and token limits, the
//! kill switch, the circuit breaker and human review.

pub mod breaker;
pub mod kill_switch;
pub mod ratelimit;
pub mod review;
