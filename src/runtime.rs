//! The [`BridgeRuntime`] trait that adapters implement: what an adapter author reads.

use std::{fmt, future::Future, io, pin::Pin, sync::Arc, time::Duration};

use crate::job::{Job, LocalJob};

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
/// Two methods to implement, [`spawn`](BridgeRuntime::spawn) and
/// [`shutdown`](BridgeRuntime::shutdown); the others have defaults that suit a runtime with no
/// timer, context or local tasks of its own. What the bridge relies on:
///
/// - [`spawn`](BridgeRuntime::spawn) never runs the job on the calling thread and never
///   blocks for long: the caller may be any thread, including one inside another runtime.
/// - Jobs are polled only on the runtime's own threads, so that a blocked caller cannot stall
///   them, and are dropped (not leaked) when the runtime stops.
/// - [`shutdown`](BridgeRuntime::shutdown) is idempotent, returns within its grace period, and
///   never joins the thread it is called from. The bridge calls it on every runtime before it
///   lets the runtime go (with a zero grace when nobody should wait), on whatever thread lets
///   it go last, so an adapter's `Drop` needs to stop nothing: it must only not block. (Stop
///   the threads there anyway if users may drop your runtime outside a bridge, as the shipped
///   adapters do.)
///
/// The [`kit`](crate::kit) has the pieces adapters share: thread marks, an exit latch, counted
/// threads with a bounded join, and the hot window.
///
/// # Checking an adapter
///
/// The crate [`loopbridge-conformance`](https://docs.rs/loopbridge-conformance) checks an
/// adapter against every promise above and every semantic of the bridge, in both drive modes,
/// with one line per configuration in your tests; it also has the seeded stress test with
/// injected faults and the leak harness that loopbridge's own adapters pass. Add it as a
/// dev-dependency:
///
/// ```toml
/// [dev-dependencies]
/// loopbridge-conformance = "0.1"
/// ```
///
/// ```ignore
/// // tests/conformance.rs
/// use loopbridge_conformance::Suite;
///
/// loopbridge_conformance::conformance_suite!(mine, Suite::new(MyRuntime::start));
/// ```
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

    /// Returns a future that completes after `duration`, driven by this runtime's timer: the
    /// deadline of [`Bridge::spawn_timeout`](crate::Bridge::spawn_timeout).
    ///
    /// The future is created on the caller's thread but polled only on the runtime's threads,
    /// so an adapter whose timers need a runtime context should create the timer lazily, on
    /// first poll (an `async move` block does this). The default is an async-io timer, which
    /// works under any executor.
    fn sleep(&self, duration: Duration) -> BoxFuture {
        Box::pin(async move {
            async_io::Timer::after(duration).await;
        })
    }

    /// Returns `true` if the current thread is one of the threads that run this runtime's
    /// tasks, where blocking on the runtime would keep it from running them.
    ///
    /// A thread that merely has the runtime's context, without running its tasks (tokio's
    /// blocking pool, a thread inside `Handle::enter`), is not one: the runtime serves its
    /// calls like any other, with its pools. The bridge also counts, on its own, every thread
    /// that has run one of its steps, so an adapter that cannot tell its threads from others
    /// may report only those it knows; the default reports none. Override it if the runtime's
    /// threads run other tasks too (ones the bridged futures spawn), which could call the
    /// bridge before they ever run a step ([`kit::ThreadMark`](crate::kit::ThreadMark) does it
    /// in two lines).
    fn is_runtime_thread(&self) -> bool {
        false
    }

    /// Runs `future` to completion on the current thread, inside a one-off runtime context of
    /// this adapter's kind (timers and IO work as they would on the runtime), and returns when
    /// it completes.
    ///
    /// The bridge calls this on a fresh thread of its own to serve a nested call, one made
    /// from a thread of this runtime, which cannot wait for the runtime without blocking it on
    /// itself. Returns an error if the one-off context cannot be created. The default runs the
    /// future with async-io's `block_on`, enough for futures that need no runtime of their own.
    fn block_on_one_off(&self, future: BoxFuture) -> io::Result<()> {
        async_io::block_on(future);
        Ok(())
    }

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

    /// Runs `f` on the calling thread inside this runtime's context, for a caller that polls
    /// a bridged future itself ([`Drive::Caller`](crate::Drive::Caller)): whatever the future
    /// does on its first poll and after (a spawn, a timer, a socket) must reach this runtime
    /// from that thread. Returns whether `f` ran.
    ///
    /// `f` polls the future, parks the thread between polls and drops the future, all before
    /// it returns; the runtime's own threads keep driving its reactor and timers meanwhile,
    /// and wake the caller. On tokio that context is the runtime's handle, entered; a runtime
    /// whose futures need no context of their own (smol's async-io) runs `f` as it is.
    ///
    /// Declining (returning `false` without running `f`) sends the call the runtime-driven way
    /// ([`Drive::Runtime`](crate::Drive::Runtime)), through [`spawn`](BridgeRuntime::spawn).
    /// Decline once the runtime is stopping: the call then finds it dead there, and moves to a
    /// fresh runtime. The default always declines; override it only if every future that works
    /// on the runtime's threads works on a caller's thread in this context.
    ///
    /// ```
    /// use loopbridge::{BridgeRuntime, SmolRuntime};
    ///
    /// let runtime = SmolRuntime::start()?;
    /// let mut ran = false;
    /// assert!(runtime.enter(&mut || ran = true));
    /// assert!(ran);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    fn enter(&self, f: &mut dyn FnMut()) -> bool {
        let _ = f;
        false
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
            fn enter(&self, f: &mut dyn FnMut()) -> bool {
                (**self).enter(f)
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
