//! [`Bridge`]: the persistent runtime, its generations, and the blocking entry points.

use std::{
    cell::Cell,
    fmt,
    future::Future,
    io, thread,
    time::{Duration, Instant},
};

use crate::{
    BridgeError, BridgeTask, SmolRuntime,
    context::{Context, lifecycle},
    error::Abort,
    fork,
    generation::{Generation, Pulse, Registration},
    runtime::{BridgeRuntime, Job, LocalJob},
    slot::{Outcome, Slot, held_job, job, local_job, scheduler},
    stats::{BridgeStats, Counters},
    sync::{
        Arc, AtomicU64, Condvar, Mutex, Ordering, RwLock, Weak, lock, read, wait_on,
        wait_on_timeout, write,
    },
    wait::wait,
};

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

type Factory = Box<dyn Fn() -> io::Result<Box<dyn BridgeRuntime>> + Send + Sync + 'static>;

/// Configures a [`Bridge`] before it is built.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loopbridge::{Bridge, NestedPolicy, SmolRuntime};
///
/// let bridge = Bridge::builder()
///     .runtime(|| SmolRuntime::with_threads(2))
///     .probe_timeout(Duration::from_millis(500))
///     .shutdown_grace(Duration::from_secs(1))
///     .nested(NestedPolicy::Error)
///     .build();
/// assert_eq!(bridge.call(async { "hi" })?, "hi");
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[must_use = "a builder does nothing until `.build()` is called"]
pub struct BridgeBuilder {
    factory: Factory,
    probe_timeout: Duration,
    shutdown_grace: Duration,
    nested: NestedPolicy,
    per_call: bool,
}

impl BridgeBuilder {
    /// A builder with the defaults: [`SmolRuntime::start`], a 200 ms probe, a 3 s shutdown
    /// grace, and [`NestedPolicy::Fallback`].
    ///
    /// ```
    /// let bridge = loopbridge::BridgeBuilder::new().build();
    /// assert_eq!(bridge.call(async { 1 })?, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn new() -> BridgeBuilder {
        BridgeBuilder {
            factory: boxed_factory(SmolRuntime::start),
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            nested: NestedPolicy::Fallback,
            per_call: false,
        }
    }

    /// Sets the factory that starts each runtime generation.
    ///
    /// The factory runs when a call needs a runtime: on the first call, and again after a
    /// generation is retired. It runs on the calling thread, except for a call with a deadline
    /// ([`Bridge::call_timeout`] and the like), which runs it on a helper thread named
    /// `loopbridge-start` and waits for it until the deadline only (the start goes on, and
    /// serves the next call). So a factory must not depend on the calling thread's context (a
    /// tokio `Handle::current()`, say): capture what it needs. An error it returns reaches the
    /// caller as [`BridgeError::Start`]; the next call tries again.
    ///
    /// ```
    /// use loopbridge::{Bridge, SmolRuntime};
    /// let bridge = Bridge::builder().runtime(|| SmolRuntime::with_threads(2)).build();
    /// assert_eq!(bridge.call(async { 2 })?, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn runtime<R, F>(mut self, factory: F) -> BridgeBuilder
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        self.factory = boxed_factory(factory);
        self
    }

    /// Sets how long the health probe that follows a timeout waits for the runtime to run a
    /// no-op task before the runtime is retired (default 200 ms).
    ///
    /// # Panics
    ///
    /// Panics if `timeout` is zero: no runtime could ever pass such a probe.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder()
    ///     .probe_timeout(std::time::Duration::from_secs(1))
    ///     .build();
    /// # drop(bridge);
    /// ```
    pub fn probe_timeout(mut self, timeout: Duration) -> BridgeBuilder {
        assert!(
            !timeout.is_zero(),
            "loopbridge: the probe timeout must be greater than zero (the default is 200 ms)"
        );
        self.probe_timeout = timeout;
        self
    }

    /// Sets how long [`Bridge::shutdown`] and dropping the last clone wait for the runtime's
    /// threads to exit (default 3 s). Zero means "tell them to stop and do not wait".
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder()
    ///     .shutdown_grace(std::time::Duration::from_millis(500))
    ///     .build();
    /// bridge.call(async {})?;
    /// bridge.shutdown(); // waits at most 500 ms
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn shutdown_grace(mut self, grace: Duration) -> BridgeBuilder {
        self.shutdown_grace = grace;
        self
    }

    /// Sets what a blocking call from the bridge's own runtime does (see [`NestedPolicy`]).
    ///
    /// ```
    /// use loopbridge::{Bridge, NestedPolicy};
    /// let bridge = Bridge::builder().nested(NestedPolicy::Error).build();
    /// # drop(bridge);
    /// ```
    pub fn nested(mut self, policy: NestedPolicy) -> BridgeBuilder {
        self.nested = policy;
        self
    }

    /// Makes the bridge start a fresh runtime for every call and shut it down afterwards,
    /// instead of keeping one (see [`Bridge::per_call`]).
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder().per_call().build();
    /// bridge.call(async {})?;
    /// bridge.call(async {})?;
    /// assert_eq!(bridge.stats().started, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn per_call(mut self) -> BridgeBuilder {
        self.per_call = true;
        self
    }

    /// Builds the bridge. No runtime starts until the first call (or [`Bridge::start`]).
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder().build();
    /// assert_eq!(bridge.stats().started, 0); // nothing runs yet
    /// # drop(bridge);
    /// ```
    pub fn build(self) -> Bridge {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Bridge {
            inner: Arc::new_cyclic(|this| Inner {
                this: this.clone(),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                factory: self.factory,
                probe_timeout: self.probe_timeout,
                shutdown_grace: self.shutdown_grace,
                nested: self.nested,
                per_call: self.per_call,
                ephemeral: Mutex::new(Vec::new()),
                state: RwLock::new(State::Idle),
                starting: Mutex::new(None),
                started: Condvar::new(),
                generations: AtomicU64::new(0),
                stats: Arc::new(Counters::default()),
            }),
        }
    }
}

