//! [`ModelRuntime`], the smallest honest adapter, and the bridges the models run on.

use std::{collections::VecDeque, io};

use crate::{
    runtime::{BoxFuture, BridgeRuntime},
    sync::{Condvar, wait_on},
};

use std::time::Duration;

use crate::{
    Bridge,
    job::Job,
    sync::{
        Arc, Mutex, lock,
        thread::{self, JoinHandle, ThreadId},
    },
};

use super::support::*;

/// A runtime of one loom thread that runs queued jobs in order. Like the real adapters, its
/// `shutdown` with a zero grace only tells the thread to stop, so the thread may outlive the
/// shutdown, the retirement or the bridge; the model joins it at its end.
pub(super) struct ModelRuntime {
    pub(super) shared: Arc<Shared>,
    pub(super) worker_id: ThreadId,
    pub(super) dropped: Count,
    /// Refuses every job, as a runtime whose threads died does.
    pub(super) refusing: bool,
}

pub(super) struct Shared {
    pub(super) queue: Mutex<Queue>,
    /// Signals both new jobs (or the stop) to the thread and its exit to `shutdown`.
    pub(super) changed: Condvar,
    pub(super) exits: Count,
}

pub(super) struct Queue {
    pub(super) jobs: VecDeque<Job>,
    pub(super) stopping: bool,
    pub(super) exited: bool,
    /// A wedged runtime takes jobs here and never runs them, as if its thread were stuck;
    /// they are dropped only with the runtime itself.
    pub(super) wedged: Option<Vec<Job>>,
}

/// How a model runtime treats the jobs it is given.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Works,
    /// Takes jobs and never runs them (see [`Queue::wedged`]).
    Wedged,
    /// Refuses every job.
    Refusing,
}

impl ModelRuntime {
    pub(super) fn start(counts: &RuntimeCounts, mode: Mode) -> ModelRuntime {
        let wedged = mode == Mode::Wedged;
        counts.started.bump();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                stopping: false,
                exited: false,
                wedged: wedged.then(Vec::new),
            }),
            changed: Condvar::new(),
            exits: counts.exits.clone(),
        });
        let worker_shared = shared.clone();
        let worker = thread::spawn(move || worker_shared.serve());
        let worker_id = worker.thread().id();
        counts.threads.lock().unwrap().push(worker);
        ModelRuntime {
            worker_id,
            shared,
            dropped: counts.dropped.clone(),
            refusing: mode == Mode::Refusing,
        }
    }
}

impl Shared {
    pub(super) fn serve(&self) {
        loop {
            let mut queue = lock(&self.queue);
            let job = loop {
                if queue.stopping {
                    break None;
                }
                if let Some(job) = queue.jobs.pop_front() {
                    break Some(job);
                }
                queue = wait_on(&self.changed, queue);
            };
            match job {
                Some(job) => {
                    drop(queue);
                    job.run();
                }
                None => {
                    // Queued steps are dropped here, on the runtime's thread: that cancels
                    // their calls.
                    let rest = std::mem::take(&mut queue.jobs);
                    drop(queue);
                    drop(rest);
                    break;
                }
            }
        }
        self.exits.bump();
        lock(&self.queue).exited = true;
        self.changed.notify_all();
    }
}

