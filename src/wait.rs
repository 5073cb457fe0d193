//! Blocking on a result slot from a synchronous caller, with an optional deadline.

use std::{
    task::{Poll, Wake, Waker},
    time::{Duration, Instant},
};

use crate::{
    slot::{Outcome, Slot},
    spin,
    sync::{
        Arc, AtomicBool, Ordering,
        thread::{self, Thread},
    },
};

/// Wakes a parked caller thread, and leaves a mark a spinning one can see.
pub(crate) struct Unparker {
    thread: Thread,
    /// Set by every wake; taken by a caller that polls its own future (see `caller`), so that
    /// it can spin for a wake before it parks.
    woken: AtomicBool,
}

impl Unparker {
    fn new() -> Arc<Unparker> {
        Arc::new(Unparker {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        })
    }

    /// Whether a wake came since the last call, clearing the mark.
    pub(crate) fn take_woken(&self) -> bool {
        self.woken.swap(false, Ordering::Acquire)
    }

    /// Whether a wake came since the mark was last taken.
    pub(crate) fn is_woken(&self) -> bool {
        self.woken.load(Ordering::Acquire)
    }
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// One waker per caller thread, made on its first blocking call and reused after.
    static THREAD_WAKER: (Arc<Unparker>, Waker) = {
        let unparker = Unparker::new();
        (unparker.clone(), Waker::from(unparker))
    };
}

/// Under loom, a fresh waker per wait: a model's threads share one OS thread, so a std
/// thread-local would hand one model thread another's waker.
#[cfg(loopbridge_loom)]
pub(crate) fn thread_waker() -> Waker {
    Waker::from(Unparker::new())
}

/// A waker that unparks the current thread: one per thread, reused (see `THREAD_WAKER`).
#[cfg(not(loopbridge_loom))]
pub(crate) fn thread_waker() -> Waker {
    thread_unparker().1
}

/// The current thread's waker and its wake mark.
#[cfg(loopbridge_loom)]
pub(crate) fn thread_unparker() -> (Arc<Unparker>, Waker) {
    let unparker = Unparker::new();
    (unparker.clone(), Waker::from(unparker))
}

/// The current thread's waker and its wake mark.
#[cfg(not(loopbridge_loom))]
pub(crate) fn thread_unparker() -> (Arc<Unparker>, Waker) {
    THREAD_WAKER
        .try_with(|(unparker, waker)| (unparker.clone(), waker.clone()))
        // During thread-local destruction: make a fresh one.
        .unwrap_or_else(|_| {
            let unparker = Unparker::new();
            (unparker.clone(), Waker::from(unparker))
        })
}

/// Parks the current thread until `slot` has an outcome, or until `deadline`. Runs
/// `before_park` once the outcome is not there after a short spin, before the thread parks.
///
/// Returns `None` if the deadline passed first; the slot is left as it was, for the caller to
/// cancel. The thread's park token may be consumed by someone else's `unpark`, so every wake
/// re-checks the slot and spurious wakes are harmless.
pub(crate) fn wait<T>(
    slot: &Slot<T>,
    deadline: Option<Instant>,
    before_park: impl FnOnce(),
) -> Option<Outcome<T>> {
    // A quick answer is worth a short spin: parking and being woken costs far more.
    let started = spin::caller(|| slot.is_ready(), deadline);
    if !slot.is_ready() {
        before_park();
    }
    let outcome = park_until(slot, deadline);
    // An answer found before the spin read the clock was quick: it counts as no wait at all.
    spin::record_wait(started.map_or(Duration::ZERO, |started| started.elapsed()));
    outcome
}

fn park_until<T>(slot: &Slot<T>, deadline: Option<Instant>) -> Option<Outcome<T>> {
    let waker = thread_waker();
    loop {
        if let Poll::Ready(outcome) = slot.poll_take(&waker) {
            return Some(outcome);
        }
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                // loom has no timed park: models use no deadlines (a timeout is a cancel).
                #[cfg(loopbridge_loom)]
                thread::park();
                #[cfg(not(loopbridge_loom))]
                thread::park_timeout(deadline - now);
            }
        }
    }
}
