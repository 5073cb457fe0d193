//! Test helpers the suite uses, public so adapter tests can use them too: a hang guard, drop
//! signals, a latch that wedges a runtime thread, and Linux thread and descriptor counts.
//!
//! ```
//! use loopbridge::{Bridge, conformance::support::{bounded, pending_with, DropSignal, PATIENCE}};
//! use std::time::Duration;
//!
//! bounded("a timed-out future is dropped", || {
//!     let bridge = Bridge::new();
//!     let (signal, dropped) = DropSignal::new();
//!     let _ = bridge.call_timeout(pending_with(signal), Duration::from_millis(10));
//!     dropped.recv_timeout(PATIENCE).expect("dropped");
//! });
//! ```

use std::{
    fs,
    io::Write,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, mpsc},
    thread,
    time::{Duration, Instant},
};

/// How long a check waits for something that should happen at once. Generous, so a loaded
/// 2-core machine never flakes; a hang still fails instead of hanging CI.
///
/// ```
/// assert_eq!(loopbridge::conformance::support::PATIENCE.as_secs(), 10);
/// ```
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A short deadline for calls that are meant to time out.
///
/// ```
/// assert!(loopbridge::conformance::support::SHORT < loopbridge::conformance::support::PATIENCE);
/// ```
pub const SHORT: Duration = Duration::from_millis(50);

/// Runs `f` on its own thread and ends the whole process with exit code 101 if it has not
/// returned within [`PATIENCE`]: a deadlock must fail the test run, not hang it. A panic in
/// `f` is re-raised on the caller.
///
/// ```
/// use loopbridge::conformance::support::bounded;
/// assert_eq!(bounded("quick", || 1 + 1), 2);
/// ```
pub fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    bounded_for(what, PATIENCE, f)
}

/// [`bounded`] with an explicit bound.
///
/// ```
/// use std::time::Duration;
/// use loopbridge::conformance::support::bounded_for;
/// assert_eq!(bounded_for("quick", Duration::from_secs(5), || 3), 3);
/// ```
pub fn bounded_for<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    bounded_reporting(what, limit, String::new, f)
}

/// [`bounded_for`], saying what was going on when it hangs: `report` runs on the calling
/// thread at the limit, and what it returns is printed before the process exits.
///
/// ```
/// use std::time::Duration;
/// use loopbridge::conformance::support::bounded_reporting;
/// let n = bounded_reporting("quick", Duration::from_secs(5), || "stuck in step 3".into(), || 4);
/// assert_eq!(n, 4);
/// ```
pub fn bounded_reporting<T: Send + 'static>(
    what: &str,
    limit: Duration,
    report: impl FnOnce() -> String,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::Builder::new()
        .name("test-bounded".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(());
            result
        })
        .expect("spawn the bounded test thread");
    if rx.recv_timeout(limit).is_err() {
        // Straight to the stream: the test harness's capture of `eprintln!` dies with us.
        let _ = writeln!(
            std::io::stderr(),
            "`{what}` did not finish within {limit:?}: a deadlock or a hang; exiting. {}",
            report()
        );
        std::process::exit(101);
    }
    match worker
        .join()
        .expect("the bounded thread catches its panics")
    {
        Ok(value) => value,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Sends the name of the dropping thread on its channel when dropped.
///
/// ```
/// use loopbridge::conformance::support::DropSignal;
/// let (signal, dropped) = DropSignal::new();
/// drop(signal);
/// assert!(dropped.recv().is_ok());
/// ```
#[derive(Debug)]
pub struct DropSignal(Option<mpsc::Sender<String>>);

impl DropSignal {
    /// A signal and the receiver it reports to.
    ///
    /// ```
    /// let (signal, dropped) = loopbridge::conformance::support::DropSignal::new();
    /// drop(signal);
    /// assert!(dropped.try_recv().is_ok());
    /// ```
    #[must_use]
    pub fn new() -> (DropSignal, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        (DropSignal(Some(tx)), rx)
    }
}

/// Reports its drop like a [`DropSignal`], then panics: for checks that a panic in a `Drop`
/// cannot hurt the bridge.
///
/// ```
/// use std::panic::{self, AssertUnwindSafe};
/// use loopbridge::conformance::support::PanicOnDrop;
///
/// let (bomb, dropped) = PanicOnDrop::new();
/// assert!(panic::catch_unwind(AssertUnwindSafe(move || drop(bomb))).is_err());
/// assert!(dropped.try_recv().is_ok());
/// ```
#[derive(Debug)]
pub struct PanicOnDrop(Option<DropSignal>);

impl PanicOnDrop {
    /// A bomb and the receiver its drop reports to, before it panics.
    ///
    /// ```
    /// let (bomb, _dropped) = loopbridge::conformance::support::PanicOnDrop::new();
    /// std::mem::forget(bomb);
    /// ```
    #[must_use]
    pub fn new() -> (PanicOnDrop, mpsc::Receiver<String>) {
        let (signal, dropped) = DropSignal::new();
        (PanicOnDrop(Some(signal)), dropped)
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        drop(self.0.take());
        if !thread::panicking() {
            panic!("loopbridge conformance: a panic in Drop, on purpose");
        }
    }
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(thread_name());
        }
    }
}

