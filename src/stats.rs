//! Counters a bridge keeps about its lifecycle.

use crate::{
    BridgeError,
    slot::Outcome,
    sync::{AtomicU64, Ordering},
};

/// A snapshot of a bridge's lifecycle counters, from [`Bridge::stats`](crate::Bridge::stats).
///
/// The counters only grow. They are updated off the hot path: a call that completes normally
/// touches none of them.
///
/// # Examples
///
/// ```
/// use loopbridge::Bridge;
///
/// let bridge = Bridge::new();
/// assert_eq!(bridge.stats().started, 0); // started lazily
/// bridge.call(async {})?;
/// bridge.call(async {})?;
/// let stats = bridge.stats();
/// assert_eq!(stats.started, 1); // both calls reused one runtime
/// assert_eq!(stats.retired, 0);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Runtime generations started by the factory (the first one included).
    pub started: u64,
    /// Generations retired by the health check because they stopped responding.
    pub retired: u64,
    /// Calls and tasks whose deadline passed, counted when their caller saw the timeout.
    pub timeouts: u64,
    /// Nested calls (made from the bridge's own runtime threads) served by the one-off
    /// fallback.
    pub nested: u64,
    /// Panics re-raised on callers.
    pub panics: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) started: AtomicU64,
    pub(crate) retired: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) nested: AtomicU64,
    pub(crate) panics: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts what a caller is about to see.
    pub(crate) fn observe<T>(&self, outcome: &Outcome<T>) {
        match outcome {
            Outcome::Value(_) => {}
            Outcome::Panic(_) => Self::bump(&self.panics),
            Outcome::Failed(BridgeError::TimedOut) => Self::bump(&self.timeouts),
            Outcome::Failed(_) => {}
        }
    }

    pub(crate) fn snapshot(&self) -> BridgeStats {
        BridgeStats {
            started: self.started.load(Ordering::Relaxed),
            retired: self.retired.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            nested: self.nested.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
        }
    }
}
