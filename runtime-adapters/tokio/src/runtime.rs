//! [`TokioRuntime`]: the adapter itself, its three flavours' constructors, and the
//! [`BridgeRuntime`] methods it answers from whichever flavour it runs.

use std::{
    fmt, io,
    sync::Arc,
    time::{Duration, Instant},
};

#[cfg(doc)]
use loopbridge::Bridge;
use loopbridge::{BoxFuture, BridgeRuntime, Job, LocalJob, kit::ThreadMark};
use tokio::runtime::{Builder, Handle, RuntimeFlavor};

use crate::{
    attached::Attached,
    current_thread::{self, CurrentThread},
    driver::Driver,
    multi_thread::{self, MultiThread},
    vitals::Vitals,
};

/// A [`BridgeRuntime`] on tokio: an owned current_thread or multi_thread runtime on threads of
/// its own, or a runtime the application already runs.
///
/// # Examples
///
/// ```
/// use loopbridge::Bridge;
/// use loopbridge_tokio::TokioRuntime;
///
/// let current = Bridge::with_runtime(TokioRuntime::current_thread);
/// let multi = Bridge::with_runtime(|| TokioRuntime::multi_thread(2));
///
/// let app = tokio::runtime::Runtime::new()?;
/// let handle = app.handle().clone();
/// let attached = Bridge::with_runtime(move || TokioRuntime::from_handle(handle.clone()));
///
/// for bridge in [current, multi, attached] {
///     assert_eq!(bridge.call(async { tokio::task::yield_now().await; 1 })?, 1);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TokioRuntime {
    handle: Handle,
    kind: Kind,
    vitals: Vitals,
}

enum Kind {
    CurrentThread(CurrentThread, ThreadMark),
    MultiThread(MultiThread, ThreadMark, usize),
    Attached(Arc<Attached>),
}

