//! The [`Job`]s the bridge hands a runtime: one step of a call's task each, and the local jobs
//! of futures that are not `Send`. An adapter only runs them or drops them; results, panics,
//! cancellation and the report of a dropped job are the bridge's, inside the job.

use std::{
    any::Any,
    fmt,
    future::Future,
    panic::{self, AssertUnwindSafe},
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use async_task::Runnable;

use crate::{error::Abort, registry::Abortable};

/// One step of a call's task, handed to a runtime to run on one of its threads.
///
/// A call's future lives in a task (an [`async_task`] task: one allocation, holding the future
/// itself). Every time the task is woken, the bridge hands the runtime a `Job` through
/// [`BridgeRuntime::spawn`](crate::BridgeRuntime::spawn); running the job ([`Job::run`], or polling
/// it once as a future, which completes after that one step) polls the caller's future once. So an
/// adapter only has to get each job onto one of its threads and run it there, or drop it. The task
/// takes care of the rest:
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
/// The job itself is `Send`: it carries the caller's closure that *makes* the future. An adapter
/// that supports local jobs (see [`BridgeRuntime::spawn_local`](crate::BridgeRuntime::spawn_local))
/// moves the job to one of its threads, calls [`into_future`](LocalJob::into_future) there, and
/// polls the future on that thread only. Results, panics, cancellation and dropping work as for a
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
        let unmade = self.make.take().map(drop_quietly).is_some();
        if let Some(owner) = self.owner.take() {
            owner.abort(Abort::Cancelled);
            if unmade {
                owner.gone();
            }
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
            drop_quietly(future);
        }
        if let Some(owner) = self.owner.take() {
            owner.abort(Abort::Cancelled);
        }
    }
}

/// Drops `value`, containing a panic from its `Drop`: nobody is there to receive it, and it
/// must not unwind into a runtime or a caller that is giving up. The panic is reported (see
/// [`contain`]).
pub(crate) fn drop_quietly<T>(value: T) {
    contain("a value's Drop", move || drop(value));
}

/// Runs `f`, containing a panic from it: the panic is reported as a `tracing` error event
/// (with the feature) that names `what` panicked, and its payload is dropped here too, so that
/// a payload whose own `Drop` panics cannot unwind out either (see [`drop_payload`]).
pub(crate) fn contain(what: &str, f: impl FnOnce()) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(f)) {
        let _ = what;
        crate::context::lifecycle!(
            error,
            panic = panic_text(&*payload),
            "{what} panicked on the bridge; the panic was contained (nobody was there to receive it)"
        );
        drop_payload(payload);
    }
}

/// Drops a panic payload nobody receives. A payload whose own `Drop` panics (one made with
/// `std::panic::panic_any`) is forgotten rather than let unwind: that second panic has nowhere
/// to go either.
pub(crate) fn drop_payload(payload: Box<dyn Any + Send>) {
    if let Err(again) = panic::catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        std::mem::forget(again);
    }
}

/// A panic's message, if it has one.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// A value whose `Drop` is contained (see [`drop_quietly`]) however it goes, dropped or
/// forgotten by an owner that cannot contain a panic itself: async-task, for one, aborts the
/// process when a task's future panics as it is dropped unrun.
pub(crate) struct Quiet<T>(Option<T>);

impl<T> Quiet<T> {
    pub(crate) fn new(value: T) -> Quiet<T> {
        Quiet(Some(value))
    }
}

impl<T> Drop for Quiet<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            drop_quietly(value);
        }
    }
}
