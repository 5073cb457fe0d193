//! The owned current_thread flavour: a tokio current_thread runtime built, run and dropped on
//! a driver thread of its own, which runs the calls' steps from a queue of its own (no tokio
//! task, and no allocation, per step), stays hot for a short window after each step, and runs
//! a `LocalSet` beside the runtime for futures that are not `Send`.

use std::{
    collections::VecDeque,
    fmt,
    future::{Future, poll_fn},
    pin::pin,
    sync::{Arc, Mutex, PoisonError},
    task::Poll,
};

use loopbridge::{Job, LocalJob, kit::HotWindow};
use tokio::{
    runtime::Runtime,
    sync::{Notify, mpsc, oneshot},
    task::LocalSet,
};

use crate::driver::Driver;

pub(crate) struct CurrentThread {
    pub(crate) driver: Driver,
    steps: Arc<Steps>,
    /// Local jobs for the driver thread's `LocalSet`.
    local_jobs: mpsc::UnboundedSender<LocalJob>,
}

/// The steps handed to the runtime: its driver runs them itself, from this queue.
#[derive(Default)]
struct Steps {
    queue: Mutex<Queue>,
    /// Notified after each push: wakes the driver when it is not hot.
    arrived: Notify,
}

#[derive(Default)]
struct Queue {
    steps: VecDeque<Job>,
    /// Set by the driver once it has stopped: later steps are refused.
    closed: bool,
}

impl Steps {
    fn pop(&self) -> Option<Job> {
        self.lock().steps.pop_front()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Refuses further steps and drops the queued ones (on the driver thread).
    fn close(&self) {
        let steps = {
            let mut queue = self.lock();
            queue.closed = true;
            std::mem::take(&mut queue.steps)
        };
        drop(steps);
    }
}

/// What a current_thread driver shares with its handle, made before the runtime is built.
pub(crate) struct Parts {
    steps: Arc<Steps>,
    local_jobs: mpsc::UnboundedSender<LocalJob>,
}

/// The driver's side of [`Parts`].
pub(crate) struct DriverParts {
    steps: Arc<Steps>,
    local_incoming: mpsc::UnboundedReceiver<LocalJob>,
}

/// The two sides of a current_thread driver's queues.
pub(crate) fn parts() -> (Parts, DriverParts) {
    let steps = Arc::new(Steps::default());
    let (local_jobs, local_incoming) = mpsc::unbounded_channel::<LocalJob>();
    let driver = DriverParts {
        steps: steps.clone(),
        local_incoming,
    };
    (Parts { steps, local_jobs }, driver)
}

/// The driver thread's work once it has built `runtime`: runs it, with a `LocalSet` beside
/// it, until `stopped` resolves; then drops what it holds inside the runtime's context.
pub(crate) fn run(runtime: Runtime, stopped: oneshot::Receiver<()>, parts: DriverParts) {
    let DriverParts {
        steps,
        mut local_incoming,
    } = parts;
    let local = LocalSet::new();
    local.spawn_local(async move {
        while let Some(job) = local_incoming.recv().await {
            tokio::task::spawn_local(job.into_future());
        }
    });
    local.block_on(&runtime, drive(stopped, steps.clone()));
    // Steps still queued and local tasks still pending are dropped here, on their thread, and
    // inside the runtime's context: their `Drop` may need it (`Handle::current`, a spawn of a
    // cleanup task).
    let context = runtime.enter();
    steps.close();
    drop(local);
    drop(context);
    // Dropped here, never on a caller's thread: pending tasks are dropped on the runtime.
    drop(runtime);
}

impl CurrentThread {
    /// The handle's side of a driver that runs a current_thread runtime (see [`run`]).
    pub(crate) fn new(driver: Driver, parts: Parts) -> CurrentThread {
        CurrentThread {
            driver,
            steps: parts.steps,
            local_jobs: parts.local_jobs,
        }
    }

    /// Queues a step for the driver.
    pub(crate) fn spawn(&self, job: Job) -> Result<(), Job> {
        if self.driver.is_stopping() {
            return Err(job);
        }
        {
            let mut queue = self.steps.lock();
            if queue.closed {
                return Err(job);
            }
            queue.steps.push_back(job);
        }
        self.steps.arrived.notify_one();
        Ok(())
    }

    pub(crate) fn spawn_local(&self, job: LocalJob) -> Result<(), LocalJob> {
        if self.driver.is_stopping() {
            return Err(job);
        }
        self.local_jobs.send(job).map_err(|err| err.0)?;
        // The driver yields to the `LocalSet` while it is hot.
        self.steps.arrived.notify_one();
        Ok(())
    }
}

/// The driver's `block_on` future: until `stop` resolves, runs the queued steps, then keeps
/// yielding to the scheduler (which runs the tasks, and polls IO without blocking) for a
/// short window after the last step, so that the next step is picked up without waking a
/// parked thread; then it waits for the next step.
async fn drive(stop: oneshot::Receiver<()>, steps: Arc<Steps>) {
    let mut stop = pin!(stop);
    let mut window = HotWindow::new();
    loop {
        while let Some(step) = steps.pop() {
            window.worked();
            step.run();
        }
        let hot = window.keep_looking();
        let arrived = steps.arrived.notified();
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
        }
    }
}

impl fmt::Debug for CurrentThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CurrentThread")
            .field("driver", &self.driver)
            .finish()
    }
}