impl Default for BridgeBuilder {
    fn default() -> BridgeBuilder {
        BridgeBuilder::new()
    }
}

impl fmt::Debug for BridgeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeBuilder")
            .field("probe_timeout", &self.probe_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("nested", &self.nested)
            .field("per_call", &self.per_call)
            .finish_non_exhaustive()
    }
}

fn boxed_factory<R, F>(factory: F) -> Factory
where
    R: BridgeRuntime,
    F: Fn() -> io::Result<R> + Send + Sync + 'static,
{
    Box::new(move || factory().map(|runtime| Box::new(runtime) as Box<dyn BridgeRuntime>))
}

/// A persistent runtime that synchronous code can call async code on.
///
/// The bridge starts its runtime lazily, on the first call, from a factory (by default a
/// [`SmolRuntime`] with one executor thread), and reuses it for every call after: whatever a
/// call leaves on the runtime (a connection pool, a socket, a timer) is there for the next.
/// Calls may come from any thread, including threads already inside another async runtime.
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
/// let slow = bridge.call_timeout(futures_lite::future::pending::<()>(), Duration::from_millis(20));
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
/// # Timeouts and health checks
///
/// [`call_timeout`](Bridge::call_timeout) enforces its deadline on the caller's side, so the
/// caller gets [`BridgeError::TimedOut`] even if the runtime thread is blocked. The future is
/// cancelled and dropped on its runtime. Then the bridge probes the runtime with a no-op task
/// (see [`BridgeBuilder::probe_timeout`]). If the probe does not run and the runtime made no
/// progress meanwhile (no step started, no activity reported by the adapter), the runtime is
/// wedged: its generation is retired, the calls still on it fail with
/// [`BridgeError::Retired`], and the next call starts a fresh runtime. The stuck thread is told
/// to stop and exits by itself once it is free; nobody waits for it. A runtime that is merely
/// busy, however long its queue, is kept. [`BridgeStats`] counts all of this. The crate docs'
/// "Health checks and retirement" section has the whole rule.
///
/// Every wait in a call honours the call's deadline: for another caller's runtime start, for a
/// replacement runtime, for the runtime itself.
///
/// # Fork
///
/// In a child made by `fork()`, an inherited bridge abandons its parent's runtime (leaking
/// what it held) and starts a fresh one on its first call; see the crate docs' "Fork"
/// section.
///
/// # Nested calls
///
/// A blocking call from one of the bridge's own runtime threads (a bridged future calling
/// `call`) would block the runtime on itself. By default the bridge runs such a call on a
/// one-off thread instead; see [`NestedPolicy`]. From async code on the bridge,
/// `bridge.spawn(fut)?.await` is the non-blocking way.
///
/// # Panics
///
/// A panic inside a bridged future is caught on the runtime and re-raised on the thread that
/// called [`call`](Bridge::call) (or joins or awaits the [`BridgeTask`]), with its payload.
/// The runtime thread survives, and the next call runs on the same runtime.
///
/// # Shutdown
///
/// [`shutdown`](Bridge::shutdown) is terminal: later calls fail with
/// [`BridgeError::Shutdown`], and calls in flight fail with it at once while their futures are
/// dropped. It waits for the runtime's threads up to a grace period and never longer; a thread
/// that is stuck is left to exit by itself. Dropping the last clone shuts the bridge down the
/// same way, so **dropping a `Bridge` can block for up to the grace period** (3 s by default,
/// see [`BridgeBuilder::shutdown_grace`]) if a runtime thread is stuck. Called from the
/// bridge's own runtime, shutdown only schedules the stop.
///
/// A clone held by a task on the bridge's own runtime (a background loop, say) keeps the
/// bridge alive for as long as that task lives, so dropping every other clone does not shut
/// it down. Call [`shutdown`](Bridge::shutdown) explicitly in that case.
#[derive(Clone)]
pub struct Bridge {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// This bridge, for a helper thread that starts its runtime (see `start_aside`).
    this: Weak<Inner>,
    id: u64,
    factory: Factory,
    probe_timeout: Duration,
    shutdown_grace: Duration,
    nested: NestedPolicy,
    per_call: bool,
    /// The generations of a per-call bridge's calls in flight, for shutdown to stop.
    ephemeral: Mutex<Vec<Weak<Generation>>>,
    state: RwLock<State>,
    /// Set while a caller runs the factory, so concurrent first calls start one runtime, not
    /// several; `started` wakes the others when it is done. Holds the fork count of the
    /// process it was set in (see `fork`): a start in progress in a parent process never ends
    /// in its child, where nobody runs it.
    starting: Mutex<Option<u64>>,
    started: Condvar,
    generations: AtomicU64,
    stats: Arc<Counters>,
}

enum State {
    /// No runtime yet, or the last one was retired.
    Idle,
    Running(Arc<Generation>),
    /// Terminal. Keeps the last generation so a repeated shutdown can wait for it again.
    ShutDown(Option<Arc<Generation>>),
}

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// On a one-off thread serving a nested call: the id of the bridge it serves.
    static ONE_OFF_FOR: Cell<u64> = const { Cell::new(0) };
    /// While a runtime factory runs: the id of the bridge it is starting.
    static STARTING: Cell<u64> = const { Cell::new(0) };
}

