//! The bridge's defaults and its policy for nested calls.

use std::time::Duration;

#[cfg(doc)]
use crate::error::BridgeError;

/// How long the health probe waits for a runtime to run a no-op task, by default.
///
/// ```
/// assert_eq!(loopbridge::DEFAULT_PROBE_TIMEOUT, std::time::Duration::from_millis(200));
/// ```
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_millis(200);

/// How long shutdown (explicit or on drop) waits for runtime threads to exit, by default.
///
/// ```
/// assert_eq!(loopbridge::DEFAULT_SHUTDOWN_GRACE, std::time::Duration::from_secs(3));
/// ```
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// What a bridge does with a blocking call made from one of its own runtime threads.
///
/// Such a call cannot wait for the runtime: the runtime would be waiting on itself.
///
/// # Examples
///
/// ```
/// use loopbridge::{Bridge, NestedPolicy};
///
/// let strict = Bridge::builder().nested(NestedPolicy::Error).build();
/// let inner = strict.clone();
/// let err = strict.call(async move { inner.call(async { 1 }) })?.unwrap_err();
/// assert!(err.is_nested());
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NestedPolicy {
    /// Run the nested future on a one-off thread with a one-off runtime context from the
    /// adapter, honouring its timeout. The calling runtime thread blocks meanwhile, so the
    /// nested future must not need anything that only that thread can drive.
    #[default]
    Fallback,
    /// Fail fast with [`BridgeError::Nested`].
    Error,
}

/// Who polls the future of a blocking call ([`call`](crate::Bridge::call),
/// [`call_timeout`](crate::Bridge::call_timeout), and the calls `Bound`, `iter`, `reader`
/// and `writer` make): set per bridge with
/// [`BridgeBuilder::drive`](crate::BridgeBuilder::drive).
///
/// | | [`Runtime`](Drive::Runtime) (default) | [`Caller`](Drive::Caller) |
/// |---|---|---|
/// | the future is polled on | a runtime thread | the caller's thread, inside the runtime's context |
/// | a ready future costs | a handoff to the runtime's thread and back | a poll, as `block_on` does |
/// | many callers at once | queue on the runtime's threads | poll in parallel, on every core |
/// | a future that blocks its thread in `poll` | holds only the runtime; the caller returns at its deadline, and the health check retires the runtime | holds the caller past its deadline, as `block_on` does |
/// | a timed-out future is dropped | on the runtime, after the call returns | on the caller's thread, before the call returns |
///
/// Everything else is the same in both modes: the runtime keeps the reactor, the timers and
/// every task (a pool's connection tasks, `spawn`), nested calls, retirement and shutdown
/// fail a parked caller at once, panics are re-raised on the caller, the caller's span
/// travels. Pick [`Caller`](Drive::Caller) for your own well-behaved futures, many callers,
/// or CPU-bound work; keep [`Runtime`](Drive::Runtime) when a future you do not control might
/// block its thread, and the deadline must hold anyway.
///
/// [`call_local`](crate::Bridge::call_local) and [`spawn`](crate::Bridge::spawn) always run
/// on the runtime, and so does every call on a runtime whose adapter cannot serve
/// caller-driven calls ([`BridgeRuntime::enter`](crate::BridgeRuntime::enter)).
///
/// # Examples
///
/// ```
/// use loopbridge::{Bridge, Drive};
///
/// let bridge = Bridge::builder().drive(Drive::Caller).build();
/// let caller = std::thread::current().id();
/// let polled_on = bridge.call(async { std::thread::current().id() })?;
/// assert_eq!(polled_on, caller);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Drive {
    /// The runtime's threads poll the future; the caller waits for its outcome. A future that
    /// blocks its thread cannot hold the caller past its deadline.
    #[default]
    Runtime,
    /// The caller's thread polls the future itself, inside the runtime's context, and parks
    /// between polls; the runtime's reactor, timers and tasks wake it. The future is dropped on
    /// the caller's thread before the call returns, a timed-out one included.
    Caller,
}
