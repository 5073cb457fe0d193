//! The checks of the conformance suite, one file per area. Each is a method of [`Suite`],
//! listed in the one table the suite macro reads (`__conformance_checks!`).
//!
//! [`Suite`]: super::Suite

mod bound;
mod calls;
mod cancel;
mod health;
mod nested;
mod shutdown;
mod timeouts;