impl TokioRuntime {
    /// Starts a current_thread runtime (IO and timers enabled) on a persistent thread named
    /// `loopbridge-tokio`. The default choice for a client and its connection pool.
    ///
    /// # Errors
    ///
    /// The error of the thread spawn or of the runtime build; the thread is then gone.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::with_runtime(loopbridge_tokio::TokioRuntime::current_thread);
    /// assert_eq!(bridge.call(async { 1 })?, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn current_thread() -> io::Result<TokioRuntime> {
        TokioRuntime::from_builder(Builder::new_current_thread())
    }

    /// Starts a multi_thread runtime (IO and timers enabled) with `workers` worker threads
    /// named `loopbridge-tokio-w`, owned by a driver thread named `loopbridge-tokio`.
    ///
    /// # Errors
    ///
    /// An [`io::ErrorKind::InvalidInput`] error for zero workers; the error of the thread
    /// spawn or of the runtime build.
    ///
    /// ```
    /// use loopbridge_tokio::TokioRuntime;
    ///
    /// let bridge = loopbridge::Bridge::with_runtime(|| TokioRuntime::multi_thread(2));
    /// assert_eq!(bridge.call(async { 2 })?, 2);
    /// assert!(TokioRuntime::multi_thread(0).is_err());
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn multi_thread(workers: usize) -> io::Result<TokioRuntime> {
        if workers == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a multi_thread TokioRuntime needs at least one worker thread; \
                 use TokioRuntime::current_thread() for a single thread",
            ));
        }
        let mut builder = Builder::new_multi_thread();
        builder
            .worker_threads(workers)
            .thread_name("loopbridge-tokio-w");
        TokioRuntime::from_builder(builder)
    }

    /// Starts a runtime from a [`Builder`] configured the way tokio users configure their
    /// runtimes (thread names, `on_thread_start`/`on_thread_stop`, `event_interval`,
    /// `max_blocking_threads`, worker count, stack size): a current_thread or multi_thread
    /// runtime, whichever the builder makes.
    ///
    /// The runtime is built, run and dropped on a driver thread named `loopbridge-tokio`, as
    /// with [`current_thread`](TokioRuntime::current_thread) and
    /// [`multi_thread`](TokioRuntime::multi_thread), which are shorthands for this. The
    /// adapter changes two things on the builder, and documents them here:
    ///
    /// - it **enables IO and time** (`enable_all`): bridged futures and
    ///   [`Bridge::spawn_timeout`] need them;
    /// - it **sets `on_thread_park` and `on_thread_unpark`**, replacing hooks of yours (tokio
    ///   keeps one of each), to tell the threads that run the runtime's tasks from its
    ///   blocking pool (see "Nested calls" in the crate docs). Put your own per-thread setup in
    ///   `on_thread_start`, which the adapter leaves alone.
    ///
    /// Everything else is yours: a multi_thread builder without a `thread_name` keeps tokio's
    /// default name for its workers.
    ///
    /// # Errors
    ///
    /// The error of the runtime build or of the thread spawn; nothing is left running then.
    /// (tokio itself panics in `worker_threads(0)`, before the builder gets here.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
    /// use loopbridge::Bridge;
    /// use loopbridge_tokio::TokioRuntime;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let bridge = Bridge::with_runtime(move || {
    ///     let counter = counter.clone();
    ///     let mut builder = tokio::runtime::Builder::new_multi_thread();
    ///     builder
    ///         .worker_threads(2)
    ///         .thread_name("loopbridge-api")
    ///         .max_blocking_threads(4)
    ///         .event_interval(31)
    ///         .on_thread_start(move || {
    ///             counter.fetch_add(1, Ordering::SeqCst);
    ///         });
    ///     TokioRuntime::from_builder(builder)
    /// });
    /// let name = bridge.call(async { std::thread::current().name().map(String::from) })?;
    /// assert_eq!(name.as_deref(), Some("loopbridge-api"));
    /// // The worker that ran the call ran the start hook first.
    /// assert!(started.load(Ordering::SeqCst) >= 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn from_builder(mut builder: Builder) -> io::Result<TokioRuntime> {
        let mark = ThreadMark::new();
        // Only the threads that run tasks park and unpark, never the blocking pool's: such a
        // thread marks itself the first time it does (and the bridge marks every thread that
        // runs one of its steps).
        builder
            .enable_all()
            .on_thread_park(move || mark.mark_current_thread())
            .on_thread_unpark(move || mark.mark_current_thread());
        let (parts, driver_parts) = current_thread::parts();
        let (driver, handle) = Driver::start(move |stopped, ready| {
            let runtime = match builder.build() {
                Ok(runtime) => runtime,
                Err(err) => return drop(ready.send(Err(err))),
            };
            let _ = ready.send(Ok(runtime.handle().clone()));
            match runtime.handle().runtime_flavor() {
                RuntimeFlavor::CurrentThread => {
                    mark.mark_current_thread();
                    current_thread::run(runtime, stopped, driver_parts);
                }
                _ => multi_thread::run(runtime, stopped),
            }
        })?;
        let kind = match handle.runtime_flavor() {
            RuntimeFlavor::CurrentThread => {
                Kind::CurrentThread(CurrentThread::new(driver, parts), mark)
            }
            _ => {
                let workers = handle.metrics().num_workers();
                Kind::MultiThread(MultiThread::new(driver), mark, workers)
            }
        };
        Ok(TokioRuntime::new(handle, kind))
    }

    /// Attaches to a runtime the application already runs.
    ///
    /// Retirement and shutdown stop only the tasks this bridge spawned; they never shut the
    /// application's runtime down. A retired generation gets the same runtime back, so a
    /// wedged application runtime stays wedged: the health check can only stop waiting for
    /// it. [`Bridge::spawn_timeout`] needs the runtime's time driver (`enable_time`); without
    /// it the task panics with tokio's message.
    ///
    /// # Errors
    ///
    /// None today; the `io::Result` matches the other constructors so that all three fit
    /// [`Bridge::with_runtime`].
    ///
    /// ```
    /// use loopbridge::Bridge;
    /// use loopbridge_tokio::TokioRuntime;
    ///
    /// let app = tokio::runtime::Runtime::new()?;
    /// let handle = app.handle().clone();
    /// let bridge = Bridge::with_runtime(move || TokioRuntime::from_handle(handle.clone()));
    /// assert_eq!(bridge.call(async { 3 })?, 3);
    /// bridge.shutdown();
    /// // The application's runtime is still running.
    /// assert_eq!(app.block_on(async { 4 }), 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_handle(handle: Handle) -> io::Result<TokioRuntime> {
        Ok(TokioRuntime::new(handle, Kind::Attached(Arc::default())))
    }

    fn new(handle: Handle, kind: Kind) -> TokioRuntime {
        TokioRuntime {
            handle,
            kind,
            vitals: Vitals::default(),
        }
    }

    /// The handle of the runtime.
    ///
    /// ```
    /// let runtime = loopbridge_tokio::TokioRuntime::current_thread()?;
    /// assert_eq!(runtime.handle().runtime_flavor(), tokio::runtime::RuntimeFlavor::CurrentThread);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    fn begin_stop(&self) {
        match &self.kind {
            Kind::CurrentThread(owned, _) => owned.driver.begin_stop(),
            Kind::MultiThread(owned, ..) => owned.begin_stop(),
            Kind::Attached(attached) => attached.begin_stop(),
        }
    }

    /// Whether the runtime (or, on `from_handle`, the bridge's use of it) is being stopped.
    fn is_stopping(&self) -> bool {
        match &self.kind {
            Kind::CurrentThread(owned, _) => owned.driver.is_stopping(),
            Kind::MultiThread(owned, ..) => owned.driver.is_stopping(),
            Kind::Attached(attached) => attached.is_stopping(),
        }
    }

    /// Whether the current thread is inside this runtime's context: one of its workers, a
    /// thread in its `block_on` or `Handle::enter`, or one of its blocking-pool threads.
    fn in_context(&self) -> bool {
        Handle::try_current().is_ok_and(|current| current.id() == self.handle.id())
    }
}