// The same for the models: loom's `thread_local!` gives each model thread its own, and takes
// no `const` initializer.
#[cfg(loopbridge_loom)]
loom::thread_local! {
    static ONE_OFF_FOR: Cell<u64> = Cell::new(0);
    static STARTING: Cell<u64> = Cell::new(0);
}

impl Bridge {
    /// A bridge on the default runtime: a [`SmolRuntime`] with one executor thread, started
    /// on the first call.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// assert_eq!(bridge.call(async { 7 })?, 7);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn new() -> Bridge {
        BridgeBuilder::new().build()
    }

    /// A bridge whose runtimes come from `factory`, with the default settings.
    ///
    /// `factory` is called on the first call and again whenever the health check retires a
    /// runtime. Any [`BridgeRuntime`] will do, including a `Box<dyn BridgeRuntime>`.
    ///
    /// ```
    /// use loopbridge::{Bridge, SmolRuntime};
    ///
    /// let one = Bridge::with_runtime(SmolRuntime::start);
    /// let two = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
    /// assert_eq!(one.call(async { 1 })? + two.call(async { 2 })?, 3);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn with_runtime<R, F>(factory: F) -> Bridge
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        BridgeBuilder::new().runtime(factory).build()
    }

    /// A bridge that starts a fresh runtime from `factory` for every call and shuts it down
    /// after the call: the per-call-runtime strategy behind the same API, so that code can be
    /// switched between the two strategies and the two compared.
    ///
    /// Nothing outlives a call: a client or connection made in one call is bound to a runtime
    /// that is gone by the next. That is the cost this crate exists to avoid; the `compare`
    /// example measures it. The factory runs on the calling thread as part of each call, even
    /// one with a deadline: the start is the call's own work, not a wait for someone else's.
    ///
    /// ```
    /// use loopbridge::{Bridge, SmolRuntime};
    ///
    /// let bridge = Bridge::per_call(SmolRuntime::start);
    /// assert_eq!(bridge.call(async { 1 })?, 1);
    /// assert_eq!(bridge.call(async { 2 })?, 2);
    /// assert_eq!(bridge.stats().started, 2); // a runtime per call
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn per_call<R, F>(factory: F) -> Bridge
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        BridgeBuilder::new().runtime(factory).per_call().build()
    }

    /// A [`BridgeBuilder`], to set the runtime, probe timeout, shutdown grace or nested-call
    /// policy.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder().build();
    /// # drop(bridge);
    /// ```
    pub fn builder() -> BridgeBuilder {
        BridgeBuilder::new()
    }

    /// Runs `future` on the bridge's runtime and blocks the current thread until it completes.
    ///
    /// Works from any thread, including one that is inside another async runtime (its
    /// `block_on` would panic or hang there). Starts the runtime if it is not running.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Shutdown`] after [`shutdown`](Bridge::shutdown) or during it;
    /// [`BridgeError::Start`] if the runtime could not be started;
    /// [`BridgeError::Retired`] if the runtime was retired while the call was in flight;
    /// [`BridgeError::Nested`] for a call from the bridge's own runtime under
    /// [`NestedPolicy::Error`].
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `future` on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let n = bridge.call(async {
    ///     async_io::Timer::after(std::time::Duration::from_millis(1)).await;
    ///     5
    /// })?;
    /// assert_eq!(n, 5);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call<F>(&self, future: F) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.call_inner(future, None)
    }

    /// Like [`call`](Bridge::call), but gives up at `timeout`.
    ///
    /// At the deadline the caller gets [`BridgeError::TimedOut`] even if the runtime's thread
    /// is blocked, and the future is cancelled: it is dropped on its runtime. Then the runtime
    /// is probed, and retired if it does not respond (see the [type docs](Bridge)); that
    /// decision has been made by the time this returns, so a timed-out call can take up to the
    /// probe timeout longer than `timeout`. Other calls in flight on a healthy runtime are not
    /// disturbed.
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`], and everything [`call`](Bridge::call) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `future` on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let quick = bridge.call_timeout(async { 1 }, Duration::from_secs(5));
    /// assert_eq!(quick?, 1);
    /// let stuck = bridge.call_timeout(futures_lite::future::pending::<()>(), Duration::from_millis(10));
    /// assert!(stuck.unwrap_err().is_timed_out());
    /// assert_eq!(bridge.stats().timeouts, 1);
    /// assert_eq!(bridge.stats().retired, 0); // the runtime answered its probe
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call_timeout<F>(&self, future: F, timeout: Duration) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.call_inner(future, Some(timeout))
    }

    fn call_inner<F>(&self, future: F, timeout: Option<Duration>) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let inner = &*self.inner;
        let generation = inner.generation(deadline)?;
        let future = Context::capture().attach(future);
        let nested = inner.is_nested(&generation);
        if nested {
            if inner.nested == NestedPolicy::Error {
                return Err(BridgeError::Nested);
            }
            Counters::bump(&inner.stats.nested);
            lifecycle!(
                debug,
                generation = generation.id,
                "nested call served on a one-off thread"
            );
            let slot = Slot::new();
            let registration = inner.run_one_off(&generation, future, &slot)?;
            let call = Submitted {
                generation,
                registration: Some(registration),
            };
            inner.finish_call(&slot, call, deadline, nested)
        } else {
            // Registered by its caller before it parks, or by its job once its future is
            // pending, whichever comes first.
            let slot = Slot::late_on(&generation);
            let (first, task) = held_job(future, slot.clone(), None, scheduler(&slot));
            let call = inner.submit_call(generation, first, &slot, deadline)?;
            let result = inner.finish_call(&slot, call, deadline, nested);
            drop(task);
            result
        }
    }

    /// Runs a future that is not `Send` on the bridge's runtime, and blocks until it
    /// completes.
    ///
    /// `make` is sent to one runtime thread, which calls it and polls the future it returns
    /// on that thread only, so the future may hold `Rc`s, `RefCell`s and other `!Send` state
    /// across `.await`s. Timeouts ([`call_local_timeout`](Bridge::call_local_timeout)),
    /// cancellation, panics, retirement and shutdown behave as for [`call`](Bridge::call).
    ///
    /// Supported on [`SmolRuntime`] (a local executor beside the shared one, on its first
    /// thread) and on tokio's current_thread flavour (a `LocalSet`).
    ///
    /// # Errors
    ///
    /// [`BridgeError::Unsupported`] on a runtime without local tasks (tokio's multi_thread
    /// flavour, say); [`BridgeError::Nested`] when called from the bridge's own runtime, where
    /// no one-off thread can take a future that cannot move; and everything
    /// [`call`](Bridge::call) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `make` or from its future on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let len = bridge.call_local(|| async {
    ///     let log = Rc::new(RefCell::new(Vec::new()));
    ///     log.borrow_mut().push("before");
    ///     async_io::Timer::after(std::time::Duration::from_millis(1)).await;
    ///     log.borrow_mut().push("after");
    ///     let len = log.borrow().len();
    ///     len
    /// })?;
    /// assert_eq!(len, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call_local<M, F>(&self, make: M) -> Result<F::Output, BridgeError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.call_local_inner(make, None)
    }

    /// Like [`call_local`](Bridge::call_local), but gives up at `timeout`, as
    /// [`call_timeout`](Bridge::call_timeout) does: the future is dropped on its thread and
    /// the runtime is probed.
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`], and everything [`call_local`](Bridge::call_local) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `make` or from its future on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{rc::Rc, time::Duration};
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let err = bridge
    ///     .call_local_timeout(
    ///         || async {
    ///             let _not_send = Rc::new(());
    ///             futures_lite::future::pending::<()>().await
    ///         },
    ///         Duration::from_millis(10),
    ///     )
    ///     .unwrap_err();
    /// assert!(err.is_timed_out());
    /// ```
    pub fn call_local_timeout<M, F>(
        &self,
        make: M,
        timeout: Duration,
    ) -> Result<F::Output, BridgeError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.call_local_inner(make, Some(timeout))
    }

    fn call_local_inner<M, F>(
        &self,
        make: M,
        timeout: Option<Duration>,
    ) -> Result<F::Output, BridgeError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let inner = &*self.inner;
        let generation = inner.generation(deadline)?;
        if inner.is_nested(&generation) {
            return Err(BridgeError::Nested);
        }
        if !generation.runtime.supports_local() {
            return Err(BridgeError::Unsupported(
                "futures that are not Send (`call_local`); use SmolRuntime or tokio's \
                 current_thread flavour",
            ));
        }
        let slot = Slot::on(&generation);
        let context = Context::capture();
        let job = local_job(move || context.attach(make()), slot.clone());
        let call = inner.submit_call(generation, job, &slot, deadline)?;
        inner.finish_call(&slot, call, deadline, false)
    }

    /// Spawns `future` on the bridge's runtime and returns a [`BridgeTask`] for its result,
    /// without blocking.
    ///
    /// Join the task from sync code with [`BridgeTask::join`], or `.await` it from any async
    /// runtime. Dropping the task cancels the future; [`BridgeTask::detach`] lets it run.
    /// Spawning from the bridge's own runtime is fine.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Shutdown`] after shutdown; [`BridgeError::Start`] if the runtime could
    /// not be started.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn(async { 40 + 2 })?;
    /// // ... do other work ...
    /// assert_eq!(task.join()?, 42);
    ///
    /// // Or await it, from any runtime:
    /// let v = futures_lite::future::block_on(async { bridge.spawn(async { 1 })?.await })?;
    /// assert_eq!(v, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<BridgeTask<F::Output>, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, None)
    }

    /// Like [`spawn`](Bridge::spawn), with a deadline enforced on the runtime by its own
    /// timer: when `timeout` passes, the future is dropped there and the task resolves to
    /// [`BridgeError::TimedOut`]. Useful when the task is awaited rather than joined.
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Bridge::spawn), and [`BridgeError::TimedOut`] if the deadline passes
    /// while the spawn waits for a runtime to start.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn_timeout(futures_lite::future::pending::<()>(), Duration::from_millis(10))?;
    /// assert!(futures_lite::future::block_on(task).unwrap_err().is_timed_out());
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn spawn_timeout<F>(
        &self,
        future: F,
        timeout: Duration,
    ) -> Result<BridgeTask<F::Output>, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, Some(timeout))
    }

    fn spawn_inner<F>(
        &self,
        future: F,
        timeout: Option<Duration>,
    ) -> Result<BridgeTask<F::Output>, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = &*self.inner;
        // An `Instant` overflow means a deadline too far to matter: no timer.
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        // A runtime that needs starting first is waited for until the deadline at most.
        let generation = inner.generation(deadline)?;
        // A per-call runtime lives as long as its task, detached or not: the task's
        // registration holds it (see `BridgeTask::detach`), and lets it go (and stop) when the
        // task ends.
        let slot = Slot::on(&generation);
        let future = Context::capture().attach(future);
        let job = job(future, slot.clone(), deadline, scheduler(&slot));
        let registration = inner.submit(generation, job, &slot, deadline)?;
        Ok(BridgeTask::new(
            slot,
            registration,
            Arc::downgrade(&self.inner),
            inner.id,
            inner.stats.clone(),
        ))
    }

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
        self.inner.generation(None).map(drop)
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
    pub fn is_shutdown(&self) -> bool {
        matches!(*read(&self.inner.state), State::ShutDown(_))
    }

    /// A snapshot of the bridge's lifecycle counters.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// bridge.call(async {})?;
    /// assert_eq!(bridge.stats().started, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn stats(&self) -> BridgeStats {
        self.inner.stats.snapshot()
    }
}

