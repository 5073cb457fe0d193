//! [`Bridge`], the handle: its docs, its lifecycle, its stats. The calls are in `call`, the
//! constructors in `builder`.

use std::{fmt, time::Duration};

use crate::{error::BridgeError, stats::BridgeStats, sync::Arc};

use super::inner::Inner;

/// A persistent runtime that synchronous code can call async code on.
///
/// The bridge starts its runtime lazily, on the first call, from a factory (by default a
/// [`SmolRuntime`](crate::SmolRuntime) with one executor thread), and reuses it for every call
/// after: whatever a call leaves on the runtime (a connection pool, a socket, a timer) is there for
/// the next. Calls may come from any thread, including threads already inside another async
/// runtime.
///
/// `Bridge` is cheap to clone; clones share one bridge. It is not generic: the runtime type is
/// erased, so a library can take a `&Bridge` whatever runtime its user chose.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loopbridge::Bridge;
///
/// let bridge = Bridge::new();
///
/// // Block on a future.
/// let sum = bridge.call(async { 1 + 2 })?;
/// assert_eq!(sum, 3);
///
/// // Block with a deadline: the future is cancelled if it passes.
/// let slow = bridge.call_timeout(std::future::pending::<()>(), Duration::from_millis(20));
/// assert!(slow.unwrap_err().is_timed_out());
///
/// // Spawn without blocking, and join later.
/// let task = bridge.spawn(async { "done" })?;
/// assert_eq!(task.join()?, "done");
///
/// bridge.shutdown();
/// assert!(bridge.call(async {}).unwrap_err().is_shutdown());
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
///
/// # The guide
///
/// The crate docs hold the guide to what a bridge does and why: timeouts that cancel, the
/// health check that tells a busy runtime from a wedged one, nested calls, fork, shutdown,
/// context and tracing. In short: every wait in a call honours its deadline; a runtime is
/// retired only if it made no progress while the health probe waited; a blocking call from a
/// thread that runs the bridge's runtime runs on a one-off thread (see
/// [`NestedPolicy`](crate::NestedPolicy)); from async code on the bridge,
/// `bridge.spawn(fut)?.await` is the non-blocking way.
///
/// # Panics
///
/// A panic inside a bridged future is caught on the runtime and re-raised on the thread that called
/// [`call`](Bridge::call) (or joins or awaits the [`BridgeTask`](crate::BridgeTask)), with its
/// payload. The runtime thread survives, and the next call runs on the same runtime.
///
/// # Shutdown
///
/// [`shutdown`](Bridge::shutdown) is terminal: later calls fail with
/// [`BridgeError::Shutdown`], and calls in flight fail with it at once while their futures are
/// dropped. It waits for the runtime's threads up to a grace period and never longer; a thread that
/// is stuck is left to exit by itself. Dropping the last clone shuts the bridge down the same way,
/// so **dropping a `Bridge` can block for up to the grace period** (3 s by default, see
/// [`BridgeBuilder::shutdown_grace`](crate::BridgeBuilder::shutdown_grace)) if a runtime thread is
/// stuck. Called from the bridge's own runtime, shutdown only schedules the stop.
///
/// A clone held by a task on the bridge's own runtime (a background loop, say) keeps the
/// bridge alive for as long as that task lives, so dropping every other clone does not shut
/// it down. Call [`shutdown`](Bridge::shutdown) explicitly in that case.
#[derive(Clone)]
pub struct Bridge {
    pub(crate) inner: Arc<Inner>,
}

impl Bridge {
    /// Starts the runtime now instead of on the first call, to surface a start error early.
    /// Does nothing if it is running.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Start`] if the factory fails; [`BridgeError::Shutdown`] after shutdown.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// bridge.start()?;
    /// assert_eq!(bridge.stats().started, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn start(&self) -> Result<(), BridgeError> {
        self.inner.supply.generation(None).map(drop)
    }

    /// Shuts the bridge down, waiting up to the configured grace period (3 s by default) for
    /// its threads. See [`shutdown_timeout`](Bridge::shutdown_timeout).
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// bridge.call(async {})?;
    /// bridge.shutdown();
    /// bridge.shutdown(); // idempotent
    /// assert!(bridge.is_shutdown());
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn shutdown(&self) {
        self.inner.shutdown(self.inner.shutdown_grace);
    }

    /// Shuts the bridge down, waiting up to `grace` for its runtime's threads to exit.
    ///
    /// From now on every call and spawn fails with [`BridgeError::Shutdown`], for every clone.
    /// Calls and tasks in flight fail with it at once and their futures are dropped on the
    /// runtime. Returns `true` if the runtime's threads all exited within `grace` (or there
    /// was no runtime), `false` if some were stuck and were left to exit by themselves.
    /// Never blocks longer than `grace`. Calling it again is harmless and waits again.
    /// Called from the bridge's own runtime, it schedules the stop and returns `false`
    /// without waiting for itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// bridge.call(async {})?;
    /// assert!(bridge.shutdown_timeout(Duration::from_secs(1)));
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn shutdown_timeout(&self, grace: Duration) -> bool {
        self.inner.shutdown(grace)
    }

    /// Returns `true` once the bridge has been shut down.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// assert!(!bridge.is_shutdown());
    /// bridge.shutdown();
    /// assert!(bridge.is_shutdown());
    /// ```
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        self.inner.supply.is_shutdown()
    }

    /// A snapshot of the bridge's lifecycle counters.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// bridge.call(async {})?;
    /// assert_eq!(bridge.stats().started, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    #[must_use]
    pub fn stats(&self) -> BridgeStats {
        let generation = self.inner.supply.current().map(|generation| generation.id);
        self.inner.stats.snapshot(generation)
    }
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut s = f.debug_struct("Bridge");
        s.field("id", &inner.id);
        match (inner.supply.is_shutdown(), inner.supply.current()) {
            (true, _) => s.field("state", &"shut down"),
            (false, Some(generation)) => s
                .field("state", &"running")
                .field("generation", &generation),
            (false, None) => s.field("state", &"idle"),
        };
        s.field("nested", &inner.nested)
            .field("drive", &inner.drive)
            .field("per_call", &inner.supply.per_call())
            .field("probe_timeout", &inner.probe_timeout)
            .field("shutdown_grace", &inner.shutdown_grace)
            .field("stats", &self.stats())
            .finish()
    }
}

#[cfg(all(test, loopbridge_loom))]
impl Bridge {
    /// Retires the published generation as a failed health probe would: the models cannot
    /// wait out a probe's timer.
    pub(crate) fn retire_for_model(&self) {
        if let Some(generation) = self.inner.supply.current() {
            self.inner.supply.retire(&generation, true);
        }
    }

    /// How many calls and tasks are registered in flight on the published generation.
    pub(crate) fn in_flight_for_model(&self) -> usize {
        self.inner
            .supply
            .current()
            .map_or(0, |generation| generation.in_flight())
    }
}
