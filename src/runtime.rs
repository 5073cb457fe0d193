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

use crate::{error::Abort, slot::Abortable};

/// A boxed, type-erased future, as adapters return from [`BridgeRuntime::sleep`].
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A unit of work the bridge hands to a runtime: the caller's future wrapped with its result
/// slot, its cancellation and its panic handling.
///
/// An adapter only has to poll a job to completion on one of its threads, or drop it. The job
/// itself takes care of the rest:
///
/// - **Results.** When the caller's future completes, the job stores the output for the caller
///   and completes with `()`.
/// - **Panics.** A panic in the caller's future is caught inside the job and re-raised on the
///   caller's thread, so it never unwinds into the runtime.
/// - **Cancellation.** When the caller gives up (timeout, [`BridgeTask::cancel`], shutdown), the
///   bridge wakes the job; on its next poll the job drops the caller's future on the runtime
///   and completes. A cancellation that arrives before the first poll still wins: the future is
///   then dropped without ever being polled.
/// - **Dropping.** A job dropped without completing (because its runtime shut down, say)
///   drops the caller's future and reports [`BridgeError::Cancelled`] to the caller, so nobody
///   waits for it forever.
///
/// [`BridgeTask::cancel`]: crate::BridgeTask::cancel
/// [`BridgeError::Cancelled`]: crate::BridgeError::Cancelled
#[must_use = "a job does nothing unless a runtime polls it"]
pub struct Job {
    future: Option<BoxFuture>,
    /// The caller's slot, failed with `Cancelled` if the job is dropped before it completes.
    owner: Option<Arc<dyn Abortable>>,
}

impl Job {
    pub(crate) fn new(future: BoxFuture, owner: Arc<dyn Abortable>) -> Job {
        Job {
            future: Some(future),
            owner: Some(owner),
        }
    }
}

impl Future for Job {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(future) = self.future.as_mut() else {
            return Poll::Ready(());
        };
        match future.as_mut().poll(cx) {
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

impl Drop for Job {
    fn drop(&mut self) {
        // Dropped before it completed (its runtime stopped, or never ran it): drop the
        // caller's future here without letting a panic from its `Drop` escape into the
        // runtime, then tell the caller, so that nobody waits for it forever.
        if let Some(future) = self.future.take() {
            let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(future)));
        }
        if let Some(owner) = self.owner.take() {
            owner.abort(Abort::Cancelled);
        }
    }
}

impl fmt::Debug for Job {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Job")
            .field("completed", &self.future.is_none())
            .finish_non_exhaustive()
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
///     fn block_on_one_off(&self, job: Job) -> io::Result<()> {
///         self.0.block_on_one_off(job)
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
    /// Spawns `job` onto the runtime's threads and returns at once.
    ///
    /// Returns the job back if the runtime can no longer run anything (it was shut down, or
    /// its threads are gone). The bridge then treats the runtime as dead, unpublishes it and
    /// resubmits the job to a fresh one, so a stopped runtime never swallows a call.
    ///
    /// Cancellation needs nothing from the adapter: it travels inside the job (see [`Job`]).
    fn spawn(&self, job: Job) -> Result<(), Job>;

    /// Returns a future that completes after `duration`, driven by this runtime's timer.
    ///
    /// The future is created on the caller's thread but polled only on the runtime's threads,
    /// so an adapter whose timers need a runtime context should create the timer lazily, on
    /// first poll (an `async move` block does this).
    fn sleep(&self, duration: Duration) -> BoxFuture;

    /// Returns `true` if the current thread is one of this runtime's threads, where blocking
    /// on the runtime would block it on itself.
    fn is_runtime_thread(&self) -> bool;

    /// Runs `job` to completion on the current thread, inside a one-off runtime context of
    /// this adapter's kind (timers and IO work as they would on the runtime), and returns when
    /// it completes.
    ///
    /// The bridge calls this on a fresh thread of its own to serve a nested call, one made
    /// from a thread of this runtime, which cannot wait for the runtime without blocking it on
    /// itself. Returns an error if the one-off context cannot be created.
    fn block_on_one_off(&self, job: Job) -> io::Result<()>;

    /// Stops the runtime: no new jobs are accepted, the jobs it holds are dropped, and its
    /// threads are told to exit. Waits up to `grace` for them to exit and joins them.
    ///
    /// Returns `true` if every thread had exited within `grace`. A thread that is stuck (a job
    /// blocks it synchronously) is left to exit by itself once it is free; it must then drop
    /// what it holds and end. Called from one of the runtime's own threads, this only
    /// schedules the stop and returns `false` without waiting. Calling it again is harmless.
    fn shutdown(&self, grace: Duration) -> bool;
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
            fn block_on_one_off(&self, job: Job) -> io::Result<()> {
                (**self).block_on_one_off(job)
            }
            fn shutdown(&self, grace: Duration) -> bool {
                (**self).shutdown(grace)
            }
        }
    )*};
}

forward_runtime!(Box<R>, Arc<R>);
