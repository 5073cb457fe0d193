//! Counters a bridge keeps about its calls and its lifecycle.

use std::{cell::Cell, ops::Deref, sync::atomic::AtomicUsize as StdAtomicUsize};

use crate::{
    BridgeError,
    slot::Outcome,
    sync::{AtomicU64, Ordering},
};

/// A snapshot of a bridge's counters, from [`Bridge::stats`](crate::Bridge::stats).
///
/// The lifecycle counters only grow, and a call that completes normally touches none of
/// them. The call counts cost a call two uncontended atomic additions, on a line of memory
/// the calling thread mostly has to itself (the counts are split across threads and summed
/// when read), so the fast path does not notice them. A snapshot sums them without stopping
/// the calls, so under load it is a close reading, not an instant one.
///
/// # Examples
///
/// ```
/// use loopbridge::Bridge;
///
/// let bridge = Bridge::new();
/// assert_eq!(bridge.stats().started, 0); // started lazily
/// bridge.call(async {})?;
/// bridge.call(async {})?;
/// let stats = bridge.stats();
/// assert_eq!(stats.started, 1); // both calls reused one runtime
/// assert_eq!(stats.retired, 0);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Calls made: blocking calls (`call`, `call_timeout`, `call_local`, a `Bound`'s calls,
    /// each read of a `BlockingStream`, `BlockingReader` or `BlockingWriter` that needed the
    /// runtime) and spawned tasks, whatever their outcome.
    pub calls: u64,
    /// Calls in flight now: blocking calls whose caller is still waiting, and tasks whose
    /// future has not yet completed or been dropped.
    pub in_flight: u64,
    /// The runtime generation calls run on now (1 for the first runtime, 2 after one
    /// retirement), or `None` while there is none: before the first call, after a
    /// retirement until the next call, after shutdown, and always on a per-call bridge.
    pub generation: Option<u64>,
    /// Runtime generations started by the factory (the first one included).
    pub started: u64,
    /// Generations retired by the health check because they stopped responding.
    pub retired: u64,
    /// Calls and tasks whose deadline passed, counted when their caller saw the timeout.
    pub timeouts: u64,
    /// Nested calls (made from the bridge's own runtime threads) served by the one-off
    /// fallback.
    pub nested: u64,
    /// Panics re-raised on callers.
    pub panics: u64,
    /// With [`BridgeBuilder::confirm_cancel`](crate::BridgeBuilder::confirm_cancel): calls
    /// that timed out or were cancelled and returned after the grace without their future
    /// having been dropped (a runtime thread that was stuck, say).
    pub unconfirmed_cancels: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) calls: CallCounts,
    pub(crate) started: AtomicU64,
    pub(crate) retired: AtomicU64,
    pub(crate) timeouts: AtomicU64,
    pub(crate) nested: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) unconfirmed: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts what a caller is about to see.
    pub(crate) fn observe<T>(&self, outcome: &Outcome<T>) {
        match outcome {
            Outcome::Value(_) => {}
            Outcome::Panic(_) => Self::bump(&self.panics),
            Outcome::Failed(BridgeError::TimedOut) => Self::bump(&self.timeouts),
            Outcome::Failed(_) => {}
        }
    }

    /// The counters, with the generation calls run on now (the supply knows it).
    pub(crate) fn snapshot(&self, generation: Option<u64>) -> BridgeStats {
        let (calls, finished) = self.calls.read();
        BridgeStats {
            calls,
            in_flight: calls.saturating_sub(finished),
            generation,
            started: self.started.load(Ordering::Relaxed),
            retired: self.retired.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            nested: self.nested.load(Ordering::Relaxed),
            panics: self.panics.load(Ordering::Relaxed),
            unconfirmed_cancels: self.unconfirmed.load(Ordering::Relaxed),
        }
    }
}

/// How many ways the call counts are split: threads share a line only beyond this many.
const SHARDS: usize = 8;

std::thread_local! {
    /// This thread's share of every bridge's call counts.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The calls started and finished, split across threads so that callers on different cores
/// do not fight over one line of memory; summed when read.
#[derive(Debug, Default)]
pub(crate) struct CallCounts {
    shards: [Shard; SHARDS],
}

#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard {
    started: AtomicU64,
    finished: AtomicU64,
}

impl CallCounts {
    fn shard(&self) -> &Shard {
        static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
        let index = SHARD
            .try_with(|shard| {
                if shard.get() == usize::MAX {
                    shard.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SHARDS);
                }
                shard.get()
            })
            .unwrap_or(0);
        &self.shards[index]
    }

    /// Counts a call in; it counts as in flight until the returned guard is dropped. The
    /// guard holds `counters` as given: a reference for a blocking call, whose caller waits,
    /// or an `Arc` for a task, whose future carries it.
    pub(crate) fn enter<C: Deref<Target = Counters>>(counters: C) -> InFlight<C> {
        counters
            .calls
            .shard()
            .started
            .fetch_add(1, Ordering::Relaxed);
        InFlight(counters)
    }

    fn read(&self) -> (u64, u64) {
        // Finished first: a call counted out after this read was counted in before the next.
        let finished = self
            .shards
            .iter()
            .map(|shard| shard.finished.load(Ordering::Relaxed))
            .sum();
        let started = self
            .shards
            .iter()
            .map(|shard| shard.started.load(Ordering::Relaxed))
            .sum();
        (started, finished)
    }
}

/// A call in flight: counted out when dropped, wherever that is (a task's future is dropped
/// on its runtime).
#[derive(Debug)]
pub(crate) struct InFlight<C: Deref<Target = Counters>>(C);

impl<C: Deref<Target = Counters>> Drop for InFlight<C> {
    fn drop(&mut self) {
        self.0
            .calls
            .shard()
            .finished
            .fetch_add(1, Ordering::Relaxed);
    }
}
