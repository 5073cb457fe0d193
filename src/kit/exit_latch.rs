//! [`ExitLatch`] and [`ExitGuard`]: what is still alive. An adapter hands a guard to each
//! thread or task it must wait for, and its [`shutdown`](crate::BridgeRuntime::shutdown) waits
//! on the latch, never longer than its grace.

use std::{
    fmt,
    sync::{Arc, Condvar, Mutex, PoisonError},
    time::{Duration, Instant},
};

use super::lock::lock;

/// Counts what is alive (a runtime's threads, an attached runtime's tasks) and lets a shutdown
/// wait, within its grace, until nothing is.
///
/// Each live thing holds an [`ExitGuard`] from [`enter`](ExitLatch::enter); it counts as gone
/// once the guard is dropped, however it ends, by a panic included. Clones share one count.
///
/// ```
/// use std::time::{Duration, Instant};
/// use loopbridge::kit::ExitLatch;
///
/// let latch = ExitLatch::new();
/// let guard = latch.enter();
/// let deadline = Instant::now().checked_add(Duration::from_millis(10));
/// assert!(!latch.wait(deadline), "still alive");
/// std::thread::spawn(move || drop(guard));
/// assert!(latch.wait(None));
/// ```
#[derive(Clone, Default)]
pub struct ExitLatch(Arc<(Mutex<usize>, Condvar)>);

/// One live thing counted by an [`ExitLatch`]; dropping it counts it out.
#[must_use = "the thing counts as gone as soon as its guard is dropped"]
pub struct ExitGuard(ExitLatch);

impl ExitLatch {
    /// A latch with nothing alive.
    ///
    /// ```
    /// assert_eq!(loopbridge::kit::ExitLatch::new().live(), 0);
    /// ```
    #[must_use]
    pub fn new() -> ExitLatch {
        ExitLatch::default()
    }

    /// Counts one more thing alive until the guard is dropped. In a thread's body, take it
    /// first, so that it drops last: after everything else the thread held.
    ///
    /// ```
    /// let latch = loopbridge::kit::ExitLatch::new();
    /// let guard = latch.enter();
    /// assert_eq!(latch.live(), 1);
    /// drop(guard);
    /// assert_eq!(latch.live(), 0);
    /// ```
    pub fn enter(&self) -> ExitGuard {
        *lock(&self.0.0) += 1;
        ExitGuard(self.clone())
    }

    /// How many things are alive now.
    ///
    /// ```
    /// assert_eq!(loopbridge::kit::ExitLatch::new().live(), 0);
    /// ```
    #[must_use]
    pub fn live(&self) -> usize {
        *lock(&self.0.0)
    }

    /// Waits until nothing is alive, or until `deadline` (`None`: no limit). Returns whether
    /// nothing is.
    ///
    /// ```
    /// assert!(loopbridge::kit::ExitLatch::new().wait(None));
    /// ```
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut live = lock(&self.0.0);
        while *live > 0 {
            let timeout = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if timeout.is_zero() {
                return false;
            }
            live = self
                .0
                .1
                .wait_timeout(live, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.0.0.0);
        *live -= 1;
        if *live == 0 {
            self.0.0.1.notify_all();
        }
    }
}

impl fmt::Debug for ExitLatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitLatch")
            .field("live", &self.live())
            .finish()
    }
}

impl fmt::Debug for ExitGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitGuard").finish_non_exhaustive()
    }
}
