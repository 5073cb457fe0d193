//! The latch and what it is for: wedging a runtime's threads on purpose ([`wedge`]) and
//! forcing a retirement ([`retire`]), then releasing them.

use std::{
    sync::{Arc, Condvar, Mutex, PoisonError, mpsc},
    thread,
    time::Duration,
};

use loopbridge::{Bridge, BridgeError, BridgeTask};

use super::hang::{PATIENCE, SHORT};

/// A gate that blocks threads synchronously until released, for wedging runtime threads.
///
/// A waiter gives up after [`PATIENCE`], so a test that forgets to release cannot leave a
/// thread stuck forever.
///
/// ```
/// use loopbridge_conformance::support::Latch;
/// let latch = Latch::new();
/// latch.release();
/// latch.wait(); // returns at once
/// ```
#[derive(Clone, Debug)]
pub struct Latch(Arc<(Mutex<bool>, Condvar)>, Duration);

impl Default for Latch {
    fn default() -> Latch {
        Latch::with_patience(LATCH_PATIENCE)
    }
}

impl Latch {
    /// A closed latch.
    ///
    /// ```
    /// let latch = loopbridge_conformance::support::Latch::new();
    /// # drop(latch);
    /// ```
    #[must_use]
    pub fn new() -> Latch {
        Latch::default()
    }

    /// A closed latch whose waiters give up after `patience` instead of [`LATCH_PATIENCE`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let latch = loopbridge_conformance::support::Latch::with_patience(Duration::ZERO);
    /// latch.wait(); // gives up at once
    /// ```
    #[must_use]
    pub fn with_patience(patience: Duration) -> Latch {
        Latch(Arc::default(), patience)
    }

    /// Opens the latch for every waiter, now and later.
    ///
    /// ```
    /// let latch = loopbridge_conformance::support::Latch::new();
    /// let waiter = { let l = latch.clone(); std::thread::spawn(move || l.wait()) };
    /// latch.release();
    /// waiter.join().unwrap();
    /// ```
    pub fn release(&self) {
        *self.0.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.0.1.notify_all();
    }

    /// Makes a call on `bridge` whose future blocks its runtime thread on this latch, with the
    /// [`SHORT`] deadline, and returns its result: `Err(TimedOut)` unless the latch was open.
    /// The thread stays blocked until the latch is released.
    ///
    /// ```
    /// use loopbridge::Bridge;
    /// use loopbridge_conformance::support::Latch;
    /// let (bridge, latch) = (Bridge::new(), Latch::new());
    /// assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
    /// latch.release();
    /// ```
    pub fn block_call(&self, bridge: &Bridge) -> Result<(), BridgeError> {
        let latch = self.clone();
        bridge.call_timeout(async move { latch.wait() }, SHORT)
    }

    /// Blocks the current thread until the latch opens, or until its patience passes
    /// ([`LATCH_PATIENCE`] unless made [`with_patience`](Latch::with_patience)).
    ///
    /// ```
    /// let latch = loopbridge_conformance::support::Latch::new();
    /// latch.release();
    /// latch.wait();
    /// ```
    pub fn wait(&self) {
        let guard = self.0.0.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = self.0.1.wait_timeout_while(guard, self.1, |open| !*open);
    }
}

/// How long a [`Latch`] holds a waiter at most: three times [`PATIENCE`], so that a wedge
/// outlasts any wait of a check for it. (A wedge that gave up while a check still waited would
/// free its thread, and the check would then see a call run on a runtime it believes stuck.)
///
/// ```
/// use loopbridge_conformance::support::{LATCH_PATIENCE, PATIENCE};
/// assert!(LATCH_PATIENCE > PATIENCE);
/// ```
pub const LATCH_PATIENCE: Duration = Duration::from_secs(30);