impl Default for Bridge {
    fn default() -> Bridge {
        Bridge::new()
    }
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        let mut s = f.debug_struct("Bridge");
        s.field("id", &inner.id);
        match &*read(&inner.state) {
            State::Idle => s.field("state", &"idle"),
            State::Running(generation) => {
                s.field("state", &"running").field("generation", generation)
            }
            State::ShutDown(_) => s.field("state", &"shut down"),
        };
        s.field("nested", &inner.nested)
            .field("per_call", &inner.per_call)
            .field("probe_timeout", &inner.probe_timeout)
            .field("shutdown_grace", &inner.shutdown_grace)
            .field("stats", &inner.stats.snapshot())
            .finish()
    }
}

// ===== impl Inner =====

impl Inner {
    /// The published generation, starting one if there is none. Waiting for another caller's
    /// start gives up at `deadline`.
    fn generation(&self, deadline: Option<Instant>) -> Result<Arc<Generation>, BridgeError> {
        if self.per_call {
            return self.start_ephemeral();
        }
        match &*read(&self.state) {
            State::Running(generation) if generation.of_this_process() => {
                return Ok(generation.clone());
            }
            State::ShutDown(_) => return Err(BridgeError::Shutdown),
            // None yet, or one inherited from a parent process, which `start` abandons.
            State::Running(_) | State::Idle => {}
        }
        self.start(deadline)
    }