/// A future that never completes and holds `guard` (a [`DropSignal`] or a [`PanicOnDrop`],
/// say), so its drop is observable.
///
/// ```
/// use loopbridge::conformance::support::{pending_with, DropSignal};
/// let (signal, dropped) = DropSignal::new();
/// drop(pending_with(signal));
/// assert!(dropped.recv().is_ok());
/// ```
pub async fn pending_with<G>(guard: G) {
    let _guard = guard;
    futures_lite::future::pending::<()>().await
}

/// The current thread's name, or `<unnamed>`.
///
/// ```
/// let name = std::thread::Builder::new()
///     .name("x".into())
///     .spawn(loopbridge::conformance::support::thread_name)?
///     .join()
///     .unwrap();
/// assert_eq!(name, "x");
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Polls `check` every 10 ms until it returns `true` or [`PATIENCE`] passes; returns its last
/// answer.
///
/// ```
/// assert!(loopbridge::conformance::support::eventually(|| true));
/// ```
pub fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A gate that blocks threads synchronously until released, for wedging runtime threads.
///
/// A waiter gives up after [`PATIENCE`], so a test that forgets to release cannot leave a
/// thread stuck forever.
///
/// ```
/// use loopbridge::conformance::support::Latch;
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
    /// let latch = loopbridge::conformance::support::Latch::new();
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
    /// let latch = loopbridge::conformance::support::Latch::with_patience(Duration::ZERO);
    /// latch.wait(); // gives up at once
    /// ```
    #[must_use]
    pub fn with_patience(patience: Duration) -> Latch {
        Latch(Arc::default(), patience)
    }

    /// Opens the latch for every waiter, now and later.
    ///
    /// ```
    /// let latch = loopbridge::conformance::support::Latch::new();
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
    /// use loopbridge::{Bridge, conformance::support::Latch};
    /// let (bridge, latch) = (Bridge::new(), Latch::new());
    /// assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
    /// latch.release();
    /// ```
    pub fn block_call(&self, bridge: &crate::Bridge) -> Result<(), crate::BridgeError> {
        let latch = self.clone();
        bridge.call_timeout(async move { latch.wait() }, SHORT)
    }

    /// Blocks the current thread until the latch opens, or until its patience passes
    /// ([`LATCH_PATIENCE`] unless made [`with_patience`](Latch::with_patience)).
    ///
    /// ```
    /// let latch = loopbridge::conformance::support::Latch::new();
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
/// use loopbridge::conformance::support::{LATCH_PATIENCE, PATIENCE};
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
/// use loopbridge::{Bridge, SmolRuntime, conformance::support::{Latch, wedge}};
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
pub fn wedge(bridge: &crate::Bridge, threads: usize, latch: &Latch) -> Vec<crate::BridgeTask<()>> {
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
/// use loopbridge::{Bridge, conformance::support::{Latch, retire}};
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
pub fn retire(bridge: &crate::Bridge, threads: usize, latch: &Latch) -> Vec<crate::BridgeTask<()>> {
    let retired = bridge.stats().retired;
    let blockers = wedge(bridge, threads, latch);
    let timed_out = bridge.call_timeout(needs_the_runtime(bridge), SHORT);
    assert!(
        timed_out
            .as_ref()
            .is_err_and(crate::BridgeError::is_timed_out),
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
/// use loopbridge::{Bridge, Drive, conformance::support::needs_the_runtime};
///
/// let bridge = Bridge::builder().drive(Drive::Caller).build();
/// bridge.call(needs_the_runtime(&bridge))?;
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub fn needs_the_runtime(
    bridge: &crate::Bridge,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let bridge = bridge.clone();
    async move {
        if let Ok(task) = bridge.spawn(async {}) {
            let _ = task.await;
        }
    }
}

/// Names of this process's threads, from `/proc/self/task/*/comm` (Linux; empty elsewhere).
/// The OS keeps the first 15 bytes of each name.
///
/// ```
/// let names = loopbridge::conformance::support::thread_names();
/// # let _ = names;
/// ```
#[must_use]
pub fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(comm) = fs::read_to_string(task.path().join("comm")) {
                names.push(comm.trim().to_owned());
            }
        }
    }
    names.sort();
    names
}