/// Blocks `threads` runtime threads of `bridge` on `latch`, and returns once every one of them
/// is blocked, with the tasks that block them.
///
/// The blockers are spawned one at a time, each once the one before it is running: a runtime
/// is free to run two tasks spawned together on one thread, one after the other (tokio's
/// multi_thread flavour does, now and then), and the second would then wait for the first
/// instead of blocking a thread of its own. A blocked thread cannot take the next blocker, so
/// each lands on a thread of its own; the threads are checked to be distinct.
///
/// # Panics
///
/// Panics if a blocker does not start within [`PATIENCE`] (the runtime has fewer free threads
/// than `threads`), or if two ran on one thread.
///
/// ```
/// use loopbridge::{Bridge, SmolRuntime};
/// use loopbridge_conformance::support::{Latch, wedge};
///
/// let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
/// let latch = Latch::new();
/// let blockers = wedge(&bridge, 2, &latch);
/// latch.release();
/// for blocker in blockers {
///     blocker.join()?;
/// }
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[must_use]
pub fn wedge(bridge: &Bridge, threads: usize, latch: &Latch) -> Vec<BridgeTask<()>> {
    let (running_tx, running_rx) = mpsc::channel();
    let mut seen = Vec::with_capacity(threads);
    let mut blockers = Vec::with_capacity(threads);
    for index in 0..threads {
        let latch = latch.clone();
        let running_tx = running_tx.clone();
        let blocker = bridge
            .spawn(async move {
                running_tx.send(thread::current().id()).unwrap();
                latch.wait();
            })
            .expect("spawn a blocker");
        blockers.push(blocker);
        let on = running_rx.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "blocker {} of {threads} never ran within {PATIENCE:?}: does the runtime have \
                 {threads} threads free to run tasks?",
                index + 1
            )
        });
        assert!(
            !seen.contains(&on),
            "two blockers ran on one runtime thread: the latch was open"
        );
        seen.push(on);
    }
    blockers
}

/// Forces a retirement: blocks every runtime thread of `bridge` (it has `threads`) on `latch`,
/// times a call out, and checks that the health probe retired the runtime. Returns the
/// blockers, which fail with `Retired`; release `latch` to free the stuck threads.
///
/// ```
/// use loopbridge::Bridge;
/// use loopbridge_conformance::support::{Latch, retire};
///
/// let bridge = Bridge::new();
/// bridge.call(async {})?;
/// let latch = Latch::new();
/// let blockers = retire(&bridge, 1, &latch);
/// assert_eq!(bridge.stats().retired, 1);
/// latch.release();
/// for blocker in blockers {
///     assert!(blocker.join().unwrap_err().is_retired());
/// }
/// assert_eq!(bridge.call(async { 2 })?, 2); // on a fresh runtime
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub fn retire(bridge: &Bridge, threads: usize, latch: &Latch) -> Vec<BridgeTask<()>> {
    let retired = bridge.stats().retired;
    let blockers = wedge(bridge, threads, latch);
    let timed_out = bridge.call_timeout(needs_the_runtime(bridge), SHORT);
    assert!(
        timed_out.as_ref().is_err_and(BridgeError::is_timed_out),
        "a call on a wedged runtime must time out: {timed_out:?}"
    );
    assert_eq!(
        bridge.stats().retired,
        retired + 1,
        "the wedged runtime was not retired"
    );
    blockers
}

/// A future that completes only once `bridge`'s runtime has run a task for it: pending while
/// the runtime is wedged, whoever polls it (a caller-driven call polls it on its caller, but
/// the task it waits for needs the runtime).
///
/// ```
/// use loopbridge::{Bridge, Drive};
/// use loopbridge_conformance::support::needs_the_runtime;
///
/// let bridge = Bridge::builder().drive(Drive::Caller).build();
/// bridge.call(needs_the_runtime(&bridge))?;
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub fn needs_the_runtime(
    bridge: &Bridge,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let bridge = bridge.clone();
    async move {
        if let Ok(task) = bridge.spawn(async {}) {
            let _ = task.await;
        }
    }
}
