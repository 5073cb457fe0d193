//! The `from_handle` flavour: the bridge's tasks on a runtime the application owns, tracked so
//! that retirement and shutdown stop them, and only them.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::{
        Arc, Condvar, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    task::Poll,
    time::Instant,
};

use loopbridge::Job;
use tokio::{runtime::Handle, sync::Notify};

#[derive(Debug, Default)]
pub(crate) struct Attached {
    stopping: AtomicBool,
    stop: Notify,
    /// How many of the bridge's tasks are alive on the application's runtime.
    live: Mutex<usize>,
    idle: Condvar,
}

impl Attached {
    pub(crate) fn spawn(self: &Arc<Self>, handle: &Handle, job: Job) -> Result<(), Job> {
        if self.stopping.load(Ordering::Acquire) {
            return Err(job);
        }
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let live = Live(self.clone());
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
        }));
        Ok(())
    }

    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.stop.notify_waiters();
    }

    /// Waits until none of the bridge's tasks is alive, or until `deadline`.
    pub(crate) fn wait_idle(&self, deadline: Option<Instant>) -> bool {
        crate::wait_until(&self.live, &self.idle, deadline, |live| *live == 0)
    }

    pub(crate) fn live(&self) -> usize {
        *self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts one live task; dropped when the task ends or is dropped by its runtime.
struct Live(Arc<Attached>);

impl Drop for Live {
    fn drop(&mut self) {
        let mut live = self.0.live.lock().unwrap_or_else(PoisonError::into_inner);
        *live -= 1;
        if *live == 0 {
            self.0.idle.notify_all();
        }
    }
}
