//! The owned current_thread flavour: a tokio current_thread runtime built, run and dropped on
//! a driver thread of its own, which runs the calls' steps from a queue of its own (no tokio
//! task, and no allocation, per step), stays hot for a short window after each step, and runs
//! a `LocalSet` beside the runtime for futures that are not `Send`.

use std::{
    collections::VecDeque,
    fmt,
    future::{Future, poll_fn},
    io,
    pin::pin,
    sync::{Arc, Mutex, PoisonError},
    task::Poll,
};

use loopbridge::{
    Job, LocalJob,
    kit::{HotWindow, ThreadMark},
};
use tokio::{
    runtime::{Builder, Handle},
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

impl CurrentThread {
    /// Starts the driver thread, marked with `mark`; returns once the runtime is up, or with
    /// the error that kept it from coming up (the thread has then been joined).
    pub(crate) fn start(mark: ThreadMark) -> io::Result<(CurrentThread, Handle)> {
        let steps = Arc::new(Steps::default());
        let driver_steps = steps.clone();
        let (local_jobs, mut local_incoming) = mpsc::unbounded_channel::<LocalJob>();
        let (driver, handle) = Driver::start(move |stopped, ready| {
            mark.mark_current_thread();
            let runtime = match Builder::new_current_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(err) => return drop(ready.send(Err(err))),
            };
            let _ = ready.send(Ok(runtime.handle().clone()));
            let local = LocalSet::new();
            local.spawn_local(async move {
                while let Some(job) = local_incoming.recv().await {
                    tokio::task::spawn_local(job.into_future());
                }
            });
            local.block_on(&runtime, drive(stopped, driver_steps.clone()));
            // Steps still queued and local tasks still pending are dropped here, on their
            // thread, and inside the runtime's context: their `Drop` may need it
            // (`Handle::current`, a spawn of a cleanup task).
            let context = runtime.enter();
            driver_steps.close();
            drop(local);
            drop(context);
            // Dropped here, never on a caller's thread: pending tasks are dropped on the
            // runtime.
            drop(runtime);
        })?;
        Ok((
            CurrentThread {
                driver,
                steps,
                local_jobs,
            },
            handle,
        ))
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
