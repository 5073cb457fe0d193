//! The owned multi_thread flavour: a tokio multi_thread runtime built, run and dropped on a
//! driver thread of its own; each step is a tokio task, or runs on the hot pump (`pump.rs`).

use std::{fmt, sync::Arc};

use loopbridge::Job;
use tokio::{
    runtime::{Handle, Runtime},
    sync::oneshot,
};

use crate::{driver::Driver, pump::Pump};

pub(crate) struct MultiThread {
    pub(crate) driver: Driver,
    pump: Arc<Pump>,
}

/// The driver thread's work once it has built `runtime`: runs it until `stopped` resolves.
pub(crate) fn run(runtime: Runtime, stopped: oneshot::Receiver<()>) {
    let _ = runtime.block_on(stopped);
    // Dropped here, never on a caller's thread: pending tasks are dropped on the runtime, and
    // a worker stuck in a task is waited for here, not by a caller.
    drop(runtime);
}

impl MultiThread {
    /// The handle's side of a driver that runs a multi_thread runtime (see [`run`]).
    pub(crate) fn new(driver: Driver) -> MultiThread {
        MultiThread {
            driver,
            pump: Arc::default(),
        }
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
