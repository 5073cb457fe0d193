//! A runtime generation: one runtime started by the factory, and the calls in flight on it.
//!
//! The bridge publishes one generation at a time. A generation is *closed* exactly once, when
//! it is retired by the health check or shut down; closing fails every call still registered
//! on it, so no caller is left waiting on a runtime that is gone or stuck.

use std::{
    cell::Cell,
    fmt,
    sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering},
};

use crate::{
    error::Abort,
    fork,
    runtime::BridgeRuntime,
    slot::Abortable,
    sync::{Arc, AtomicUsize, Mutex, Ordering, lock},
};

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// The [`Generation::uid`] of the generation whose step this thread ran last: a thread that
    /// runs a generation's steps is one of its runtime's threads for good.
    static STEPS_OF: Cell<u64> = const { Cell::new(0) };
}

// The same for the models: loom's `thread_local!` gives each model thread its own.
#[cfg(loopbridge_loom)]
loom::thread_local! {
    static STEPS_OF: Cell<u64> = Cell::new(0);
}

/// [`Generation::closed`] while the generation is open.
const OPEN: usize = 0;

/// How [`Generation::closed`] stores a reason.
fn code(reason: Abort) -> usize {
    match reason {
        Abort::Shutdown => 1,
        Abort::Retired => 2,
        Abort::Cancelled => 3,
    }
}

/// Registry shards: callers on different threads mostly take different locks.
const SHARDS: usize = if cfg!(loopbridge_loom) { 1 } else { 8 };

// Aligned so that the `Arc`'s reference counts, which every call's task touches from the
// runtime's thread, do not share a cache line with the fields every caller reads.
#[repr(align(128))]
pub(crate) struct Generation {
    /// Counts the generations of one bridge: 1 for its first runtime, 2 for the next.
    pub(crate) id: u64,
    /// The process's fork count before the runtime started (see `fork`).
    epoch: u64,
    /// [`Progress::uid`], here too: every call reads it (to tell a nested call), and the
    /// progress count's line is written by every step.
    uid: u64,
    pub(crate) runtime: Box<dyn BridgeRuntime>,
    /// Started for one call of a per-call bridge, and shut down after it.
    pub(crate) ephemeral: bool,
    /// [`OPEN`], or why the generation was closed (an [`Abort`] as [`code`]).
    closed: AtomicUsize,
    shards: [Padded<Mutex<Registry>>; SHARDS],
    /// The steps its runtime has started, counted by the calls themselves.
    pub(crate) progress: Arc<Progress>,
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
    /// Unique in the process (a generation's `id` counts only its bridge's generations).
    uid: u64,
}

impl Progress {
    /// Called by a step as it starts, on the runtime's thread: counts it for the health
    /// check, and marks the thread as one of the runtime's.
    pub(crate) fn step_started(&self) {
        self.steps.fetch_add(1, StdOrdering::Relaxed);
        STEPS_OF.with(|uid| uid.set(self.uid));
    }
}

/// One registry shard per cache line (two, against the adjacent-line prefetcher): callers on
/// different threads do not contend for a line they do not share.
#[derive(Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// The calls in flight on one shard: a slab of slots that can be failed from outside.
#[derive(Default)]
struct Registry {
    entries: Vec<Option<Arc<dyn Abortable>>>,
    free: Vec<usize>,
}

impl Generation {
    /// A generation of `runtime`, whose factory was called in the fork epoch `epoch` (read
    /// with [`fork::epoch`] before the factory ran, so that a fork during the start counts).
    pub(crate) fn new(
        id: u64,
        epoch: u64,
        runtime: Box<dyn BridgeRuntime>,
        ephemeral: bool,
    ) -> Generation {
        static NEXT_UID: StdAtomicU64 = StdAtomicU64::new(1);
        let uid = NEXT_UID.fetch_add(1, StdOrdering::Relaxed);
        Generation {
            id,
            epoch,
            uid,
            runtime,
            ephemeral,
            closed: AtomicUsize::new(OPEN),
            shards: Default::default(),
            progress: Arc::new(Progress {
                steps: StdAtomicU64::new(0),
                uid,
            }),
        }
    }

