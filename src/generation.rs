//! A runtime generation: one runtime started by the factory, the registry of the calls in
//! flight on it, the count of the steps it ran, and which threads must not block on it.
//!
//! The bridge publishes one generation at a time. A generation is *closed* exactly once, when
//! it is retired by the health check or shut down; closing fails every call still registered
//! on it (see [`Registry`]).

use std::{
    any::Any,
    cell::{Cell, RefCell},
    fmt,
    sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering},
    time::Duration,
};

use crate::{
    error::Closed,
    fork,
    job::{Job, Quiet, drop_quietly},
    registry::{Abortable, Registration, Registry},
    runtime::BridgeRuntime,
    sync::{Arc, Mutex, Weak, lock},
};

/// A value bound to a generation (see [`Generation::bind`]), type-erased.
pub(crate) type BoundValue = Arc<dyn Any + Send + Sync>;

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// The [`Generation::uid`] of the generation whose step this thread ran last: a thread that
    /// runs a generation's steps is one of its runtime's threads for good.
    static STEPS_OF: Cell<u64> = const { Cell::new(0) };
    /// The same generation, to find it from inside a step (see [`stepping`]). Changed only
    /// when the thread starts stepping another generation.
    static STEPPING: RefCell<Weak<Generation>> = const { RefCell::new(Weak::new()) };
    /// On a one-off thread serving a nested call: the id of the bridge it serves.
    static ONE_OFF_FOR: Cell<u64> = const { Cell::new(0) };
    /// On a caller driving a call itself (`Drive::Caller`): the call's generation.
    static DRIVING: RefCell<Option<Arc<Generation>>> = const { RefCell::new(None) };
}

// The same for the models: loom's `thread_local!` gives each model thread its own, and takes
// no `const` initializer.
#[cfg(loopbridge_loom)]
loom::thread_local! {
    static STEPS_OF: Cell<u64> = Cell::new(0);
    static STEPPING: RefCell<Weak<Generation>> = RefCell::new(Weak::new());
    static ONE_OFF_FOR: Cell<u64> = Cell::new(0);
    static DRIVING: RefCell<Option<Arc<Generation>>> = RefCell::new(None);
}

// Aligned so that the `Arc`'s reference counts, which every call's task touches from the
// runtime's thread, do not share a cache line with the fields every caller reads.
#[repr(align(128))]
pub(crate) struct Generation {
    /// The id of the bridge it belongs to: with `id`, what names it in the bridge's events.
    pub(crate) bridge: u64,
    /// Counts the generations of one bridge: 1 for its first runtime, 2 for the next.
    pub(crate) id: u64,
    /// The process's fork count before the runtime started (see `fork`).
    epoch: u64,
    /// [`Progress::uid`], here too: every call reads it (to tell a nested call), and the
    /// progress count's line is written by every step.
    uid: u64,
    pub(crate) runtime: Box<dyn BridgeRuntime>,
    registry: Arc<Registry>,
    /// The steps its runtime has started, counted by the calls themselves.
    pub(crate) progress: Arc<Progress>,
    /// The values bound to this generation (`Bridge::bind`), by the id of their `Bound`.
    bound: Mutex<BoundValues>,
}

/// The values bound to a generation, until it closes and lets them go on its runtime.
struct BoundValues {
    values: Vec<(u64, BoundValue)>,
    released: bool,
}

/// Which of a runtime's queues a call's steps take, and so which progress shows that they
/// move: the shared one ([`BridgeRuntime::spawn`]), or the local one
/// ([`BridgeRuntime::spawn_local`]), which an adapter may serve on one thread only (smol's
/// first thread). A runtime whose local thread is stuck can still answer on the shared one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    Shared,
    Local,
}

/// A reading of a runtime's progress: two readings differ if a step started in between, or if
/// the adapter saw progress of its own ([`BridgeRuntime::activity`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pulse {
    steps: u64,
    activity: Option<u64>,
}

/// The steps a generation's runtime has started (the health check's measure of progress),
/// and the generation's mark for the threads that run them.
///
/// Apart from the generation, so that a call's slot can count its steps here without holding
/// the generation itself: a runtime that holds a call's step until it is dropped must not
/// keep itself alive through that step. Only the runtime's threads write the count, so it has
/// a cache line of its own. (A std atomic in the models too: the probe's timing is not
/// modelled.)
#[repr(align(128))]
pub(crate) struct Progress {
    steps: StdAtomicU64,
    /// The steps of local calls among them.
    local_steps: StdAtomicU64,
    /// Unique in the process (a generation's `id` counts only its bridge's generations).
    uid: u64,
    /// The generation itself, for code running in its steps (see [`stepping`]).
    generation: Weak<Generation>,
}

