//! [`Bridge`]: the persistent runtime, its generations, and the blocking entry points.
//!
//! Each file builds only on the ones listed before it:
//!
//! - `config`: the defaults and [`NestedPolicy`];
//! - `supply`: where generations come from, persistent or per call (the only place that knows
//!   the difference), their start, retirement and shutdown;
//! - `health`: the probe that follows a timeout;
//! - `submit`: handing a call's first step to a runtime;
//! - `nested`: nested calls on a one-off thread;
//! - `caller`: caller-driven calls, polled on the caller's thread;
//! - `inner`: the state behind the handles, and what follows a call's outcome or timeout;
//! - `handle`: [`Bridge`] itself, its docs and lifecycle;
//! - `call`: `call`, `call_local`, `spawn`;
//! - `builder`: [`BridgeBuilder`] and the constructors.

mod builder;
mod call;
mod caller;
mod config;
mod handle;
mod health;
mod inner;
mod nested;
mod submit;
mod supply;
#[cfg(all(test, not(loopbridge_loom)))]
mod tests;

pub use self::{
    builder::BridgeBuilder,
    config::{DEFAULT_PROBE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, Drive, NestedPolicy},
    handle::Bridge,
};
