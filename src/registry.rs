//! The calls in flight on one runtime generation: a closable, sharded registry of slots that
//! can be failed from outside.
//!
//! A registry is *closed* exactly once, when its generation is retired by the health check or
//! shut down; closing fails every call still registered, so no caller is left waiting on a
//! runtime that is gone or stuck. A registration made after the close is refused, so every
//! registration either sees the close or is seen by it.

use std::{cell::Cell, fmt};

use crate::{
    error::{Abort, Closed},
    sync::{Arc, AtomicUsize, Mutex, Ordering, lock},
};

/// A slot the registry can fail from outside, on retirement or shutdown, whatever its output
/// type.
pub(crate) trait Abortable: Send + Sync {
    fn abort(&self, reason: Abort);

    /// The call's future has been dropped (or will never be made): for a caller that waits
    /// to see its cancellation confirmed (`BridgeBuilder::confirm_cancel`).
    fn gone(&self) {}
}

/// [`Registry::closed`] while the registry is open.
const OPEN: usize = 0;

/// How [`Registry::closed`] stores a reason.
fn code(reason: Closed) -> usize {
    match reason {
        Closed::Shutdown => 1,
        Closed::Retired => 2,
    }
}

/// Registry shards: callers on different threads mostly take different locks.
const SHARDS: usize = if cfg!(loopbridge_loom) { 1 } else { 8 };

pub(crate) struct Registry {
    /// [`OPEN`], or why the registry was closed (a [`Closed`] as [`code`]).
    closed: AtomicUsize,
    /// Held by [`close`](Registry::close) from start to end, so that a second closer (a
    /// shutdown racing a retirement) returns only once the first has failed every call.
    closing: Mutex<()>,
    shards: [Padded<Mutex<Shard>>; SHARDS],
}

/// One registry shard per cache line (two, against the adjacent-line prefetcher): callers on
/// different threads do not contend for a line they do not share.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

/// The calls in flight on one shard: a slab of slots that can be failed from outside.
#[derive(Default)]
struct Shard {
    entries: Vec<Option<Arc<dyn Abortable>>>,
    free: Vec<usize>,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            closed: AtomicUsize::new(OPEN),
            closing: Mutex::new(()),
            shards: Default::default(),
        }
    }

    /// Registers a call in flight, so that closing the registry fails it.
    ///
    /// Returns `None` if the registry is already closed. The check happens under the shard
    /// lock that [`close`](Self::close) takes after setting the flag, so every registration
    /// either sees the flag or is seen by `close`.
    pub(crate) fn register(self: &Arc<Self>, slot: Arc<dyn Abortable>) -> Option<Registration> {
        let shard = shard_index();
        let mut entries = lock(&self.shards[shard].0);
        if self.is_closed() {
            return None;
        }
        let key = match entries.free.pop() {
            Some(key) => {
                entries.entries[key] = Some(slot);
                key
            }
            None => {
                entries.entries.push(Some(slot));
                entries.entries.len() - 1
            }
        };
        drop(entries);
        Some(Registration {
            registry: self.clone(),
            shard,
            key,
        })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) != OPEN
    }

    /// Why the registry was closed: what a call that finds it closed fails with.
    pub(crate) fn close_reason(&self) -> Option<Closed> {
        match self.closed.load(Ordering::Acquire) {
            OPEN => None,
            code if code == self::code(Closed::Shutdown) => Some(Closed::Shutdown),
            _ => Some(Closed::Retired),
        }
    }

    /// Closes the registry and fails every registered call with `reason`.
    ///
    /// Returns `true` for the one caller that closed it. Every caller returns only once every
    /// call registered before the close has been failed, by whichever caller closed it.
    pub(crate) fn close(&self, reason: Closed) -> bool {
        let _closing = lock(&self.closing);
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
                slot.abort(Abort::from(reason));
            }
        }
        true
    }

    /// Number of calls registered right now (for `Debug`).
    pub(crate) fn in_flight(&self) -> usize {
        self.shards
            .iter()
            .map(|s| lock(&s.0).entries.iter().flatten().count())
            .sum()
    }
}

/// A call's entry in a registry; dropping it unregisters the call.
pub(crate) struct Registration {
    registry: Arc<Registry>,
    shard: usize,
    key: usize,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let removed = {
            let mut entries = lock(&self.registry.shards[self.shard].0);
            // After `close` the shard was drained and this key is gone.
            match entries.entries.get_mut(self.key) {
                Some(entry @ Some(_)) => {
                    let removed = entry.take();
                    entries.free.push(self.key);
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
            .field("shard", &self.shard)
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
                shard.set(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SHARDS);
            }
            shard.get()
        })
        .unwrap_or(0)
}