impl BridgeRuntime for TokioRuntime {
    fn spawn(&self, job: Job) -> Result<(), Job> {
        match &self.kind {
            Kind::CurrentThread(owned, _) => owned.spawn(job),
            Kind::MultiThread(owned, ..) => owned.spawn(&self.handle, job),
            Kind::Attached(attached) => attached.spawn(&self.handle, job),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture {
        // Created on first poll, inside the runtime's context.
        Box::pin(async move { tokio::time::sleep(duration).await })
    }

    /// Only the threads that run the runtime's tasks, where blocking would keep them from
    /// running the bridge's steps: an owned runtime's driver (current_thread) or workers
    /// (multi_thread), which mark themselves. A blocking-pool thread or a thread inside
    /// `Handle::enter` is not one: a call from `spawn_blocking` is served by the runtime, with
    /// its connection pools, like any other. On `from_handle`, whose threads the application
    /// owns, the bridge itself marks the workers that run its steps; besides those, a thread
    /// inside the runtime's context counts when the runtime may have only that one thread to
    /// run tasks on (a current_thread runtime, or a multi_thread one with one worker), since
    /// tokio does not tell its workers from its blocking pool.
    fn is_runtime_thread(&self) -> bool {
        match &self.kind {
            Kind::CurrentThread(_, mark) | Kind::MultiThread(_, mark, _) => {
                mark.is_current_thread()
            }
            Kind::Attached(_) => {
                self.in_context()
                    && (self.handle.runtime_flavor() == RuntimeFlavor::CurrentThread
                        || self.handle.metrics().num_workers() == 1)
            }
        }
    }

    /// How many of the runtime's tasks ended or left its global queue, and how often its
    /// workers parked or accounted busy time, as far as tokio's stable metrics show between
    /// two readings: what an application's tasks (or tasks the bridged futures spawned) do
    /// on the runtime, which the bridge's own count of its steps does not see. New tasks
    /// arriving never count: a wedged runtime keeps receiving them.
    fn activity(&self) -> Option<u64> {
        Some(self.vitals.read(&self.handle))
    }

    /// Enters the runtime's handle around `f`: `tokio::spawn`, `Handle::current()`, tokio's
    /// timers and sockets reach this runtime from the caller's thread, while the runtime's own
    /// threads drive its IO and timers and wake the caller. (Not `Handle::block_on`, which
    /// panics inside another runtime and cannot drive a current_thread runtime's IO.) Declines
    /// once the runtime is stopping: the call then finds it dead the runtime-driven way.
    fn enter(&self, f: &mut dyn FnMut()) -> bool {
        if self.is_stopping() {
            return false;
        }
        let _context = self.handle.enter();
        f();
        true
    }

    fn supports_local(&self) -> bool {
        matches!(self.kind, Kind::CurrentThread(..))
    }

    fn spawn_local(&self, job: LocalJob) -> Result<(), LocalJob> {
        match &self.kind {
            Kind::CurrentThread(owned, _) => owned.spawn_local(job),
            _ => Err(job),
        }
    }

    /// On a multi_thread runtime, the nested future runs on the one-off thread inside the
    /// runtime's own context (`Handle::block_on`), its IO and timers driven by the workers
    /// that are not blocked: clients bound to the runtime work there. A current_thread
    /// runtime's only thread is the one blocked by the nested call, so the future gets a
    /// one-off current_thread runtime of its own.
    fn block_on_one_off(&self, future: BoxFuture) -> io::Result<()> {
        if self.handle.runtime_flavor() == RuntimeFlavor::MultiThread {
            self.handle.block_on(future);
            return Ok(());
        }
        let runtime = Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(future);
        // Never wait for blocking tasks the nested future may have left behind.
        runtime.shutdown_background();
        Ok(())
    }

    fn shutdown(&self, grace: Duration) -> bool {
        self.begin_stop();
        // From inside the runtime's context (a task, or its blocking pool, which the
        // runtime's drop waits for), waiting for the runtime would wait for ourselves.
        if self.in_context() {
            return false;
        }
        let deadline = Instant::now().checked_add(grace);
        match &self.kind {
            Kind::CurrentThread(owned, _) => owned.driver.join(deadline),
            Kind::MultiThread(owned, ..) => owned.driver.join(deadline),
            Kind::Attached(attached) => attached.wait_idle(deadline),
        }
    }
}

impl Drop for TokioRuntime {
    fn drop(&mut self) {
        // Never joins: the last reference may be dropped anywhere, even on a runtime thread.
        self.begin_stop();
    }
}

impl fmt::Debug for TokioRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("TokioRuntime");
        s.field("id", &self.handle.id());
        match &self.kind {
            Kind::CurrentThread(owned, _) => {
                s.field("flavor", &"current_thread").field("owned", owned)
            }
            Kind::MultiThread(owned, _, workers) => s
                .field("flavor", &"multi_thread")
                .field("workers", workers)
                .field("owned", owned),
            Kind::Attached(attached) => s
                .field("flavor", &"from_handle")
                .field("live_tasks", &attached.live()),
        };
        s.finish()
    }
}