    /// Starts and publishes a generation, or waits for another caller's start; gives up at
    /// `deadline`. Nothing is published unless the factory succeeded.
    ///
    /// Without a deadline the factory runs on this thread. With one, it runs on a helper
    /// thread that this one waits for until the deadline: a caller cannot give up on a
    /// factory running on its own stack. A start the caller gave up on goes on, and publishes
    /// its runtime for the calls after.
    fn start(&self, deadline: Option<Instant>) -> Result<Arc<Generation>, BridgeError> {
        self.check_not_starting()?;
        self.abandon_inherited();
        let mut starting = lock(&self.starting);
        loop {
            match &*read(&self.state) {
                State::Running(generation) => return Ok(generation.clone()),
                State::ShutDown(_) => return Err(BridgeError::Shutdown),
                State::Idle => {}
            }
            if starting.is_none_or(|epoch| epoch != fork::current()) {
                *starting = Some(fork::current());
                drop(starting);
                return match deadline {
                    None => self.start_here(),
                    Some(deadline) => self.start_aside(deadline),
                };
            }
            // Another caller is running the factory: wait for it, within our deadline.
            starting = match deadline {
                None => wait_on(&self.started, starting),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        Counters::bump(&self.stats.timeouts);
                        return Err(BridgeError::TimedOut);
                    }
                    wait_on_timeout(&self.started, starting, deadline - now)
                }
            };
        }
    }

    /// Runs the factory on this thread and publishes its runtime, for a caller that set the
    /// `starting` flag; clears the flag and wakes the waiters however it ends.
    fn start_here(&self) -> Result<Arc<Generation>, BridgeError> {
        let _done = CallOnDrop(|| {
            *lock(&self.starting) = None;
            self.started.notify_all();
        });
        let (epoch, runtime) = self.run_factory()?;
        let id = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let generation = Arc::new(Generation::new(id, epoch, runtime, false));
        let mut state = write(&self.state);
        if let State::Idle = *state {
            *state = State::Running(generation.clone());
            drop(state);
            Counters::bump(&self.stats.started);
            lifecycle!(info, generation = id, runtime = ?generation.runtime, "bridge runtime started");
            return Ok(generation);
        }
        // Shut down while the factory ran: the new runtime never serves a call.
        drop(state);
        generation.close(Abort::Shutdown);
        generation.runtime.shutdown(self.shutdown_grace);
        Err(BridgeError::Shutdown)
    }

    /// [`start_here`](Self::start_here) on a helper thread named `loopbridge-start`, waited
    /// for until `deadline`. A panic in the factory is re-raised here, as if it had run here.
    fn start_aside(&self, deadline: Instant) -> Result<Arc<Generation>, BridgeError> {
        let not_started = |err: BridgeError| {
            *lock(&self.starting) = None;
            self.started.notify_all();
            Err(err)
        };
        // Held by the helper for the start's length: a bridge dropped meanwhile shuts down
        // there, once the start is over.
        let Some(inner) = self.this.upgrade() else {
            return not_started(BridgeError::Shutdown);
        };
        let (done, outcome) = std::sync::mpsc::channel();
        let helper = std::thread::Builder::new()
            .name("loopbridge-start".into())
            .spawn(move || {
                let _ = done.send(inner.start_here());
            });
        let helper = match helper {
            Ok(helper) => helper,
            Err(err) => return not_started(BridgeError::Start(err)),
        };
        match outcome.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(started) => started,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                lifecycle!(
                    debug,
                    "a call's deadline passed while its runtime started; the start goes on"
                );
                Counters::bump(&self.stats.timeouts);
                Err(BridgeError::TimedOut)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match helper.join() {
                Err(payload) => std::panic::resume_unwind(payload),
                Ok(()) => unreachable!("the helper reports before it ends"),
            },
        }
    }

    /// Refuses a call from inside this bridge's own factory: waiting for the start would
    /// wait for ourselves.
    fn check_not_starting(&self) -> Result<(), BridgeError> {
        if STARTING.with(Cell::get) == self.id {
            return Err(BridgeError::Start(io::Error::other(
                "the runtime factory called into the bridge it is starting; \
                 the factory must not use its own bridge",
            )));
        }
        Ok(())
    }

    /// Runs the factory, refusing a factory that calls into the bridge it is starting. Returns
    /// the process's fork count from before the factory ran, with the runtime (see `fork`).
    fn run_factory(&self) -> Result<(u64, Box<dyn BridgeRuntime>), BridgeError> {
        self.check_not_starting()?;
        let epoch = fork::epoch();
        let previous = STARTING.with(|id| id.replace(self.id));
        let _restore = CallOnDrop(move || STARTING.with(|id| id.set(previous)));
        let runtime = (self.factory)().map_err(BridgeError::Start)?;
        Ok((epoch, runtime))
    }

    /// Unpublishes a generation inherited from a parent process, whose runtime has no threads
    /// in this one, and abandons it (see [`abandon`]).
    fn abandon_inherited(&self) {
        let inherited = {
            let mut state = write(&self.state);
            match &*state {
                State::Running(generation) if !generation.of_this_process() => {
                    match std::mem::replace(&mut *state, State::Idle) {
                        State::Running(generation) => Some(generation),
                        _ => None,
                    }
                }
                _ => None,
            }
        };
        if let Some(generation) = inherited {
            abandon(&generation);
        }
    }

    /// Starts a runtime for one call of a per-call bridge. It is never published; shutdown
    /// finds it through `ephemeral`.
    fn start_ephemeral(&self) -> Result<Arc<Generation>, BridgeError> {
        if matches!(*read(&self.state), State::ShutDown(_)) {
            return Err(BridgeError::Shutdown);
        }
        let (epoch, runtime) = self.run_factory()?;
        let id = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let generation = Arc::new(Generation::new(id, epoch, runtime, true));
        {
            let mut live = lock(&self.ephemeral);
            // Checked under the list lock, which shutdown takes after marking the state: either
            // shutdown sees this generation, or this sees the shutdown.
            if !matches!(*read(&self.state), State::ShutDown(_)) {
                live.retain(|weak| weak.strong_count() > 0);
                live.push(Arc::downgrade(&generation));
                drop(live);
                Counters::bump(&self.stats.started);
                return Ok(generation);
            }
        }
        generation.close(Abort::Shutdown);
        generation.runtime.shutdown(self.shutdown_grace);
        Err(BridgeError::Shutdown)
    }

    /// After a call: a per-call bridge shuts the call's runtime down, waiting up to `grace`.
    fn release(&self, generation: &Generation, grace: Duration) {
        if generation.ephemeral {
            generation.close(Abort::Shutdown);
            generation.runtime.shutdown(grace);
        }
    }

    /// Waits for a submitted call's outcome until `deadline`; at the deadline, cancels it and
    /// probes its runtime (unless the call was nested, or its runtime per-call).
    fn finish_call<T: Send + 'static>(
        &self,
        slot: &Arc<Slot<T>>,
        mut call: Submitted,
        deadline: Option<Instant>,
        nested: bool,
    ) -> Result<T, BridgeError> {
        // At the deadline, an outcome that arrived meanwhile still wins over the timeout.
        let outcome =
            wait(slot, deadline, || self.register_late(&mut call, slot)).or_else(|| slot.cancel());
        let Submitted {
            generation,
            registration,
        } = call;
        drop(registration);
        match outcome {
            Some(outcome) => {
                let outcome = match outcome {
                    // A step dropped by a runtime that was closing (a call answered before it
                    // was registered is not failed by the close itself): say why.
                    Outcome::Failed(BridgeError::Cancelled) => match generation.close_reason() {
                        Some(reason) => Outcome::Failed(reason.into()),
                        None => Outcome::Failed(BridgeError::Cancelled),
                    },
                    outcome => outcome,
                };
                self.release(&generation, self.shutdown_grace);
                self.stats.observe(&outcome);
                outcome.into_result()
            }
            None => {
                Counters::bump(&self.stats.timeouts);
                lifecycle!(debug, generation = generation.id, "bridge call timed out");
                if generation.ephemeral {
                    // Discarded anyway; if it is stuck, nobody waits for it.
                    self.release(&generation, Duration::ZERO);
                } else if !nested {
                    self.check_health(&generation);
                }
                Err(BridgeError::TimedOut)
            }
        }
    }

    /// Registers `slot` and hands `job` to a runtime, moving to a fresh generation if the
    /// current one turns out to be closed or dead (waiting for it until `deadline` at most).
    fn submit<T: Send + 'static, W: Work>(
        &self,
        generation: Arc<Generation>,
        job: W,
        slot: &Arc<Slot<T>>,
        deadline: Option<Instant>,
    ) -> Result<Registration, BridgeError> {
        let submitted = self.hand_over(generation, job, slot, true, deadline)?;
        Ok(submitted
            .registration
            .expect("an eager hand-over registers the call"))
    }

    /// Hands a blocking call's `job` to a runtime like [`submit`](Self::submit), but leaves
    /// the registration to [`register_late`](Self::register_late), just before the caller
    /// parks: most calls are answered while their caller still spins, and never need one.
    /// A move to a fresh generation waits for it until `deadline` at most.
    fn submit_call<T: Send + 'static, W: Work>(
        &self,
        generation: Arc<Generation>,
        job: W,
        slot: &Arc<Slot<T>>,
        deadline: Option<Instant>,
    ) -> Result<Submitted, BridgeError> {
        self.hand_over(generation, job, slot, false, deadline)
    }

    fn hand_over<T: Send + 'static, W: Work>(
        &self,
        mut generation: Arc<Generation>,
        mut job: W,
        slot: &Arc<Slot<T>>,
        eager: bool,
        deadline: Option<Instant>,
    ) -> Result<Submitted, BridgeError> {
        /// Generations tried before giving up: a factory whose fresh runtimes refuse work
        /// must not make a call loop forever.
        const ATTEMPTS: usize = 3;
        let mut refused = 0;
        for attempt in 1..=ATTEMPTS {
            let registration = if eager {
                generation.register(slot.clone())
            } else {
                None
            };
            // (A registered call that the generation closes after this is failed by the close.)
            let closed = if eager {
                registration.is_none()
            } else {
                generation.is_closed()
            };
            if closed {
                // Retired or shut down under us.
                self.unpublish(&generation);
            } else {
                match job.spawn_on(&*generation.runtime) {
                    Ok(()) => {
                        return Ok(Submitted {
                            generation,
                            registration,
                        });
                    }
                    Err(returned) => {
                        // A runtime that refuses work is dead: never leave it published.
                        refused += 1;
                        job = returned;
                        drop(registration);
                        self.retire(&generation, false);
                        if slot.is_finished() {
                            // Failed meanwhile (a shutdown): do not start anything for it.
                            return Err(self.closed_error());
                        }
                    }
                }
            }
            if attempt < ATTEMPTS {
                // Every step of the call runs where the next generation takes it: its home
                // moves along before the job is handed over.
                generation = self.generation(deadline)?;
                slot.move_to(&generation);
            }
        }
        Err(BridgeError::Start(io::Error::other(format!(
            "no runtime took the call in {ATTEMPTS} attempts ({refused} refused it, the others \
             were closed as it arrived), even freshly started"
        ))))
    }

    /// Registers a call handed over without a registration, so that closing its generation
    /// fails it, before its caller parks. A generation closed meanwhile never will: the call
    /// fails here with the reason instead.
    fn register_late<T: Send + 'static>(&self, call: &mut Submitted, slot: &Arc<Slot<T>>) {
        if call.registration.is_some() {
            return;
        }
        match call.generation.register(slot.clone()) {
            Some(registration) => call.registration = Some(registration),
            // Closed, and so said why, when it did.
            None => slot.fail(
                call.generation
                    .close_reason()
                    .map_or(BridgeError::Retired, BridgeError::from),
            ),
        }
    }

    /// Whether the current thread would block this bridge on itself.
    fn is_nested(&self, generation: &Generation) -> bool {
        is_nested(self.id, generation)
    }

    /// Serves a nested call on a fresh thread with a one-off runtime context.
    fn run_one_off<F>(
        &self,
        generation: &Arc<Generation>,
        future: F,
        slot: &Arc<Slot<F::Output>>,
    ) -> Result<Registration, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let registration = generation
            .register(slot.clone())
            .ok_or_else(|| self.closed_error())?;
        // The job reads the slot first, so a cancellation that lands before the thread even
        // exists still wins: the future is then dropped without being polled. Its steps run on
        // the one-off thread, which drains them until the task is gone (and with it the
        // sender).
        let (steps, incoming) = async_channel::unbounded::<Job>();
        let first = job(future, slot.clone(), None, move |step| {
            let _ = steps.try_send(step);
        });
        let owner = generation.clone();
        let reporter = slot.clone();
        let bridge = self.id;
        thread::Builder::new()
            .name("loopbridge-nested".into())
            .spawn(move || {
                ONE_OFF_FOR.with(|id| id.set(bridge));
                let drain = Box::pin(async move {
                    first.run();
                    while let Ok(step) = incoming.recv().await {
                        step.run();
                    }
                });
                if let Err(err) = owner.runtime.block_on_one_off(drain) {
                    reporter.refine_failure(BridgeError::Start(err));
                }
            })
            .map_err(BridgeError::Start)?;
        Ok(registration)
    }

    /// The error for a call that found its generation closed.
    fn closed_error(&self) -> BridgeError {
        match *read(&self.state) {
            State::ShutDown(_) => BridgeError::Shutdown,
            _ => BridgeError::Retired,
        }
    }

    /// After a timeout: probes `generation` with a no-op task, and retires it if the task does
    /// not run within the probe timeout *and* the runtime made no progress meanwhile (see
    /// [`Health`]): a runtime busy with a long queue is slow, not wedged, and keeps its calls.
    pub(crate) fn check_health(&self, generation: &Arc<Generation>) {
        if generation.is_closed() || !generation.of_this_process() {
            return;
        }
        let before = generation.pulse();
        let probe = Slot::on(generation);
        let probe_job = job(async {}, probe.clone(), None, scheduler(&probe));
        let health = match generation.runtime.spawn(probe_job) {
            Err(_refused) => Health::Dead,
            Ok(()) => self.watch(generation, &probe, before),
        };
        lifecycle!(
            debug,
            generation = generation.id,
            health = ?health,
            "health probe after a timeout"
        );
        if matches!(health, Health::Dead | Health::Wedged) {
            self.retire(generation, true);
        }
    }

    /// Waits for `probe` to run, up to the probe timeout, and tells what the runtime did
    /// meanwhile. The progress readings are taken in a few slices of the window, not only at
    /// its ends: an adapter's reading of work the bridge cannot see may count only what it
    /// sees change between two readings (see [`BridgeRuntime::activity`]).
    fn watch(&self, generation: &Generation, probe: &Slot<()>, before: Pulse) -> Health {
        const SLICES: u32 = 8;
        let start = Instant::now();
        for slice in 1..=SLICES {
            // A probe timeout too long for `Instant` still ends, far in the future.
            let until = start
                .checked_add(self.probe_timeout / SLICES * slice)
                .or_else(|| start.checked_add(Duration::from_secs(86_400 * 365)));
            if let Some(outcome) = wait(probe, until, || {}) {
                return match outcome {
                    Outcome::Value(()) => Health::Answered,
                    // Failed by a close meanwhile: decided elsewhere.
                    _ if generation.is_closed() => Health::Answered,
                    // Dropped unrun by a runtime whose threads are gone.
                    _ => Health::Dead,
                };
            }
            if generation.pulse() != before {
                drop(probe.cancel());
                return Health::Busy;
            }
        }
        drop(probe.cancel());
        Health::Wedged
    }

    /// Takes `generation` out of service: unpublishes it, fails its calls in flight with
    /// [`BridgeError::Retired`], and tells its runtime to stop without waiting for it.
    fn retire(&self, generation: &Arc<Generation>, by_probe: bool) {
        self.unpublish(generation);
        if generation.close(Abort::Retired) {
            if by_probe {
                Counters::bump(&self.stats.retired);
            }
            lifecycle!(
                warn,
                generation = generation.id,
                probe_timeout = ?self.probe_timeout,
                by_probe,
                "bridge runtime retired: it stopped running tasks; the next call starts a fresh one"
            );
            generation.runtime.shutdown(Duration::ZERO);
        }
    }

    fn unpublish(&self, generation: &Arc<Generation>) {
        let mut state = write(&self.state);
        if let State::Running(current) = &*state {
            if Arc::ptr_eq(current, generation) {
                *state = State::Idle;
            }
        }
    }

    fn shutdown(&self, grace: Duration) -> bool {
        let generation = {
            let mut state = write(&self.state);
            let generation = match &*state {
                State::Running(generation) => Some(generation.clone()),
                State::ShutDown(generation) => generation.clone(),
                State::Idle => None,
            };
            *state = State::ShutDown(generation.clone());
            generation
        };
        let ephemeral: Vec<_> = lock(&self.ephemeral)
            .drain(..)
            .filter_map(|weak| weak.upgrade())
            .collect();
        let started = Instant::now();
        let deadline = started.checked_add(grace);
        let mut all_exited = true;
        for generation in generation.iter().chain(&ephemeral) {
            if !generation.of_this_process() {
                // Its threads are in a parent process: nothing here to stop or wait for.
                abandon(generation);
                continue;
            }
            generation.close(Abort::Shutdown);
            let left = deadline.map_or(grace, |d| d.saturating_duration_since(Instant::now()));
            all_exited &= generation.runtime.shutdown(left);
        }
        lifecycle!(
            info,
            took = ?started.elapsed(),
            all_exited,
            "bridge shut down{}",
            if all_exited { "" } else { "; stuck threads were left to exit by themselves" }
        );
        all_exited
    }
}

