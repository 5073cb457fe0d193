//! Calls that stop when their caller says so: [`CancelToken`], and [`Scope`], the settings
//! every blocking bridge call made inside it obeys (a deadline, tokens, interrupt checks).
//!
//! A scope is kept per thread, as a stack flattened into one set of [`Limits`]: the tightest
//! deadline, every token, every check. It travels with a call into its future, the way the
//! caller's `tracing` span does (see `context`), so a blocking call made from inside the future
//! obeys its caller's scope too. A thread outside every scope pays one thread-local read per
//! call.

mod limits;
mod scope;
mod token;

pub(crate) use self::limits::{InForce, Limits, Stop, Watch, current};
pub use self::{scope::Scope, token::CancelToken};
