//! [`BridgeTask`]: the handle to a future spawned on a bridge.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use crate::{
    cancel::{Stop, Watch},
    error::BridgeError,
    generation::Generation,
    job::drop_quietly,
    registry::Registration,
    slot::{Outcome, Slot},
    stats::Counters,
    sync::{Arc, Weak},
    wait::{Waited, wait_scoped},
};

/// What a task reports to its bridge: a join that timed out, after which the bridge probes
/// the task's runtime as after a timed-out call.
pub(crate) trait Supervisor: Send + Sync {
    fn timed_out(&self, generation: &Arc<Generation>);
}

/// A future spawned on a [`Bridge`](crate::Bridge), from [`Bridge::spawn`](crate::Bridge::spawn).
///
/// Wait for its result by blocking ([`join`](BridgeTask::join),
/// [`join_timeout`](BridgeTask::join_timeout)) or by awaiting it from any async runtime: the
/// task runs on the bridge's runtime either way, so awaiting it from a smol or tokio
/// application needs no runtime context of the bridge's kind.
///
/// **Dropping a `BridgeTask` cancels the future** (it is dropped on its runtime), as with
/// smol's tasks; call [`detach`](BridgeTask::detach) to let it run to completion unobserved.
///
/// # Panics
///
/// A panic inside the future is re-raised on the thread that joins or awaits the task.
///
/// # Examples
///
/// ```
/// let bridge = loopbridge::Bridge::new();
/// let task = bridge.spawn(async { 2 + 2 })?;
/// assert_eq!(task.join()?, 4);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[must_use = "dropping a BridgeTask cancels it; join it, await it, or call `.detach()`"]
pub struct BridgeTask<T> {
    slot: Arc<Slot<T>>,
    registration: Option<Registration>,
    /// Held for the task's life: a per-call runtime lives as long as its task.
    generation: Arc<Generation>,
    bridge: Weak<dyn Supervisor>,
    bridge_id: u64,
    stats: Arc<Counters>,
    /// Set once the outcome was taken or the task was detached: nothing to cancel on drop.
    done: bool,
}

impl<T> BridgeTask<T> {
    pub(crate) fn new(
        slot: Arc<Slot<T>>,
        registration: Registration,
        generation: Arc<Generation>,
        bridge: Weak<dyn Supervisor>,
        bridge_id: u64,
        stats: Arc<Counters>,
    ) -> BridgeTask<T> {
        BridgeTask {
            slot,
            registration: Some(registration),
            generation,
            bridge,
            bridge_id,
            stats,
            done: false,
        }
    }

    /// Blocks the current thread until the task completes, and returns its output.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Shutdown`] if the bridge shut down first, [`BridgeError::Retired`] if its
    /// runtime was retired, [`BridgeError::TimedOut`] if it was spawned with
    /// [`spawn_timeout`](crate::Bridge::spawn_timeout) and its deadline passed, and
    /// [`BridgeError::Nested`] (cancelling the task) if called from the bridge's own runtime,
    /// where waiting would block the runtime on itself: `.await` the task there instead.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from the task's future.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn(async { "joined" })?;
    /// assert_eq!(task.join()?, "joined");
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn join(self) -> Result<T, BridgeError> {
        self.join_deadline(None)
    }

