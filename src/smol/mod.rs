//! [`SmolRuntime`]: the default adapter, persistent threads that drain the calls' steps and
//! drive async-io.

mod builder;

use std::{
    fmt, io,
    panic::{self, AssertUnwindSafe},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use async_executor::LocalExecutor;
use concurrent_queue::ConcurrentQueue;
use event_listener::Event;

use crate::{
    job::{Job, LocalJob, drop_payload},
    kit::{HotWindow, ThreadMark, Threads},
    runtime::BridgeRuntime,
};

pub use builder::SmolBuilder;

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
    shared: Arc<Shared>,
    threads: Threads,
}

struct Shared {
    /// Marks the runtime's threads.
    mark: ThreadMark,
    threads: usize,
    /// Set first when the runtime stops: `spawn` refuses from then on, and the threads drop
    /// the steps they still find instead of running them.
    stopping: AtomicBool,
    /// Steps of the calls' tasks, drained by every runtime thread. Bounded, so that a push
    /// allocates nothing; when it is full, steps go to `overflow`. Closing it is what stops
    /// the threads: each one leaves once it finds it closed and empty (see [`next_step`]).
    jobs: async_channel::Sender<Job>,
    /// Steps that found `jobs` full.
    overflow: ConcurrentQueue<Job>,
    /// Notified after every push to `overflow`: a thread asleep on `jobs`, which stays full
    /// or empty meanwhile, would not wake for it otherwise.
    overflowed: Event,
    /// Local jobs for the first thread's local executor.
    local_jobs: async_channel::Sender<LocalJob>,
}

impl SmolRuntime {
    /// Starts a runtime with one executor thread. This is the default runtime of
    /// [`Bridge::new`](crate::Bridge::new).
    ///
    /// # Errors
    ///
    /// The error of the thread spawn, if it failed.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::with_runtime(loopbridge::SmolRuntime::start);
    /// # drop(bridge);
    /// ```
    pub fn start() -> io::Result<SmolRuntime> {
        SmolRuntime::builder().build()
    }

    /// Starts a runtime with `threads` executor threads.
    ///
    /// # Errors
    ///
    /// An [`io::ErrorKind::InvalidInput`] error if `threads` is zero; the error of a thread
    /// spawn that failed (every thread already started is then stopped and joined).
    ///
    /// ```
    /// use loopbridge::SmolRuntime;
    ///
    /// assert_eq!(SmolRuntime::with_threads(2)?.threads(), 2);
    /// assert_eq!(SmolRuntime::with_threads(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_threads(threads: usize) -> io::Result<SmolRuntime> {
        SmolRuntime::builder().threads(threads).build()
    }

    /// A [`SmolBuilder`] with one thread and the default stack size.
    ///
    /// ```
    /// let runtime = loopbridge::SmolRuntime::builder().threads(3).build()?;
    /// assert_eq!(runtime.threads(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> SmolBuilder {
        SmolBuilder::new()
    }

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

/// How many steps the queue holds before they go to the overflow queue.
const QUEUE: usize = 4096;

/// The body of each runtime thread.
fn run(
    shared: Arc<Shared>,
    jobs: async_channel::Receiver<Job>,
    local_jobs: Option<async_channel::Receiver<LocalJob>>,
) {
    shared.mark.mark_current_thread();
    // The first thread also runs futures that are not `Send`, on an executor of its own.
    let local = LocalExecutor::new();
    let first = local_jobs.is_some();
    loop {
        let local_jobs = local_jobs.clone();
        let ran = panic::catch_unwind(AssertUnwindSafe(|| {
            let local_tasks = async {
                if let Some(local_jobs) = local_jobs {
                    while let Ok(job) = local_jobs.recv().await {
                        local.spawn(job.into_future()).detach();
                    }
                }
                futures_lite::future::pending::<()>().await
            };
            // `serve` returns once the step queues are closed and drained.
            let work = futures_lite::future::or(serve(&jobs, &shared, first), local_tasks);
            async_io::block_on(local.run(work))
        }));
        // Jobs catch their own panics; anything else that unwinds here must not end the
        // thread while the runtime is meant to run.
        let escaped = match ran {
            Ok(()) => false,
            Err(payload) => {
                drop_payload(payload);
                true
            }
        };
        if !escaped || shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        crate::context::lifecycle!(
            error,
            runtime = ?shared.mark,
            "a panic escaped a step on a smol runtime thread; the thread goes on serving"
        );
    }
    // Local tasks still pending are dropped here, on their thread.
    drop(local);
    // Whatever a panic left behind is dropped here too, on a runtime thread: that cancels
    // their calls. (Nothing arrives any more: both queues are closed.)
    while let Ok(job) = jobs.try_recv().or_else(|_| shared.overflow.pop()) {
        drop(job);
    }
}