#[cfg(all(test, loopbridge_loom))]
impl Bridge {
    /// Retires the published generation as a failed health probe would: the models cannot
    /// wait out a probe's timer.
    pub(crate) fn retire_for_model(&self) {
        let current = match &*read(&self.inner.state) {
            State::Running(generation) => Some(generation.clone()),
            _ => None,
        };
        if let Some(generation) = current {
            self.inner.retire(&generation, true);
        }
    }

    /// How many calls and tasks are registered in flight on the published generation.
    pub(crate) fn in_flight_for_model(&self) -> usize {
        match &*read(&self.inner.state) {
            State::Running(generation) => generation.in_flight(),
            _ => 0,
        }
    }
}

/// Runs a closure when dropped, on every exit path, unwinding included.
struct CallOnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for CallOnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// A job the bridge can hand to a runtime: `Send` futures and local ones.
trait Work: Sized {
    fn spawn_on(self, runtime: &dyn BridgeRuntime) -> Result<(), Self>;
}

impl Work for Job {
    fn spawn_on(self, runtime: &dyn BridgeRuntime) -> Result<(), Job> {
        runtime.spawn(self)
    }
}

impl Work for LocalJob {
    fn spawn_on(self, runtime: &dyn BridgeRuntime) -> Result<(), LocalJob> {
        runtime.spawn_local(self)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown(self.shutdown_grace);
    }
}

