//! The [`BridgeRuntime`] trait that adapters implement, and the [`Job`]s the bridge hands them.

use std::{
    fmt,
    future::Future,
    io,
    panic::{self, AssertUnwindSafe},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use async_task::Runnable;

use crate::{error::Abort, slot::Abortable};

/// A boxed, type-erased future, as adapters return from [`BridgeRuntime::sleep`].
///
/// ```
/// use std::time::Duration;
/// use loopbridge::{BoxFuture, BridgeRuntime, SmolRuntime};
///
/// let runtime = SmolRuntime::start()?;
/// let timer: BoxFuture = runtime.sleep(Duration::from_millis(1));
/// # drop(timer);
/// # Ok::<(), std::io::Error>(())
/// ```
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// One step of a call's task, handed to a runtime to run on one of its threads.
///
/// A call's future lives in a task (an [`async_task`] task: one allocation, holding the
/// future itself). Every time the task is woken, the bridge hands the runtime a `Job` through
/// [`BridgeRuntime::spawn`]; running the job ([`Job::run`], or polling it once as a future,
/// which completes after that one step) polls the caller's future once. So an adapter only
/// has to get each job onto one of its threads and run it there, or drop it. The task takes
/// care of the rest:
///
/// - **Results.** When the caller's future completes, its output goes to the caller.
/// - **Panics.** A panic in the caller's future is caught in the task and re-raised on the
///   caller's thread, so it never unwinds into the runtime.
/// - **Cancellation.** When the caller gives up (timeout, [`BridgeTask::cancel`], shutdown), the
///   task is woken; its next job drops the caller's future on the runtime. A cancellation that
///   arrives before the first run still wins: the future is then dropped without being polled.
/// - **Dropping.** A job dropped without being run (because its runtime stopped, say) drops
///   the caller's future and reports [`BridgeError::Cancelled`] to the caller, so nobody waits
///   for it forever.
///
/// [`BridgeTask::cancel`]: crate::BridgeTask::cancel
/// [`BridgeError::Cancelled`]: crate::BridgeError::Cancelled
#[must_use = "a job does nothing unless a runtime runs it"]
pub struct Job(Option<Runnable>);

impl Job {
    pub(crate) fn new(runnable: Runnable) -> Job {
        Job(Some(runnable))
    }

    /// Runs this step of the task on the current thread: polls the caller's future once.
    ///
    /// ```
    /// use loopbridge::Job;
    ///
    /// // A runtime thread's loop, draining the jobs its `spawn` queued:
    /// fn drain(queue: &std::sync::mpsc::Receiver<Job>) {
    ///     while let Ok(job) = queue.try_recv() {
    ///         job.run();
    ///     }
    /// }
    /// # let _ = drain;
    /// ```
    pub fn run(mut self) {
        self.step();
    }

    fn step(&mut self) {
        if let Some(runnable) = self.0.take() {
            runnable.run();
        }
    }
}

impl Future for Job {
    type Output = ();

    /// Runs the job's one step (see [`Job::run`]) and completes.
    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.step();
        Poll::Ready(())
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("ran", &self.0.is_none())
            .finish_non_exhaustive()
    }
}

/// A boxed future that need not be `Send`, as [`LocalJob::into_future`] builds.
///
/// ```
/// use std::rc::Rc;
/// let not_send: loopbridge::LocalBoxFuture = Box::pin(async {
///     let _rc = Rc::new(());
/// });
/// # drop(not_send);
/// ```
pub type LocalBoxFuture = Pin<Box<dyn Future<Output = ()> + 'static>>;

/// A job whose future is not `Send`, from [`Bridge::call_local`](crate::Bridge::call_local).
///
/// The job itself is `Send`: it carries the caller's closure that *makes* the future. An
/// adapter that supports local jobs (see [`BridgeRuntime::spawn_local`]) moves the job to
/// one of its threads, calls [`into_future`](LocalJob::into_future) there, and polls the
/// future on that thread only. Results, panics, cancellation and dropping work as for a
/// [`Job`].
///
/// An adapter's `spawn_local` moves the job to its thread, which makes and runs the future:
///
/// ```
/// use loopbridge::LocalJob;
///
/// fn run_on_this_thread(local: &async_executor::LocalExecutor<'static>, job: LocalJob) {
///     local.spawn(job.into_future()).detach();
/// }
/// # let _ = run_on_this_thread;
/// ```
#[must_use = "a job does nothing unless a runtime polls it"]
pub struct LocalJob {
    make: Option<Box<dyn FnOnce() -> LocalBoxFuture + Send + 'static>>,
    owner: Option<Arc<dyn Abortable>>,
}

