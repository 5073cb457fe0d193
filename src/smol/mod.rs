//! [`SmolRuntime`]: the default adapter, persistent threads that drain the calls' steps and
//! drive async-io.

mod builder;
mod runtime;
#[cfg(all(test, not(loopbridge_loom)))]
mod tests;
mod worker;

pub use self::{builder::SmolBuilder, runtime::SmolRuntime};
