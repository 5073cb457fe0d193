//! [`SmolRuntime`]: the runtime a bridge holds, and the [`BridgeRuntime`] methods it answers.

use std::{
    fmt,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use crate::{
    job::{Job, LocalJob},
    kit::Threads,
    runtime::BridgeRuntime,
};

use super::worker::Shared;

/// The default [`BridgeRuntime`]: one or more persistent threads named `loopbridge-smol-N`
/// that run the calls' steps ([`Job`]s) from a shared queue, each driving the [`async_io`]
/// reactor while it waits, so `async_io::Timer` and `async_io::Async` sockets work in bridged
/// futures. The first thread also runs an [`async_executor::LocalExecutor`] for futures that
/// are not `Send` ([`Bridge::call_local`](crate::Bridge::call_local)).
///
/// A `SmolRuntime` value is a handle: dropping it tells the threads to stop and does not wait
/// for them. Each thread exits once it is free, dropping on its way out the steps still queued
/// (which cancels their calls) and the local tasks it held.
///
/// # Performance
///
/// When the first thread runs out of work it keeps looking for more for about 50 µs before it
/// sleeps, and a caller spins about as long for its result before it parks (while a core is
/// free for it). Waking a parked thread costs tens of microseconds on a small VM, so
/// back-to-back calls stay near the cost of a handoff between two running threads. An idle
/// runtime burns no CPU once the window has passed. `cargo run --release --example compare`
/// measures both.
///
/// # Examples
///
/// ```
/// use loopbridge::{Bridge, SmolRuntime};
///
/// let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
/// assert_eq!(bridge.call(async { 1 })?, 1);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
pub struct SmolRuntime {
    pub(super) shared: Arc<Shared>,
    pub(super) threads: Threads,
}

impl SmolRuntime {
    /// The number of executor threads.
    ///
    /// ```
    /// assert_eq!(loopbridge::SmolRuntime::start()?.threads(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn threads(&self) -> usize {
        self.shared.threads
    }
}

impl BridgeRuntime for SmolRuntime {
    fn spawn(&self, job: Job) -> Result<(), Job> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(job);
        }
        self.shared.push(job)
    }

    fn is_runtime_thread(&self) -> bool {
        self.shared.mark.is_current_thread()
    }

    /// async-io's timers and sockets need no context: `f` runs as it is, and the runtime's
    /// threads (or async-io's own) drive the reactor that wakes it. Declines once the runtime
    /// is stopping.
    fn enter(&self, f: &mut dyn FnMut()) -> bool {
        if self.shared.stopping.load(Ordering::Relaxed) {
            return false;
        }
        f();
        true
    }

    fn supports_local(&self) -> bool {
        true
    }

    fn spawn_local(&self, job: LocalJob) -> Result<(), LocalJob> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(job);
        }
        self.shared
            .local_jobs
            .try_send(job)
            .map_err(|err| err.into_inner())
    }

    fn shutdown(&self, grace: Duration) -> bool {
        self.shared.begin_stop();
        if self.is_runtime_thread() {
            return false;
        }
        self.threads.join(Instant::now().checked_add(grace))
    }
}

impl Drop for SmolRuntime {
    fn drop(&mut self) {
        // Never joins: the last reference may be dropped on any thread, even a runtime one.
        self.shared.begin_stop();
    }
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolRuntime")
            .field("mark", &self.shared.mark)
            .field("threads", &self.threads)
            .field("stopping", &self.shared.stopping.load(Ordering::Relaxed))
            .finish()
    }
}
