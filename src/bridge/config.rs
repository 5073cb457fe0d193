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