/// Runs the calls' steps until the queues are closed and drained. The first thread, once out
/// of work, keeps looking for more for a short window before it sleeps (see `spin`): a call
/// that arrives within the window is picked up without the cost of waking a parked thread.
/// Between looks it yields to `async_io::block_on`, which processes ready IO events without
/// blocking, so IO stays as prompt as when the thread sleeps on the reactor. The other
/// threads sleep at once: an idle runtime spins on one core at most, and only briefly.
///
/// Once the runtime is stopping, the steps still found are dropped here, on a runtime thread,
/// instead of run: that cancels their calls.
async fn serve(jobs: &async_channel::Receiver<Job>, shared: &Shared, spins: bool) {
    /// While busy, how many steps run between two turns of the reactor and the local executor.
    const BATCH: u32 = 64;
    // Kept across sleeps: it learns whether looking for work pays.
    let mut window = HotWindow::new();
    loop {
        if spins {
            let mut batch = 0;
            loop {
                if let Ok(job) = jobs.try_recv().or_else(|_| shared.overflow.pop()) {
                    shared.take(job);
                    window.worked();
                    batch += 1;
                    if batch < BATCH {
                        continue;
                    }
                } else if shared.stopping.load(Ordering::Relaxed) {
                    break;
                } else {
                    match window.look(|| !jobs.is_empty() || !shared.overflow.is_empty()) {
                        // The window has passed: sleep.
                        None => break,
                        // A step arrived while looking: run it before the reactor's turn.
                        Some(true) => continue,
                        Some(false) => {}
                    }
                }
                batch = 0;
                futures_lite::future::yield_now().await;
            }
        }
        match next_step(jobs, shared).await {
            Some(job) => {
                window.worked();
                shared.take(job);
            }
            None => return,
        }
    }
}

/// Waits for the next step, from either queue; `None` once both are closed and empty.
///
/// No push is missed while the thread sleeps: a push to `jobs` wakes its receivers, and a
/// push to `overflow` is followed by a notification of `overflowed`, for which the thread
/// registers before it looks at `overflow` the last time. And no push outlives the last
/// look: `overflow` is closed before `jobs` (see [`Shared::begin_stop`]), so once `jobs`
/// reports closed, `overflow` holds all it will ever hold.
async fn next_step(jobs: &async_channel::Receiver<Job>, shared: &Shared) -> Option<Job> {
    loop {
        if let Ok(job) = shared.overflow.pop() {
            return Some(job);
        }
        event_listener::listener!(shared.overflowed => overflowed);
        if let Ok(job) = shared.overflow.pop() {
            return Some(job);
        }
        let received = futures_lite::future::or(async { Some(jobs.recv().await) }, async {
            overflowed.await;
            None
        })
        .await;
        match received {
            Some(Ok(job)) => return Some(job),
            Some(Err(_closed)) => return shared.overflow.pop().ok(),
            // Something went to `overflow`: look again.
            None => {}
        }
    }
}

impl Shared {
    /// Runs a step, or drops it once the runtime is stopping: either way on a runtime thread.
    fn take(&self, job: Job) {
        if self.stopping.load(Ordering::Relaxed) {
            drop(job);
        } else {
            job.run();
        }
    }

    /// Queues a step for the threads, or hands it back if the queues are closed.
    fn push(&self, job: Job) -> Result<(), Job> {
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            // Full means busy threads; they look at the overflow before they sleep, and a
            // sleeping one is woken for it.
            Err(async_channel::TrySendError::Full(job)) => self.push_overflow(job),
            Err(async_channel::TrySendError::Closed(job)) => Err(job),
        }
    }

    /// Queues a step that found `jobs` full, and wakes a thread that may be asleep on `jobs`.
    fn push_overflow(&self, job: Job) -> Result<(), Job> {
        self.overflow.push(job).map_err(|err| err.into_inner())?;
        self.overflowed.notify(1);
        Ok(())
    }

    /// Tells the threads to stop. The queues close before anything else a thread could
    /// notice: a thread leaves only once it finds `jobs` closed and empty, after which
    /// nothing can be pushed, so no step is left behind in a queue nobody drains. `overflow`
    /// closes first, so that a producer that found `jobs` full cannot push there after the
    /// last look either.
    fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.overflow.close();
        self.jobs.close();
        self.local_jobs.close();
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

#[cfg(all(test, not(loopbridge_loom)))]
mod tests;
