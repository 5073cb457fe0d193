//! The hot pump of the flavours whose steps are tokio tasks (multi_thread and `from_handle`).
//!
//! A step spawned from outside the runtime lands on its inject queue and unparks a worker:
//! tens of microseconds on a small VM, for every step. So after a step task has run its step,
//! it stays on as the *pump* for a short window (a [`HotWindow`]): it looks at a queue of its
//! own, and a step that arrives meanwhile is pushed there and run by the pump, with no task
//! spawned and no worker woken. When the window ends, or stops paying, the pump task ends and
//! gives its worker back.
//!
//! - At most one pump exists at a time, and it is *hot* (takes pushes) only while it looks, in
//!   bursts of [`HotWindow::BETWEEN_TURNS`]: while it runs a step, or yields to let its worker
//!   turn, new steps are spawned as tasks as before. So a step that blocks never holds up the
//!   others (other workers run them meanwhile), even one that blocks the pump's own worker
//!   while the pump waits there to be polled again.
//! - No step is stranded. The pump stops being hot before its last look at the queue; a
//!   submitter pushes before it checks that the pump is still hot, and if not, takes one step
//!   back out (its own or another late one) and spawns it as a task. Both sides order their
//!   two operations with `SeqCst`, so at least one of them sees the other's: every step pushed
//!   after the pump's last look is taken back by its submitter.

use std::{
    collections::VecDeque,
    fmt,
    sync::{
        Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use loopbridge::{Job, kit::HotWindow};

/// The pump's queue and state, shared by the submitters and the pump task.
#[derive(Default)]
pub(crate) struct Pump {
    queue: Mutex<VecDeque<Job>>,
    /// Steps in `queue`, for the pump's looks (which take no lock).
    queued: AtomicUsize,
    /// The pump is looking at `queue`: a step pushed there will be run.
    hot: AtomicBool,
    /// A pump exists (looking, or running a step it found).
    pumping: AtomicBool,
    /// The runtime is stopping: the pump drops what is queued and ends.
    stopping: AtomicBool,
    /// Whether looking pays, learned across the pumps (only the one pump locks it).
    window: Mutex<HotWindow>,
}

impl Pump {
    /// Hands `job` to the pump if one is looking; otherwise (or if it stopped looking
    /// meanwhile) gives a step back, to be spawned as a task.
    pub(crate) fn offer(&self, job: Job) -> Result<(), Job> {
        if !self.hot.load(Ordering::SeqCst) || self.stopping.load(Ordering::Acquire) {
            return Err(job);
        }
        self.lock().push_back(job);
        self.queued.fetch_add(1, Ordering::SeqCst);
        if self.hot.load(Ordering::SeqCst) {
            return Ok(());
        }
        // The pump may have made its last look before the push: take a step back (none if
        // the pump got them all).
        self.pop().map_or(Ok(()), Err)
    }

    /// Tells the pump to drop what is queued and end; later steps are not taken.
    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// After a step task has run its step: becomes the pump, unless there is one already.
    /// Returns when the window ends (or the runtime stops), giving the worker back.
    pub(crate) async fn take_turn(&self) {
        if self
            .pumping
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let mut turn = Turn {
            pump: self,
            over: false,
        };
        let mut window = self
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        window.worked();
        while !self.stopping() {
            // Hot only while it looks, in one short burst: never while it runs a step, and
            // never while it yields, when a step blocking its worker could strand it.
            self.hot.store(true, Ordering::SeqCst);
            let looked = window.look(|| self.queued.load(Ordering::Relaxed) > 0);
            self.hot.store(false, Ordering::SeqCst);
            // The burst's last look, after which every push is taken back by its submitter.
            match self.pop() {
                Some(job) => {
                    window.worked();
                    job.run();
                }
                None if looked.is_none() => {
                    // The window has passed, or looking does not pay.
                    turn.over = true;
                    break;
                }
                // Let the worker turn: other tasks, IO and timers.
                None => tokio::task::yield_now().await,
            }
        }
        *self.window.lock().unwrap_or_else(PoisonError::into_inner) = window;
        drop(turn);
    }

    fn pop(&self) -> Option<Job> {
        if self.queued.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let job = self.lock().pop_front();
        if job.is_some() {
            self.queued.fetch_sub(1, Ordering::SeqCst);
        }
        job
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<Job>> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pump's turn. When it ends, even by the task being dropped (the runtime shutting down),
/// the pump stops being hot, and unless it ended because the window did (`over`: the queue
/// was empty at the last look, and late pushes are their submitters' to take back), the steps
/// it had not run are dropped here, on the runtime, which cancels their calls.
struct Turn<'a> {
    pump: &'a Pump,
    over: bool,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let pump = self.pump;
        pump.hot.store(false, Ordering::SeqCst);
        if !self.over {
            while let Some(job) = pump.pop() {
                drop(job);
            }
        }
        pump.pumping.store(false, Ordering::SeqCst);
    }
}

impl fmt::Debug for Pump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pump")
            .field("queued", &self.queued.load(Ordering::Relaxed))
            .field("hot", &self.hot.load(Ordering::Relaxed))
            .field("pumping", &self.pumping.load(Ordering::Relaxed))
            .finish()
    }
}
