//! The runtime's threads: the queue of steps they share, and the loop each one runs.

use std::{
    panic::{self, AssertUnwindSafe},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use async_executor::LocalExecutor;
use concurrent_queue::ConcurrentQueue;
use event_listener::Event;

use crate::{
    job::{Job, LocalJob, drop_payload},
    kit::{HotWindow, ThreadMark},
};

pub(super) struct Shared {
    /// Marks the runtime's threads.
    pub(super) mark: ThreadMark,
    pub(super) threads: usize,
    /// Set first when the runtime stops: `spawn` refuses from then on, and the threads drop
    /// the steps they still find instead of running them.
    pub(super) stopping: AtomicBool,
    /// Steps of the calls' tasks, drained by every runtime thread. Bounded, so that a push
    /// allocates nothing; when it is full, steps go to `overflow`. Closing it is what stops
    /// the threads: each one leaves once it finds it closed and empty (see [`next_step`]).
    pub(super) jobs: async_channel::Sender<Job>,
    /// Steps that found `jobs` full.
    pub(super) overflow: ConcurrentQueue<Job>,
    /// Notified after every push to `overflow`: a thread asleep on `jobs`, which stays full
    /// or empty meanwhile, would not wake for it otherwise.
    pub(super) overflowed: Event,
    /// Local jobs for the first thread's local executor.
    pub(super) local_jobs: async_channel::Sender<LocalJob>,
}

/// How many steps the queue holds before they go to the overflow queue.
pub(super) const QUEUE: usize = 4096;

/// The body of each runtime thread.
pub(super) fn run(
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
pub(super) async fn serve(jobs: &async_channel::Receiver<Job>, shared: &Shared, spins: bool) {
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
pub(super) async fn next_step(jobs: &async_channel::Receiver<Job>, shared: &Shared) -> Option<Job> {
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
    pub(super) fn take(&self, job: Job) {
        if self.stopping.load(Ordering::Relaxed) {
            drop(job);
        } else {
            job.run();
        }
    }

    /// Queues a step for the threads, or hands it back if the queues are closed.
    pub(super) fn push(&self, job: Job) -> Result<(), Job> {
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            // Full means busy threads; they look at the overflow before they sleep, and a
            // sleeping one is woken for it.
            Err(async_channel::TrySendError::Full(job)) => self.push_overflow(job),
            Err(async_channel::TrySendError::Closed(job)) => Err(job),
        }
    }

    /// Queues a step that found `jobs` full, and wakes a thread that may be asleep on `jobs`.
    pub(super) fn push_overflow(&self, job: Job) -> Result<(), Job> {
        self.overflow.push(job).map_err(|err| err.into_inner())?;
        self.overflowed.notify(1);
        Ok(())
    }

    /// Tells the threads to stop. The queues close before anything else a thread could
    /// notice: a thread leaves only once it finds `jobs` closed and empty, after which
    /// nothing can be pushed, so no step is left behind in a queue nobody drains. `overflow`
    /// closes first, so that a producer that found `jobs` full cannot push there after the
    /// last look either.
    pub(super) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.overflow.close();
        self.jobs.close();
        self.local_jobs.close();
    }
}