impl LocalJob {
    pub(crate) fn new(
        make: Box<dyn FnOnce() -> LocalBoxFuture + Send + 'static>,
        owner: Arc<dyn Abortable>,
    ) -> LocalJob {
        LocalJob {
            make: Some(make),
            owner: Some(owner),
        }
    }

    /// Makes the job's future. Call it on the thread that will poll the future, and poll it
    /// only there: it is not `Send`. A panic in the caller's closure is caught and re-raised
    /// on the caller, like a panic in the future.
    ///
    /// ```
    /// fn poll_here(job: loopbridge::LocalJob) {
    ///     // On the thread that polls it:
    ///     futures_lite::future::block_on(job.into_future());
    /// }
    /// # let _ = poll_here;
    /// ```
    pub fn into_future(mut self) -> LocalJobFuture {
        let make = self
            .make
            .take()
            .expect("a local job is made into a future once");
        let owner = self
            .owner
            .take()
            .expect("a local job has its owner until then");
        LocalJobFuture(Guarded::new(make(), owner))
    }
}

impl Drop for LocalJob {
    fn drop(&mut self) {
        // Never made into a future (its runtime stopped first).
        if let Some(make) = self.make.take() {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(make)));
        }
        if let Some(owner) = self.owner.take() {
            owner.abort(Abort::Cancelled);
        }
    }
}

impl fmt::Debug for LocalJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalJob").finish_non_exhaustive()
    }
}

/// The future of a [`LocalJob`], from [`LocalJob::into_future`]; poll it on the thread that
/// made it.
///
/// ```
/// fn run(local: &async_executor::LocalExecutor<'static>, job: loopbridge::LocalJob) {
///     let future: loopbridge::LocalJobFuture = job.into_future();
///     local.spawn(future).detach();
/// }
/// # let _ = run;
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct LocalJobFuture(Guarded<LocalBoxFuture>);

impl Future for LocalJobFuture {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl fmt::Debug for LocalJobFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalJobFuture")
            .field("completed", &self.0.future.is_none())
            .finish_non_exhaustive()
    }
}

/// A job's future and its caller's slot: if it is dropped before it completes (its runtime
/// stopped, or never ran it), it drops the future without letting a panic from its `Drop`
/// escape into the runtime, then fails the caller with `Cancelled`, so nobody waits forever.
struct Guarded<F> {
    future: Option<F>,
    owner: Option<Arc<dyn Abortable>>,
}

impl<F> Guarded<F> {
    fn new(future: F, owner: Arc<dyn Abortable>) -> Guarded<F> {
        Guarded {
            future: Some(future),
            owner: Some(owner),
        }
    }
}

impl<F: Future<Output = ()> + Unpin> Future for Guarded<F> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(());
        };
        match Pin::new(future).poll(cx) {
            Poll::Ready(()) => {
                // The job reported its outcome to the caller itself.
                self.owner = None;
                self.future = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F> Drop for Guarded<F> {
    fn drop(&mut self) {
        if let Some(future) = self.future.take() {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(future)));
        }
        if let Some(owner) = self.owner.take() {
            owner.abort(Abort::Cancelled);
        }
    }
}