impl Progress {
    /// Called by a step as it starts, on the runtime's thread: counts it for the health
    /// check, and marks the thread as one of the runtime's.
    pub(crate) fn step_started(&self, lane: Lane) {
        self.steps.fetch_add(1, StdOrdering::Relaxed);
        if lane == Lane::Local {
            self.local_steps.fetch_add(1, StdOrdering::Relaxed);
        }
        STEPS_OF.with(|uid| {
            if uid.replace(self.uid) != self.uid {
                STEPPING.with(|stepping| *stepping.borrow_mut() = self.generation.clone());
            }
        });
    }
}

impl Generation {
    /// A generation of `runtime`, whose factory was called in the fork epoch `epoch` (read
    /// with [`fork::epoch`] before the factory ran, so that a fork during the start counts).
    pub(crate) fn new(
        bridge: u64,
        id: u64,
        epoch: u64,
        runtime: Box<dyn BridgeRuntime>,
    ) -> Arc<Generation> {
        static NEXT_UID: StdAtomicU64 = StdAtomicU64::new(1);
        let uid = NEXT_UID.fetch_add(1, StdOrdering::Relaxed);
        Arc::new_cyclic(|generation| Generation {
            bridge,
            id,
            epoch,
            uid,
            runtime,
            registry: Arc::new(Registry::new()),
            progress: Arc::new(Progress {
                steps: StdAtomicU64::new(0),
                local_steps: StdAtomicU64::new(0),
                uid,
                generation: generation.clone(),
            }),
            bound: Mutex::new(BoundValues {
                values: Vec::new(),
                released: false,
            }),
        })
    }

    /// Whether the generation's runtime was started in this process, not inherited from a
    /// parent through `fork()`: an inherited one has no threads here.
    pub(crate) fn of_this_process(&self) -> bool {
        self.epoch == fork::current()
    }

    /// Whether the current thread would block this generation, of the bridge with id
    /// `bridge`, on itself: it has run the generation's steps, the adapter says it is one of
    /// the threads that run the runtime's tasks, or it is a one-off thread serving a nested
    /// call of the bridge while a runtime thread waits for it. A thread that merely has the
    /// runtime's context (tokio's blocking pool, or `Handle::enter`) is not one: the runtime
    /// serves its calls as usual.
    pub(crate) fn blocks_itself_here(&self, bridge: u64) -> bool {
        ONE_OFF_FOR.with(Cell::get) == bridge
            || STEPS_OF.with(Cell::get) == self.uid
            || self.runtime.is_runtime_thread()
    }

    /// Unique in the process, unlike `id`.
    pub(crate) fn uid(&self) -> u64 {
        self.uid
    }

    /// A reading of the runtime's progress on `lane`, for the health check: the steps of every
    /// call, or of the local calls alone.
    pub(crate) fn pulse(&self, lane: Lane) -> Pulse {
        let steps = match lane {
            Lane::Shared => &self.progress.steps,
            Lane::Local => &self.progress.local_steps,
        };
        Pulse {
            steps: steps.load(StdOrdering::Relaxed),
            activity: self.runtime.activity(),
        }
    }

    /// Registers a call in flight, so that closing the generation fails it; `None` if it is
    /// closed already (see [`Registry::register`]).
    pub(crate) fn register(&self, slot: Arc<dyn Abortable>) -> Option<Registration> {
        self.registry.register(slot)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.registry.is_closed()
    }

    /// Why the generation was closed: what a call that finds it closed fails with.
    pub(crate) fn close_reason(&self) -> Option<Closed> {
        self.registry.close_reason()
    }

    /// Closes the generation and fails every registered call with `reason`, then lets its
    /// bound values go on its runtime (see [`release`](Self::release)). Returns `true` for
    /// the one caller that closed it.
    pub(crate) fn close(&self, reason: Closed) -> bool {
        let closed = self.registry.close(reason);
        if closed {
            self.release();
        }
        closed
    }

    /// The value bound here by the `Bound` with id `bound`, if one has been made.
    pub(crate) fn bound(&self, bound: u64) -> Option<BoundValue> {
        let values = lock(&self.bound);
        values
            .values
            .iter()
            .find(|(id, _)| *id == bound)
            .map(|(_, value)| value.clone())
    }

