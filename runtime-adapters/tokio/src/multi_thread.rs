//! The owned multi_thread flavour: a tokio multi_thread runtime built, run and dropped on a
//! driver thread of its own; each step is a tokio task, or runs on the hot pump (`pump.rs`).

use std::{fmt, io, sync::Arc};

use loopbridge::{Job, kit::ThreadMark};
use tokio::runtime::{Builder, Handle};

use crate::{driver::Driver, pump::Pump};

pub(crate) struct MultiThread {
    pub(crate) driver: Driver,
    pump: Arc<Pump>,
}

impl MultiThread {
    /// Starts the driver thread, which builds the runtime (its `workers` named
    /// `loopbridge-tokio-w`, marked with `mark`), runs it until stopped, and drops it.
    pub(crate) fn start(workers: usize, mark: ThreadMark) -> io::Result<(MultiThread, Handle)> {
        let (driver, handle) = Driver::start(move |stopped, ready| {
            let runtime = Builder::new_multi_thread()
                .worker_threads(workers)
                .thread_name("loopbridge-tokio-w")
                // Only workers park and unpark, never the blocking pool's threads: a worker
                // marks itself the first time it does (and the bridge marks every thread that
                // runs one of its steps).
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
        })?;
        let pump = Arc::default();
        Ok((MultiThread { driver, pump }, handle))
    }

    /// Hands a step to the pump if it is looking, or else to the runtime as a task, which
    /// then takes a turn as the pump.
    pub(crate) fn spawn(&self, handle: &Handle, job: Job) -> Result<(), Job> {
        if self.driver.is_stopping() {
            return Err(job);
        }
        let Err(job) = self.pump.offer(job) else {
            return Ok(());
        };
        let pump = self.pump.clone();
        drop(handle.spawn(async move {
            job.await;
            pump.take_turn().await;
        }));
        Ok(())
    }

    pub(crate) fn begin_stop(&self) {
        self.pump.stop();
        self.driver.begin_stop();
    }
}

impl fmt::Debug for MultiThread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiThread")
            .field("driver", &self.driver)
            .field("pump", &self.pump)
            .finish()
    }
}
