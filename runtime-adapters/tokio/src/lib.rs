//! A tokio adapter for [loopbridge]: call tokio-bound async code (hyper, reqwest, tonic,
//! anything that needs a tokio reactor) from synchronous code, on a persistent runtime.
//!
//! hyper and reqwest bind a client's connection pool to the tokio runtime that was current
//! when each connection was made. Used from sync code through a runtime per call, every call
//! reconnects, and a cached client ends up pointing at a dropped runtime ("dispatch task is
//! gone"). A [`Bridge`] on a [`TokioRuntime`] keeps the client and its pool on one runtime
//! and bridges every call into it, with all of loopbridge's semantics: timeouts that cancel,
//! health-checked retirement, nested calls that never deadlock, bounded shutdown.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use loopbridge::Bridge;
//! use loopbridge_tokio::TokioRuntime;
//!
//! let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
//! // Works from anywhere, even from inside another tokio runtime.
//! let slept = bridge.call(async {
//!     tokio::time::sleep(Duration::from_millis(1)).await;
//!     "tokio timers work"
//! })?;
//! assert_eq!(slept, "tokio timers work");
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! # Choosing a flavour
//!
//! - [`TokioRuntime::current_thread`]: one persistent thread runs a current_thread runtime.
//!   The best default for a client and its pool: cheap, and every connection lives on it.
//! - [`TokioRuntime::multi_thread`]: an owned multi_thread runtime, for CPU-heavy or highly
//!   concurrent bridged work.
//! - [`TokioRuntime::from_handle`]: attach to a runtime the application already runs.
//!   Retirement and shutdown stop only the bridge's own tasks; the application's runtime is
//!   never shut down, and a retired generation gets the same runtime back.
//!
//! # Futures that are not `Send`
//!
//! [`Bridge::call_local`](loopbridge::Bridge::call_local) runs on the current_thread flavour,
//! on a `LocalSet` beside the runtime on its driver thread. The multi_thread and
//! `from_handle` flavours refuse it with
//! [`BridgeError::Unsupported`](loopbridge::BridgeError::Unsupported).
//!
//! # Nested calls
//!
//! A blocking call made from a thread that runs the runtime's tasks cannot wait for that
//! runtime, so the bridge runs it on a one-off thread (or refuses it, see
//! [`loopbridge::NestedPolicy`]). Those threads are an owned runtime's driver or workers, and
//! the threads that have run the bridge's steps; on `from_handle`, also any thread inside the
//! runtime's context when the runtime has a single thread to run tasks on (tokio does not tell
//! its workers from its blocking pool). A call from `spawn_blocking` or from inside
//! `Handle::enter` is *not* nested: the runtime serves it, with its pools, as any other. That
//! is the everyday pattern of an axum or tonic handler calling a sync library.
//!
//! On the multi_thread flavours (owned or `from_handle`), the one-off thread runs the nested
//! future inside the runtime's own context (`Handle::block_on`), its IO and timers driven by
//! the workers that are not blocked, so clients bound to the runtime work there. On
//! current_thread, the runtime's only thread is the one waiting, so the nested future gets a
//! one-off current_thread runtime; it cannot use IO bound to the bridge's runtime. From async
//! code on the bridge, use `bridge.spawn(fut)?.await`, which never blocks.
//!
//! # Clients, streams and I/O
//!
//! [`Bridge::bind`](loopbridge::Bridge::bind) works on every flavour as it is: its maker
//! runs on the runtime, inside its context, so a client that spawns tasks as it is built (or
//! checks for a reactor) can be built there, and it is made again on a fresh runtime after a
//! retirement, and dropped inside its runtime's context:
//!
//! ```
//! use loopbridge::Bridge;
//! use loopbridge_tokio::TokioRuntime;
//!
//! let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
//! // `reqwest::Client::new`, say; here, anything that needs the runtime's context.
//! let client = bridge.bind(|| async { tokio::runtime::Handle::current().runtime_flavor() });
//! let flavor = client.call(|flavor| {
//!     let current_thread = *flavor == tokio::runtime::RuntimeFlavor::CurrentThread;
//!     async move { current_thread }
//! })?;
//! assert!(flavor);
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! [`Bridge::iter`](loopbridge::Bridge::iter) takes any `Stream` (a response's
//! `bytes_stream()`). For tokio's `AsyncRead` and `AsyncWrite`, [`reader`] and [`writer`] are
//! the one call to make: they adapt tokio's traits (with tokio-util's `compat`) and hand them
//! to [`Bridge::reader`](loopbridge::Bridge::reader) and
//! [`Bridge::writer`](loopbridge::Bridge::writer). None of it uses `Handle::block_on`.
//!
//! # Health checks
//!
//! A runtime is retired only if it made no progress while the bridge's probe waited (see
//! loopbridge's "Health checks and retirement"). Besides the bridge's own steps, this adapter
//! reports tokio's stable metrics as activity: tasks that finished or left the global queue,
//! workers that parked or accounted busy time. An application runtime busy with its own tasks
//! is therefore never retired for it, on `from_handle` least of all.
//!
//! # Performance
//!
//! A caller spins briefly for its result before it parks, as on every runtime. On the
//! current_thread flavour the driver thread's own `block_on` future runs the calls' steps from
//! a queue of its own (no tokio task, and no allocation, per step) and keeps the runtime hot
//! for about 50 µs after each step arrives (it yields to the scheduler, which runs tokio's
//! tasks and polls IO without blocking), so back-to-back calls do not pay for waking a parked
//! thread; after that window tokio parks the thread as usual and an idle bridge uses no CPU.
//!
//! The multi_thread and `from_handle` flavours hand a step to tokio as a task, which would
//! wake a worker for every step. So after a step task has run its step, it stays on as the
//! bridge's *pump* for the same window: it looks at a queue of its own in 2 µs bursts,
//! yielding to its worker in between, and a step that arrives during a burst runs there, with
//! no task spawned and no worker woken. The pump takes steps only while it looks, never while
//! it runs one or yields, so a step that blocks never holds up the others; and when the window
//! ends it ends, which on `from_handle` gives the application's worker back.
//!
//! Every window keeps score ([`loopbridge::kit::HotWindow`]): when calls come further apart
//! than the window, looking catches nothing, and the runtime sleeps as soon as it runs out of
//! work instead, with a probe now and then. The `compare` example reports all three flavours.
//!
//! # Shutdown
//!
//! The owned flavours build, run and drop their runtime on a driver thread named
//! `loopbridge-tokio`, so a runtime is never dropped on a caller's thread or inside another
//! runtime, where tokio would panic. A runtime that is stuck (a task blocks a worker) is
//! dropped by that thread once it is free; shutdown stops waiting at its grace period.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod attached;
mod blocking_io;
mod current_thread;
mod driver;
mod matrix;
mod multi_thread;
mod pump;
mod vitals;

pub use crate::blocking_io::{reader, writer};
pub use crate::matrix::TestRuntime;

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
    attached::Attached, current_thread::CurrentThread, driver::Driver, multi_thread::MultiThread,
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
