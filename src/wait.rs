//! Blocking on a result slot from a synchronous caller, with an optional deadline.

use std::{
    task::{Poll, Wake, Waker},
    time::{Duration, Instant},
};

use crate::{
    slot::{Outcome, Slot},
    spin,
    sync::{
        Arc,
        thread::{self, Thread},
    },
};

/// Wakes a parked caller thread.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// One waker per caller thread, made on its first blocking call and reused after.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
}

/// Under loom, a fresh waker per wait: a model's threads share one OS thread, so a std
/// thread-local would hand one model thread another's waker.
#[cfg(loopbridge_loom)]
fn thread_waker() -> Waker {
    Waker::from(Arc::new(Unparker(thread::current())))
}

#[cfg(not(loopbridge_loom))]
fn thread_waker() -> Waker {
    THREAD_WAKER
        .try_with(Waker::clone)
        // During thread-local destruction: make a fresh one.
        .unwrap_or_else(|_| Waker::from(Arc::new(Unparker(thread::current()))))
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
