//! The `from_handle` flavour: the bridge's tasks on a runtime the application owns, counted so
//! that retirement and shutdown stop them, and only them.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::Poll,
    time::Instant,
};

use loopbridge::{Job, kit::ExitLatch};
use tokio::{runtime::Handle, sync::Notify};

use crate::pump::Pump;

#[derive(Debug, Default)]
pub(crate) struct Attached {
    stopping: AtomicBool,
    stop: Notify,
    /// The bridge's tasks alive on the application's runtime (the pump's among them).
    live: ExitLatch,
    /// Takes steps while one of the bridge's tasks looks for them, for a short window after
    /// a step: then it gives the application's worker back.
    pump: Pump,
}

impl Attached {
    pub(crate) fn spawn(self: &Arc<Self>, handle: &Handle, job: Job) -> Result<(), Job> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(job);
        }
        let Err(job) = self.pump.offer(job) else {
            return Ok(());
        };
        let live = self.live.enter();
        let this = self.clone();
        drop(handle.spawn(async move {
            let _live = live;
            // Created before the flag is read: `notify_waiters` reaches it from here on.
            let mut stopped = pin!(this.stop.notified());
            let mut job = job;
            poll_fn(|cx| {
                if this.stopping.load(Ordering::Acquire) {
                    return Poll::Ready(());
                }
                if Pin::new(&mut job).poll(cx).is_ready() {
                    return Poll::Ready(());
                }
                stopped.as_mut().poll(cx)
            })
            .await;
            // Dropping an unfinished job tells its caller it was cancelled.
            this.pump.take_turn().await;
        }));
        Ok(())
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.pump.stop();
        self.stop.notify_waiters();
    }

    /// Waits until none of the bridge's tasks is alive, or until `deadline`.
    pub(crate) fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        self.live.wait(deadline)
    }

    pub(crate) fn live(&self) -> usize {
        self.live.live()
    }
}
