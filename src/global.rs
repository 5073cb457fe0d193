//! The process-wide default bridge.

use std::sync::OnceLock;

use crate::Bridge;

static GLOBAL: OnceLock<Bridge> = OnceLock::new();

/// The process-wide default bridge: a [`Bridge::new`] (one smol executor thread), created on
/// first use and started on its first call.
///
/// For applications that want one bridge for the whole process, the way a CLI or a server has
/// one runtime. Libraries should rather take a `&Bridge` from their caller, so that the
/// application picks the runtime.
///
/// # Shutdown
///
/// Rust never drops statics, so this bridge is never shut down by itself: its thread lives
/// until the process exits. Call [`shutdown_global`] on your exit paths (after closing the
/// clients that live on it) for an orderly, bounded stop. After that, calls on `global()` fail
/// with [`BridgeError::Shutdown`](crate::BridgeError::Shutdown).
///
/// # Examples
///
/// ```
/// let n = loopbridge::global().call(async { 21 * 2 })?;
/// assert_eq!(n, 42);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub fn global() -> &'static Bridge {
    GLOBAL.get_or_init(Bridge::new)
}

/// Shuts the process-wide bridge of [`global`] down, for exit paths: calls in flight fail with
/// [`BridgeError::Shutdown`](crate::BridgeError::Shutdown), and so does every later call on
/// `global()`. Waits up to the default grace period (3 s) for the thread to exit; returns
/// `true` if it did. Calling it again, or before `global()` was ever used, is fine.
///
/// # Examples
///
/// ```
/// loopbridge::global().call(async {})?;
/// // ... on the way out:
/// loopbridge::shutdown_global();
/// assert!(loopbridge::global().call(async {}).unwrap_err().is_shutdown());
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub fn shutdown_global() -> bool {
    global().shutdown_timeout(crate::DEFAULT_SHUTDOWN_GRACE)
}