/// How many threads this process has (`/proc/self/task` entries; Linux, 0 elsewhere).
///
/// ```
/// let threads = loopbridge::conformance::support::thread_count();
/// # let _ = threads;
/// ```
#[must_use]
pub fn thread_count() -> usize {
    fs::read_dir("/proc/self/task").map_or(0, |dir| dir.count())
}

/// What this process's descriptors point at, as `fd->target` (Linux; for diagnostics).
///
/// ```
/// let targets = loopbridge::conformance::support::fd_targets();
/// # let _ = targets;
/// ```
#[must_use]
pub fn fd_targets() -> Vec<String> {
    fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .map(|fd| {
            let target = fs::read_link(fd.path()).map_or_else(
                |err| format!("<{err}>"),
                |target| target.display().to_string(),
            );
            format!("{}->{target}", fd.file_name().to_string_lossy())
        })
        .collect()
}

/// How many of this process's threads are bridge threads (named `loopbridge-…`).
///
/// ```
/// assert_eq!(loopbridge::conformance::support::bridge_threads(), 0);
/// ```
#[must_use]
pub fn bridge_threads() -> usize {
    thread_names()
        .iter()
        .filter(|name| name.starts_with("loopbridge-"))
        .count()
}

/// How many file descriptors this process has open (Linux; 0 elsewhere). The directory handle
/// that lists them is one of them, every time, so it cancels out against a baseline.
///
/// ```
/// let fds = loopbridge::conformance::support::open_fds();
/// # let _ = fds;
/// ```
#[must_use]
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Serializes the tests of a binary that count threads or descriptors, and checks that each
/// starts with no bridge thread alive. Hold the guard for the whole test.
///
/// It first makes one call on a throwaway bridge: async-io's reactor thread and descriptors are
/// global and permanent, so they must exist before anyone takes a baseline.
///
/// # Panics
///
/// Panics if bridge threads from an earlier test are still alive after [`PATIENCE`].
///
/// ```
/// let _serial = loopbridge::conformance::support::serial();
/// assert_eq!(loopbridge::conformance::support::bridge_threads(), 0);
/// ```
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let warm = crate::Bridge::new();
    warm.call(async_io::Timer::after(Duration::from_millis(1)))
        .expect("warm-up call");
    warm.shutdown();
    assert!(
        eventually(|| bridge_threads() == 0),
        "bridge threads of an earlier test are still alive: {:?}",
        thread_names()
    );
    guard
}