impl BridgeRuntime for ModelRuntime {
    fn spawn(&self, job: Job) -> Result<(), Job> {
        if self.refusing {
            return Err(job);
        }
        let mut queue = lock(&self.shared.queue);
        if queue.stopping {
            return Err(job);
        }
        if let Some(held) = &mut queue.wedged {
            held.push(job);
            return Ok(());
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.shared.changed.notify_all();
        Ok(())
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture {
        Box::pin(std::future::pending())
    }

    fn is_runtime_thread(&self) -> bool {
        thread::current().id() == self.worker_id
    }

    fn block_on_one_off(&self, _future: BoxFuture) -> io::Result<()> {
        Err(io::Error::other("nested calls are not modelled"))
    }

    fn enter(&self, f: &mut dyn FnMut()) -> bool {
        f();
        true
    }

    fn shutdown(&self, grace: Duration) -> bool {
        let mut queue = lock(&self.shared.queue);
        queue.stopping = true;
        self.shared.changed.notify_all();
        if self.is_runtime_thread() {
            return false;
        }
        // A zero grace only tells the thread to stop; otherwise wait for it (the model has no
        // clock, so any other grace waits for as long as it takes).
        if grace.is_zero() {
            return queue.exited;
        }
        while !queue.exited {
            queue = wait_on(&self.shared.changed, queue);
        }
        true
    }
}

impl Drop for ModelRuntime {
    fn drop(&mut self) {
        self.dropped.bump();
    }
}

impl std::fmt::Debug for ModelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRuntime").finish_non_exhaustive()
    }
}

/// How many runtimes a model's factory started, how many were dropped, how many threads
/// exited.
#[derive(Clone, Default)]
pub(super) struct RuntimeCounts {
    pub(super) started: Count,
    pub(super) dropped: Count,
    pub(super) exits: Count,
    /// Every runtime's thread, for the model to join at its end.
    pub(super) threads: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl RuntimeCounts {
    pub(super) fn bridge(&self) -> Bridge {
        let counts = self.clone();
        Bridge::with_runtime(move || Ok(ModelRuntime::start(&counts, Mode::Works)))
    }

    /// A bridge whose calls are polled by their callers (`Drive::Caller`).
    pub(super) fn bridge_caller_driven(&self) -> Bridge {
        let counts = self.clone();
        Bridge::builder()
            .drive(crate::Drive::Caller)
            .runtime(move || Ok(ModelRuntime::start(&counts, Mode::Works)))
            .build()
    }

    /// A bridge whose first runtime is wedged (see [`Queue::wedged`]); the ones after it work.
    pub(super) fn bridge_wedged_first(&self) -> Bridge {
        self.bridge_first(Mode::Wedged)
    }

    /// A bridge whose first runtime refuses every job; the ones after it work.
    pub(super) fn bridge_refusing_first(&self) -> Bridge {
        self.bridge_first(Mode::Refusing)
    }

    pub(super) fn bridge_first(&self, first: Mode) -> Bridge {
        let counts = self.clone();
        Bridge::with_runtime(move || {
            let mode = match counts.started.get() {
                0 => first,
                _ => Mode::Works,
            };
            Ok(ModelRuntime::start(&counts, mode))
        })
    }

    /// Every runtime started was torn down exactly once: its thread exited and it was freed.
    /// Joins the runtimes' threads first: a thread told to stop with a zero grace may still
    /// be on its way out.
    pub(super) fn assert_torn_down(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap());
        for thread in threads {
            thread.join().expect("a model runtime's thread panicked");
        }
        let started = self.started.get();
        assert_eq!(self.exits.get(), started, "runtime threads exited");
        assert_eq!(self.dropped.get(), started, "runtimes freed");
    }
}

/// Runs `body` as a model, on a started bridge over a [`ModelRuntime`]; then drops the bridge
/// and checks that every runtime was torn down exactly once (joining their threads first: one
/// told to stop with a zero grace may still hold a value) and every future and value made
/// with the ledger was dropped exactly once.
pub(super) fn with_bridge(body: impl Fn(&Bridge, &Ledger, &RuntimeCounts) + Send + Sync + 'static) {
    model_bridge(RuntimeCounts::bridge, body);
}

/// [`with_bridge`], on the bridge `make` builds.
pub(super) fn model_bridge(
    make: fn(&RuntimeCounts) -> Bridge,
    body: impl Fn(&Bridge, &Ledger, &RuntimeCounts) + Send + Sync + 'static,
) {
    loom::model(move || {
        let counts = RuntimeCounts::default();
        let ledger = Ledger::default();
        let bridge = make(&counts);
        bridge.start().unwrap();
        body(&bridge, &ledger, &counts);
        drop(bridge);
        counts.assert_torn_down();
        ledger.assert_balanced();
    });
}