    /// Whether the generation's runtime was started in this process, not inherited from a
    /// parent through `fork()`: an inherited one has no threads here.
    pub(crate) fn of_this_process(&self) -> bool {
        self.epoch == fork::current()
    }

    /// Whether the current thread has run steps of this generation: blocking on the
    /// generation there would keep the thread from running them.
    pub(crate) fn runs_steps_here(&self) -> bool {
        STEPS_OF.with(Cell::get) == self.uid
    }

    /// A reading of the runtime's progress, for the health check.
    pub(crate) fn pulse(&self) -> Pulse {
        Pulse {
            steps: self.progress.steps.load(StdOrdering::Relaxed),
            activity: self.runtime.activity(),
        }
    }

    /// Registers a call in flight, so that closing the generation fails it.
    ///
    /// Returns `None` if the generation is already closed. The check happens under the shard
    /// lock that [`close`](Self::close) takes after setting the flag, so every registration
    /// either sees the flag or is seen by `close`.
    pub(crate) fn register(self: &Arc<Self>, slot: Arc<dyn Abortable>) -> Option<Registration> {
        let shard = shard_index();
        let mut registry = lock(&self.shards[shard].0);
        if self.is_closed() {
            return None;
        }
        let key = match registry.free.pop() {
            Some(key) => {
                registry.entries[key] = Some(slot);
                key
            }
            None => {
                registry.entries.push(Some(slot));
                registry.entries.len() - 1
            }
        };
        drop(registry);
        Some(Registration {
            generation: self.clone(),
            shard,
            key,
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) != OPEN
    }

    /// Why the generation was closed: what a call that finds it closed fails with.
    pub(crate) fn close_reason(&self) -> Option<Abort> {
        match self.closed.load(Ordering::Acquire) {
            OPEN => None,
            code if code == self::code(Abort::Shutdown) => Some(Abort::Shutdown),
            code if code == self::code(Abort::Retired) => Some(Abort::Retired),
            _ => Some(Abort::Cancelled),
        }
    }

    /// Closes the generation and fails every registered call with `reason`.
    ///
    /// Returns `true` for the one caller that closed it.
    pub(crate) fn close(&self, reason: Abort) -> bool {
        if self
            .closed
            .compare_exchange(OPEN, code(reason), Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        for shard in &self.shards {
            let drained = std::mem::take(&mut *lock(&shard.0));
            for slot in drained.entries.into_iter().flatten() {
                slot.abort(reason);
            }
        }
        true
    }

    /// Number of calls registered right now (for `Debug`): tasks, nested calls, and blocking
    /// calls whose future was pending or whose caller parked (one answered while its caller
    /// still spins is never registered).
    pub(crate) fn in_flight(&self) -> usize {
        self.shards
            .iter()
            .map(|s| lock(&s.0).entries.iter().flatten().count())
            .sum()
    }
}

impl fmt::Debug for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generation")
            .field("id", &self.id)
            .field("runtime", &self.runtime)
            .field("closed", &self.is_closed())
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

/// A call's entry in its generation's registry; dropping it unregisters the call.
pub(crate) struct Registration {
    pub(crate) generation: Arc<Generation>,
    shard: usize,
    key: usize,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let removed = {
            let mut registry = lock(&self.generation.shards[self.shard].0);
            // After `close` the registry was drained and this key is gone.
            match registry.entries.get_mut(self.key) {
                Some(entry @ Some(_)) => {
                    let removed = entry.take();
                    registry.free.push(self.key);
                    removed
                }
                _ => None,
            }
        };
        // Drop the slot outside the lock: dropping it may drop a value.
        drop(removed);
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("generation", &self.generation.id)
            .finish_non_exhaustive()
    }
}

/// Which registry shard the current thread uses: threads are dealt shards round-robin.
fn shard_index() -> usize {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    thread_local! {
        static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SHARD
        .try_with(|shard| {
            if shard.get() == usize::MAX {
                shard.set(NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS);
            }
            shard.get()
        })
        .unwrap_or(0)
}