    /// Like [`join`](BridgeTask::join), but gives up at `timeout`: the task is then cancelled,
    /// the runtime is probed as after a timed-out [`call_timeout`](crate::Bridge::call_timeout),
    /// and [`BridgeError::TimedOut`] is returned.
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`], and everything [`join`](BridgeTask::join) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from the task's future.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn(std::future::pending::<()>())?;
    /// assert!(task.join_timeout(Duration::from_millis(10)).unwrap_err().is_timed_out());
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn join_timeout(self, timeout: Duration) -> Result<T, BridgeError> {
        // An `Instant` overflow means a deadline too far to matter: wait without one.
        self.join_deadline(Instant::now().checked_add(timeout))
    }

    fn join_deadline(mut self, deadline: Option<Instant>) -> Result<T, BridgeError> {
        let generation = self.generation.clone();
        if !generation.of_this_process() {
            // Spawned in a parent process, on a runtime that has no threads here.
            self.done = true;
            self.registration = None;
            return Err(BridgeError::Retired);
        }
        if generation.blocks_itself_here(self.bridge_id) {
            return Err(BridgeError::Nested);
        }
        // A join in a scope obeys it: a join the scope stops cancels the task, as dropping
        // its handle would.
        let mut scope = Watch::of_current();
        let deadline = match scope.as_ref().map(Watch::deadline) {
            Some(Some(scoped)) => Some(deadline.map_or(scoped, |own| own.min(scoped))),
            _ => deadline,
        };
        let waited = match scope.as_ref().and_then(Watch::stopped_already) {
            Some(stop) => Waited::Stopped(stop),
            None => wait_scoped(&self.slot, deadline, scope.as_mut(), || {}),
        };
        drop(scope);
        // An outcome that arrived meanwhile still wins over the deadline or the scope.
        let (outcome, stop) = match waited {
            Waited::Outcome(outcome) => (Some(outcome), None),
            Waited::Deadline => (None, Some(Stop::TimedOut)),
            Waited::Stopped(stop) => (None, Some(stop)),
        };
        let outcome = outcome.or_else(|| {
            self.done = true;
            self.slot.cancel()
        });
        match (outcome, stop) {
            (Some(outcome), _) => self.finish(outcome),
            (None, stop) => {
                self.registration = None;
                match stop.unwrap_or(Stop::TimedOut) {
                    Stop::TimedOut => {
                        Counters::bump(&self.stats.timeouts);
                        if let Some(bridge) = self.bridge.upgrade() {
                            bridge.timed_out(&generation);
                        }
                        Err(BridgeError::TimedOut)
                    }
                    stop => Err(stop.into()),
                }
            }
        }
    }

    /// Cancels the task: its future is dropped on the runtime (or never polled, if it had not
    /// started). Dropping the task does the same.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn(std::future::pending::<()>())?;
    /// task.cancel();
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn cancel(mut self) {
        self.cancel_now();
    }

    /// Lets the task run to completion without anyone waiting for it. Its output is dropped
    /// on the runtime when it arrives, or right here if the task had already finished; either
    /// way a panic in the output's `Drop` is swallowed, since nobody is there to receive it. A
    /// shutdown still cancels the task.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// bridge.spawn(async move { tx.send(1).unwrap() })?.detach();
    /// assert_eq!(rx.recv().unwrap(), 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn detach(mut self) {
        self.done = true;
        // Still registered until the task ends, so that a shutdown reaches it.
        if let Some(registration) = self.registration.take() {
            self.slot.keep(registration, self.generation.clone());
        }
    }

    /// Returns `true` once the task has an outcome to collect (it completed, panicked or
    /// failed), so that [`join`](BridgeTask::join) will not block.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn(async {})?;
    /// while !task.is_finished() {
    ///     std::thread::yield_now();
    /// }
    /// task.join()?;
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        self.slot.is_finished()
    }

    fn cancel_now(&mut self) {
        if !self.done {
            self.done = true;
            drop_quietly(self.slot.cancel());
        }
        self.registration = None;
    }

    fn finish(&mut self, outcome: Outcome<T>) -> Result<T, BridgeError> {
        self.done = true;
        self.registration = None;
        self.stats.observe(&outcome);
        outcome.into_result()
    }
}

impl<T> Future for BridgeTask<T> {
    type Output = Result<T, BridgeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            !self.done,
            "loopbridge: `BridgeTask` polled after it completed or was detached"
        );
        if !self.generation.of_this_process() {
            // Spawned in a parent process, on a runtime that has no threads here.
            self.done = true;
            self.registration = None;
            return Poll::Ready(Err(BridgeError::Retired));
        }
        match self.slot.poll_take(cx.waker()) {
            Poll::Ready(outcome) => Poll::Ready(self.finish(outcome)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> Drop for BridgeTask<T> {
    fn drop(&mut self) {
        self.cancel_now();
    }
}

impl<T> fmt::Debug for BridgeTask<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeTask")
            .field("bridge", &self.bridge_id)
            .field("generation", &self.generation.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}