/// A call handed to a runtime: the generation that took it, and the call's registration
/// there, once it has one.
struct Submitted {
    generation: Arc<Generation>,
    registration: Option<Registration>,
}

/// Abandons a generation inherited from a parent process through `fork()`: its runtime's
/// threads do not exist here, so it is never closed, stopped or dropped, which would signal
/// or wait for threads that are not there. Everything it holds is leaked instead: the calls
/// and tasks that were in flight on it in the parent (their futures included), its queues and
/// its runtime value.
fn abandon(generation: &Arc<Generation>) {
    lifecycle!(
        warn,
        generation = generation.id,
        "bridge runtime inherited from a parent process (fork): abandoned and leaked; \
         the next call starts a fresh one"
    );
    std::mem::forget(generation.clone());
}

/// What a health probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    /// The probe ran within the probe timeout.
    Answered,
    /// The probe did not run, but the runtime made progress while it waited: steps started,
    /// or the adapter reported activity. It is busy, and kept.
    Busy,
    /// No progress at all during the probe window while the probe waited: retired.
    Wedged,
    /// The runtime refused the probe: its threads are gone. Retired.
    Dead,
}

/// Whether the current thread would block `generation` of the bridge with id `bridge` on
/// itself: it runs the runtime's steps (it has run one, or the adapter says it is one of the
/// runtime's threads), or it is a one-off thread serving a nested call while a runtime thread
/// waits for it. A thread that merely has the runtime's context (tokio's blocking pool, or
/// `Handle::enter`) is not one: the runtime serves its calls as usual.
pub(crate) fn is_nested(bridge: u64, generation: &Generation) -> bool {
    ONE_OFF_FOR.with(Cell::get) == bridge
        || generation.runs_steps_here()
        || generation.runtime.is_runtime_thread()
}