/// A runtime the bridge can run futures on: spawn, a timer, one-off execution for nested
/// calls, a "is this thread mine" check, and a bounded shutdown.
///
/// A [`Bridge`](crate::Bridge) creates runtimes from a factory, one *generation* at a time:
/// the first call starts one, every call reuses it, and the health check replaces it with a
/// fresh one if it stops responding. The trait is object safe and every method takes `&self`,
/// so the bridge keeps each runtime as a `Box<dyn BridgeRuntime>`; `Bridge` itself is not
/// generic, and the choice of runtime can be made at run time (see the example below).
///
/// The crate ships [`SmolRuntime`](crate::SmolRuntime); `loopbridge-tokio` implements this
/// trait for tokio from the public API alone, and so can any other crate.
///
/// # Contract
///
/// - [`spawn`](BridgeRuntime::spawn) never runs the job on the calling thread and never
///   blocks for long: the caller may be any thread, including one inside another runtime.
/// - Jobs are polled only on the runtime's own threads, so that a blocked caller cannot stall
///   them, and are dropped (not leaked) when the runtime stops.
/// - Dropping the runtime value must not block: it may signal its threads to stop but must not
///   join them, because the last reference can be dropped on any thread, including a caller's
///   or the runtime's own. Resources that belong to a thread are released by that thread when
///   it exits.
/// - [`shutdown`](BridgeRuntime::shutdown) returns within its grace period and never joins
///   the thread it is called from.
///
/// # Examples
///
/// An adapter that delegates to [`SmolRuntime`](crate::SmolRuntime) (a real adapter talks to
/// its runtime instead), chosen at run time:
///
/// ```
/// use std::{io, time::Duration};
/// use loopbridge::{BoxFuture, Bridge, BridgeRuntime, Job, SmolRuntime};
///
/// #[derive(Debug)]
/// struct Logged(SmolRuntime);
///
/// impl BridgeRuntime for Logged {
///     fn spawn(&self, job: Job) -> Result<(), Job> {
///         self.0.spawn(job)
///     }
///     fn sleep(&self, duration: Duration) -> BoxFuture {
///         self.0.sleep(duration)
///     }
///     fn is_runtime_thread(&self) -> bool {
///         self.0.is_runtime_thread()
///     }
///     fn block_on_one_off(&self, future: BoxFuture) -> io::Result<()> {
///         self.0.block_on_one_off(future)
///     }
///     fn shutdown(&self, grace: Duration) -> bool {
///         println!("shutting down");
///         self.0.shutdown(grace)
///     }
/// }
///
/// let logged = std::env::var_os("LOG_SHUTDOWN").is_some();
/// let bridge = Bridge::with_runtime(move || -> io::Result<Box<dyn BridgeRuntime>> {
///     let smol = SmolRuntime::start()?;
///     Ok(if logged { Box::new(Logged(smol)) } else { Box::new(smol) })
/// });
/// assert_eq!(bridge.call(async { 6 * 7 })?, 42);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub trait BridgeRuntime: fmt::Debug + Send + Sync + 'static {
    /// Gets `job` onto one of the runtime's threads, to be run there once, and returns at once.
    ///
    /// Called for a call's first step and again every time its future is woken, from any
    /// thread (the caller's, a runtime thread, the reactor's), so it should be cheap: a push
    /// onto a queue the runtime's threads drain, or a spawn on an executor (a `Job` is a future
    /// that completes after its one step).
    ///
    /// Returns the job back if the runtime can no longer run anything (it was shut down, or
    /// its threads are gone). For a call's first step, the bridge then treats the runtime as
    /// dead, unpublishes it and resubmits the job to a fresh one, so a stopped runtime never
    /// swallows a call; a later step that is refused is dropped, which cancels the call.
    ///
    /// Cancellation needs nothing from the adapter: it travels inside the job (see [`Job`]).
    fn spawn(&self, job: Job) -> Result<(), Job>;

    /// Returns a future that completes after `duration`, driven by this runtime's timer.
    ///
    /// The future is created on the caller's thread but polled only on the runtime's threads,
    /// so an adapter whose timers need a runtime context should create the timer lazily, on
    /// first poll (an `async move` block does this).
    fn sleep(&self, duration: Duration) -> BoxFuture;

    /// Returns `true` if the current thread is one of the threads that run this runtime's
    /// tasks, where blocking on the runtime would keep it from running them.
    ///
    /// A thread that merely has the runtime's context, without running its tasks (tokio's
    /// blocking pool, a thread inside `Handle::enter`), is not one: the runtime serves its
    /// calls like any other, with its pools. The bridge also counts, on its own, every thread
    /// that has run one of its steps, so an adapter that cannot tell its threads from others
    /// may report only those it knows.
    fn is_runtime_thread(&self) -> bool;

    /// Runs `future` to completion on the current thread, inside a one-off runtime context of
    /// this adapter's kind (timers and IO work as they would on the runtime), and returns when
    /// it completes.
    ///
    /// The bridge calls this on a fresh thread of its own to serve a nested call, one made
    /// from a thread of this runtime, which cannot wait for the runtime without blocking it on
    /// itself. Returns an error if the one-off context cannot be created.
    fn block_on_one_off(&self, future: BoxFuture) -> io::Result<()>;

    /// Stops the runtime: no new jobs are accepted, the jobs it holds are dropped, and its
    /// threads are told to exit. Waits up to `grace` for them to exit and joins them.
    ///
    /// Returns `true` if every thread had exited within `grace`. A thread that is stuck (a job
    /// blocks it synchronously) is left to exit by itself once it is free; it must then drop
    /// what it holds and end. Called from one of the runtime's own threads, this only
    /// schedules the stop and returns `false` without waiting. Calling it again is harmless.
    fn shutdown(&self, grace: Duration) -> bool;

    /// A reading of work the runtime does that the bridge cannot see itself, for the health
    /// check: a value that changes whenever the runtime makes progress outside the bridge's
    /// steps (a task of its own polled, a turn of its reactor, a task of the application it
    /// runs for). The default, `None`, means there is nothing to add.
    ///
    /// The health check that follows a timeout retires a runtime only if it made no progress
    /// during the probe window: no step of the bridge started, and this reading did not
    /// change. The bridge counts its steps itself, so an adapter whose threads run nothing but
    /// the bridge's steps needs nothing here; an adapter that shares its threads with other
    /// work (an application's runtime, say) should report that work, so that a runtime busy
    /// with it is never taken for a wedged one. Called only by the health check, twice per
    /// probe; it need not be cheap, but must not block.
    ///
    /// ```
    /// use loopbridge::{BridgeRuntime, SmolRuntime};
    ///
    /// // The smol adapter runs only the bridge's steps: the bridge's own count is enough.
    /// assert_eq!(SmolRuntime::start()?.activity(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn activity(&self) -> Option<u64> {
        None
    }

    /// Returns `true` if the runtime can run futures that are not `Send`
    /// ([`spawn_local`](BridgeRuntime::spawn_local)). The default is `false`, and
    /// [`Bridge::call_local`](crate::Bridge::call_local) then fails with
    /// [`BridgeError::Unsupported`](crate::BridgeError::Unsupported).
    fn supports_local(&self) -> bool {
        false
    }

    /// Moves `job` to one of the runtime's threads, where it is made into its future
    /// ([`LocalJob::into_future`]) and polled on that thread only; returns at once.
    ///
    /// Returns the job back if the runtime cannot run it: it has stopped, or (the default)
    /// it does not support local jobs at all.
    fn spawn_local(&self, job: LocalJob) -> Result<(), LocalJob> {
        Err(job)
    }
}

macro_rules! forward_runtime {
    ($($ty:ty),*) => {$(
        impl<R: BridgeRuntime + ?Sized> BridgeRuntime for $ty {
            fn spawn(&self, job: Job) -> Result<(), Job> {
                (**self).spawn(job)
            }
            fn sleep(&self, duration: Duration) -> BoxFuture {
                (**self).sleep(duration)
            }
            fn is_runtime_thread(&self) -> bool {
                (**self).is_runtime_thread()
            }
            fn block_on_one_off(&self, future: BoxFuture) -> io::Result<()> {
                (**self).block_on_one_off(future)
            }
            fn shutdown(&self, grace: Duration) -> bool {
                (**self).shutdown(grace)
            }
            fn activity(&self) -> Option<u64> {
                (**self).activity()
            }
            fn supports_local(&self) -> bool {
                (**self).supports_local()
            }
            fn spawn_local(&self, job: LocalJob) -> Result<(), LocalJob> {
                (**self).spawn_local(job)
            }
        }
    )*};
}

forward_runtime!(Box<R>, Arc<R>);
