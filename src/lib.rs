//! Call async code from synchronous code on a **persistent**, health-checked runtime.
//!
//! Sync code calls async code all the time: a library with a blocking API over an async
//! client, a CLI, an FFI callback, a test. The usual answers each fail somewhere: a fresh
//! runtime per call throws away connection pools and churns threads; `Runtime::block_on`
//! panics inside a runtime; `futures::executor::block_on` hangs there. A [`Bridge`] keeps one
//! runtime alive on its own threads and lets any thread, async or not, block on it:
//!
//! - **Reuse.** Every call runs on the same runtime, so clients, pools, sockets and timers
//!   created by one call serve the next.
//! - **Timeouts that cancel.** [`Bridge::call_timeout`] returns at its deadline even if the
//!   runtime is blocked, and the future is dropped on its runtime.
//! - **Health checks.** After a timeout the runtime is probed; a wedged one is retired and
//!   the next call starts a fresh one. Nobody waits on the stuck thread.
//! - **Nested calls never deadlock.** A blocking call from the bridge's own runtime runs on a
//!   one-off thread, or fails fast with [`BridgeError::Nested`] if you prefer.
//! - **Clean failure.** A runtime that fails to start leaves nothing behind; panics are
//!   re-raised on the caller; shutdown is explicit, idempotent and bounded.
//!
//! The runtime is pluggable through the [`BridgeRuntime`] trait. The crate ships
//! [`SmolRuntime`] (async-executor threads driven by async-io); `loopbridge-tokio` adds tokio.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use loopbridge::Bridge;
//!
//! let bridge = Bridge::new();
//!
//! // A blocking API over async code:
//! fn fetch_answer(bridge: &Bridge) -> Result<u32, loopbridge::BridgeError> {
//!     bridge.call_timeout(
//!         async {
//!             async_io::Timer::after(Duration::from_millis(1)).await;
//!             42
//!         },
//!         Duration::from_secs(5),
//!     )
//! }
//!
//! assert_eq!(fetch_answer(&bridge)?, 42);
//! assert_eq!(fetch_answer(&bridge)?, 42);
//! assert_eq!(bridge.stats().started, 1); // one runtime served both calls
//! bridge.shutdown();
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! It works from inside another runtime too, where `block_on` would panic or hang:
//!
//! ```
//! let bridge = loopbridge::Bridge::new();
//! let n = futures_lite::future::block_on(async { bridge.call(async { 1 }) })?;
//! assert_eq!(n, 1);
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! # Features
//!
//! None yet: the default adapter is always built.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod bridge;
#[cfg(feature = "conformance")]
pub mod conformance;
mod context;
mod error;
mod generation;
mod global;
mod runtime;
mod slot;
mod smol;
mod stats;
mod sync;
mod task;
mod wait;

pub use crate::bridge::{
    Bridge, BridgeBuilder, DEFAULT_PROBE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, NestedPolicy,
};
pub use crate::error::BridgeError;
pub use crate::global::{global, shutdown_global};
pub use crate::runtime::{BoxFuture, BridgeRuntime, Job, LocalBoxFuture, LocalJob, LocalJobFuture};
pub use crate::smol::{SmolBuilder, SmolRuntime};
pub use crate::stats::BridgeStats;
pub use crate::task::BridgeTask;

/// Compile-time checks that the public types can cross threads.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Bridge>();
    send_sync::<BridgeError>();
    send_sync::<SmolRuntime>();
    send_sync::<BridgeTask<u8>>();
    send::<Job>();
    send::<LocalJob>();
}
