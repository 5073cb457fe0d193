//! The owned flavours: a tokio runtime built, run and dropped on a driver thread of its own.

use std::{
    collections::VecDeque,
    fmt,
    future::{Future, poll_fn},
    io,
    pin::pin,
    sync::{
        Arc, Condvar, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    task::Poll,
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use loopbridge::{Job, LocalJob};
use tokio::{
    runtime::{Handle, Runtime},
    sync::{Notify, mpsc as mpsc_tokio, oneshot},
    task::LocalSet,
};

pub(crate) struct Owned {
    stopping: AtomicBool,
    /// Jobs handed to a current_thread runtime, so that its driver stays hot after activity.
    activity: Option<Arc<Activity>>,
    /// Local jobs for the driver thread's `LocalSet` (current_thread only).
    local_jobs: Option<mpsc_tokio::UnboundedSender<LocalJob>>,
    /// Dropping the sender ends the driver thread's `block_on`.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    exit: Arc<Exit>,
    driver: Mutex<Option<JoinHandle<()>>>,
}

/// How long a current_thread driver keeps its runtime hot after the last job arrived, before
/// it lets tokio park: about twice the cost of waking a parked thread.
const HOT: Duration = Duration::from_micros(50);

/// The steps handed to a current_thread runtime: its driver runs them itself, from this queue,
/// instead of spawning a tokio task for each (one allocation fewer per step).
#[derive(Default)]
pub(crate) struct Activity {
    jobs: AtomicU64,
    arrived: Notify,
    queue: Mutex<Queue>,
}

#[derive(Default)]
struct Queue {
    steps: VecDeque<Job>,
    /// Set by the driver once it has stopped: later steps are refused.
    closed: bool,
}

impl Activity {
    fn pop(&self) -> Option<Job> {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .steps
            .pop_front()
    }

    /// Refuses further steps and drops the queued ones, on the driver thread.
    fn close(&self) {
        let steps = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.closed = true;
            std::mem::take(&mut queue.steps)
        };
        drop(steps);
    }
}

/// The driver's `block_on` future on a current_thread runtime: until `stop` resolves, it keeps
/// yielding to the scheduler (which runs the tasks, and polls IO without blocking) for a short
/// window after each job arrives, so that the next job is picked up without waking a parked
/// thread; then it waits for the next job.
async fn drive(stop: oneshot::Receiver<()>, activity: Arc<Activity>) {
    let mut stop = pin!(stop);
    let mut seen = activity.jobs.load(Ordering::Relaxed);
    let mut last_job = Instant::now();
    loop {
        while let Some(step) = activity.pop() {
            step.run();
        }
        let jobs = activity.jobs.load(Ordering::Relaxed);
        if jobs != seen {
            seen = jobs;
            last_job = Instant::now();
        }
        let hot = last_job.elapsed() < HOT;
        let arrived = activity.arrived.notified();
        let mut arrived = pin!(arrived);
        let stopped = poll_fn(|cx| {
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            if hot || arrived.as_mut().poll(cx).is_ready() {
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await;
        if stopped {
            return;
        }
        if hot {
            tokio::task::yield_now().await;
        } else {
            last_job = Instant::now();
        }
    }
}

/// Set by the driver thread as its very last act, after its runtime has been dropped.
#[derive(Default)]
struct Exit {
    done: Mutex<bool>,
    cond: Condvar,
}

struct OnExit(Arc<Exit>);

impl Drop for OnExit {
    fn drop(&mut self) {
        *self.0.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.0.cond.notify_all();
    }
}

impl Owned {
    /// Starts a driver thread that builds a runtime with `build`, runs it until stopped, then
    /// drops it on the same thread. Returns once the runtime is up, or with the error that
    /// kept it from coming up (the driver thread has then been joined).
    ///
    /// With `current_thread` (the runtime's mark, see `mark_worker`), the runtime runs its
    /// tasks on the driver thread, which marks itself and runs a `LocalSet` beside the runtime
    /// for local jobs; only such a runtime can.
    pub(crate) fn start<B>(build: B, current_thread: Option<u64>) -> io::Result<(Owned, Handle)>
    where
        B: FnOnce() -> io::Result<Runtime> + Send + 'static,
    {
        let local = current_thread.is_some();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<Handle>>();
        let activity = local.then(|| Arc::new(Activity::default()));
        let driver_activity = activity.clone();
        let (local_jobs, local_incoming) = match local {
            true => {
                let (tx, rx) = mpsc_tokio::unbounded_channel::<LocalJob>();
                (Some(tx), Some(rx))
            }
            false => (None, None),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let exit = Arc::new(Exit::default());
        let on_exit = OnExit(exit.clone());
        let driver = thread::Builder::new()
            .name("loopbridge-tokio".into())
            .spawn(move || {
                let _on_exit = on_exit;
                let runtime = match build() {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(runtime.handle().clone()));
                // Runs the tasks (current_thread) or just waits (multi_thread) until stopped.
                match local_incoming {
                    Some(mut incoming) => {
                        if let Some(id) = current_thread {
                            crate::mark_worker(id);
                        }
                        let local = LocalSet::new();
                        local.spawn_local(async move {
                            while let Some(job) = incoming.recv().await {
                                tokio::task::spawn_local(job.into_future());
                            }
                        });
                        let activity = driver_activity.expect("a current_thread runtime");
                        local.block_on(&runtime, drive(stop_rx, activity.clone()));
                        // Steps still queued and local tasks still pending are dropped here,
                        // on their thread, and inside the runtime's context: their `Drop`
                        // may need it (`Handle::current`, a spawn of a cleanup task).
                        let context = runtime.enter();
                        activity.close();
                        drop(local);
                        drop(context);
                    }
                    None => {
                        let _ = runtime.block_on(stop_rx);
                    }
                }
                // Dropped here, never on a caller's thread: pending tasks are dropped on the
                // runtime, and a worker stuck in a task is waited for here, not by a caller.
                drop(runtime);
            })?;
        match ready_rx.recv() {
            Ok(Ok(handle)) => Ok((
                Owned {
                    stopping: AtomicBool::new(false),
                    activity,
                    local_jobs,
                    stop: Mutex::new(Some(stop_tx)),
                    exit,
                    driver: Mutex::new(Some(driver)),
                },
                handle,
            )),
            Ok(Err(err)) => {
                let _ = driver.join();
                Err(err)
            }
            Err(_) => {
                let _ = driver.join();
                Err(io::Error::other(
                    "the tokio runtime builder panicked on the driver thread",
                ))
            }
        }
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Hands a step to the runtime: a current_thread driver runs it from its queue; a
    /// multi_thread runtime gets a task for it.
    pub(crate) fn spawn(&self, handle: &Handle, job: Job) -> Result<(), Job> {
        if self.is_stopping() {
            return Err(job);
        }
        match &self.activity {
            Some(activity) => {
                {
                    let mut queue = activity
                        .queue
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if queue.closed {
                        return Err(job);
                    }
                    queue.steps.push_back(job);
                }
                self.job_arrived();
            }
            None => drop(handle.spawn(job)),
        }
        Ok(())
    }

    /// Notes that a job was handed to the runtime, so that its driver stays hot.
    pub(crate) fn job_arrived(&self) {
        if let Some(activity) = &self.activity {
            activity.jobs.fetch_add(1, Ordering::Relaxed);
            activity.arrived.notify_one();
        }
    }

    pub(crate) fn supports_local(&self) -> bool {
        self.local_jobs.is_some()
    }

    pub(crate) fn spawn_local(&self, job: LocalJob) -> Result<(), LocalJob> {
        match &self.local_jobs {
            Some(local_jobs) if !self.is_stopping() => {
                local_jobs.send(job).map_err(|err| err.0)?;
                self.job_arrived();
                Ok(())
            }
            _ => Err(job),
        }
    }

    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        drop(
            self.stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// Waits until the driver thread has exited (its runtime dropped), or until `deadline`;
    /// joins it if it did.
    pub(crate) fn wait_exit(&self, deadline: Option<Instant>) -> bool {
        if !crate::wait_until(&self.exit.done, &self.exit.cond, deadline, |done| *done) {
            return false;
        }
        if let Some(driver) = self
            .driver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = driver.join();
        }
        true
    }
}

impl fmt::Debug for Owned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owned")
            .field("stopping", &self.is_stopping())
            .field(
                "exited",
                &*self
                    .exit
                    .done
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            )
            .finish()
    }
}
