//! The owned multi_thread flavour: a tokio multi_thread runtime built, run and dropped on a
//! driver thread of its own; each step is a tokio task.

use std::{
    fmt, io,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::Instant,
};

use loopbridge::{
    Job,
    kit::{ThreadMark, Threads},
};
use tokio::{
    runtime::{Builder, Handle},
    sync::oneshot,
};

pub(crate) struct MultiThread {
    stopping: AtomicBool,
    /// Dropping the sender ends the driver thread's `block_on`.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    driver: Threads,
}

impl MultiThread {
    /// Starts a driver thread named `loopbridge-tokio` that builds the runtime (its `workers`
    /// named `loopbridge-tokio-w`, marked with `mark`), runs it until stopped, and drops it.
    pub(crate) fn start(workers: usize, mark: ThreadMark) -> io::Result<(MultiThread, Handle)> {
        let (stop, stopped) = oneshot::channel::<()>();
        let driver = Threads::new();
        let handle = driver.spawn_ready(
            thread::Builder::new().name("loopbridge-tokio".into()),
            move |ready| {
                let runtime = Builder::new_multi_thread()
                    .worker_threads(workers)
                    .thread_name("loopbridge-tokio-w")
                    // Only workers park and unpark, never the blocking pool's threads: a
                    // worker marks itself the first time it does (and the bridge marks every
                    // thread that runs one of its steps).
                    .on_thread_park(move || mark.mark_current_thread())
                    .on_thread_unpark(move || mark.mark_current_thread())
                    .enable_all()
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(err) => return drop(ready.send(Err(err))),
                };
                let _ = ready.send(Ok(runtime.handle().clone()));
                let _ = runtime.block_on(stopped);
                // Dropped here, never on a caller's thread: pending tasks are dropped on the
                // runtime, and a worker stuck in a task is waited for here, not by a caller.
                drop(runtime);
            },
        )?;
        Ok((
            MultiThread {
                stopping: AtomicBool::new(false),
                stop: Mutex::new(Some(stop)),
                driver,
            },
            handle,
        ))
    }

    /// Hands a step to the runtime as a task.
    pub(crate) fn spawn(&self, handle: &Handle, job: Job) -> Result<(), Job> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(job);
        }
        drop(handle.spawn(job));
        Ok(())
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

    /// Waits until the driver thread has exited (its runtime dropped), or until `deadline`.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        self.driver.join(deadline)
    }
}

impl fmt::Debug for MultiThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiThread")
            .field("stopping", &self.stopping.load(Ordering::Relaxed))
            .field("driver", &self.driver)
            .finish()
    }
}