    /// Binds `value` here for the `Bound` with id `bound`; gives it back if the generation has
    /// closed meanwhile (it is going away, and so must the value).
    pub(crate) fn bind(&self, bound: u64, value: BoundValue) -> Result<(), BoundValue> {
        let mut values = lock(&self.bound);
        if values.released {
            return Err(value);
        }
        values.values.push((bound, value));
        Ok(())
    }

    /// Unbinds the value of the `Bound` with id `bound` (its last handle is gone), and drops
    /// it on the runtime.
    pub(crate) fn unbind(&self, bound: u64) {
        let value = {
            let mut values = lock(&self.bound);
            let found = values.values.iter().position(|(id, _)| *id == bound);
            found.map(|at| values.values.swap_remove(at))
        };
        if let Some(value) = value {
            self.drop_on_runtime(vec![value]);
        }
    }

    /// Lets every bound value go, and binds no more: they are dropped on the runtime, inside
    /// its context, by a job of their own. If the runtime has stopped they are dropped when
    /// it drops the job, or here if it refuses it.
    fn release(&self) {
        let values = {
            let mut values = lock(&self.bound);
            values.released = true;
            std::mem::take(&mut values.values)
        };
        if !values.is_empty() {
            self.drop_on_runtime(values);
        }
    }

    /// Drops `values` in a job on the runtime: one step, never woken again.
    fn drop_on_runtime(&self, values: Vec<(u64, BoundValue)>) {
        // A panic in a value's `Drop` has nobody to go to, and must not unwind into a runtime,
        // nor abort the process: a runtime that stops drops this job unrun, and async-task
        // aborts on a panic as it drops a task's future. Held `Quiet`, the values' drop is
        // contained either way (a value that owns a tokio `Runtime` panics when dropped
        // inside an async context, say).
        let values = Quiet::new(values);
        let (runnable, task) = async_task::spawn(async move { drop(values) }, |_| {});
        task.detach();
        if let Err(refused) = self.runtime.spawn(Job::new(runnable)) {
            drop_quietly(refused);
        }
    }

    /// Number of calls registered right now (for `Debug`): tasks, nested calls, and blocking
    /// calls whose future was pending or whose caller parked (one answered while its caller
    /// still spins is never registered).
    pub(crate) fn in_flight(&self) -> usize {
        self.registry.in_flight()
    }
}

/// The generation whose step runs on this thread, for code running inside a step (a bound
/// value's maker and its users); `None` outside the runtimes' threads and on a one-off thread
/// serving a nested call, which runs no generation's steps. Outside a step it is the last
/// generation the thread ran a step of, so ask only from inside one.
pub(crate) fn stepping() -> Option<Arc<Generation>> {
    if let Some(driving) = DRIVING.with(|driving| driving.borrow().clone()) {
        return Some(driving);
    }
    if ONE_OFF_FOR.with(Cell::get) != 0 {
        return None;
    }
    STEPPING.with(|stepping| stepping.borrow().upgrade())
}

/// Marks the current thread as driving a call of a generation itself, while it lives: code
/// in the call's future finds that generation through [`stepping`], as it would on a thread
/// of the runtime. Calls driven inside one another each see their own.
pub(crate) struct Driving(Option<Arc<Generation>>);

impl Driving {
    pub(crate) fn enter(generation: &Arc<Generation>) -> Driving {
        Driving(DRIVING.with(|driving| driving.replace(Some(generation.clone()))))
    }
}

impl Drop for Driving {
    fn drop(&mut self) {
        let previous = self.0.take();
        let ours = DRIVING.with(|driving| driving.replace(previous));
        drop(ours);
    }
}

/// Marks the current thread as a one-off thread serving nested calls of the bridge with id
/// `bridge` (see [`Generation::blocks_itself_here`]).
pub(crate) fn serve_nested_calls_of(bridge: u64) {
    ONE_OFF_FOR.with(|id| id.set(bridge));
}

impl Drop for Generation {
    /// Once nothing holds the generation (its calls and tasks have ended, and it is no longer
    /// published), its runtime is told to stop, without waiting for it: the bridge never lets
    /// a runtime go without a shutdown (see the `BridgeRuntime` contract). A generation that a
    /// fork left behind is never dropped (see `fork`).
    fn drop(&mut self) {
        self.release();
        self.runtime.shutdown(Duration::ZERO);
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generation")
            .field("bridge", &self.bridge)
            .field("id", &self.id)
            .field("runtime", &self.runtime)
            .field("closed", &self.is_closed())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}
