//! Blocking on a result slot from a synchronous caller, with an optional deadline.

use std::{
    task::{Poll, Wake, Waker},
    time::{Duration, Instant},
};

use crate::{
    cancel::{Stop, Watch},
    slot::{Outcome, Slot},
    spin,
    sync::{Arc, AtomicBool, Ordering},
};

#[cfg(not(loopbridge_loom))]
use crate::sync::thread::{self, Thread};
#[cfg(loopbridge_loom)]
use crate::sync::{Condvar, Mutex, lock, wait_on};

/// Wakes a parked caller thread, and leaves a mark a spinning one can see.
///
/// Under loom, parking waits on a condvar of its own instead of the thread's park token:
/// loom's `unpark` wakes a thread out of whatever it blocks in (a `join`, a lock), where std's
/// only leaves a token for the next `park`, so a late wake would end an unrelated wait.
pub(crate) struct Unparker {
    #[cfg(not(loopbridge_loom))]
    thread: Thread,
    #[cfg(loopbridge_loom)]
    token: (Mutex<bool>, Condvar),
    /// Set by every wake; taken by a caller that polls its own future (see `caller`), so that
    /// it can spin for a wake before it parks.
    woken: AtomicBool,
}

impl Unparker {
    fn new() -> Arc<Unparker> {
        Arc::new(Unparker {
            #[cfg(not(loopbridge_loom))]
            thread: thread::current(),
            #[cfg(loopbridge_loom)]
            token: (Mutex::new(false), Condvar::new()),
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

    /// Wakes the thread, or makes its next [`park`](Self::park) return at once.
    pub(crate) fn unpark(&self) {
        self.woken.store(true, Ordering::Release);
        #[cfg(not(loopbridge_loom))]
        self.thread.unpark();
        #[cfg(loopbridge_loom)]
        {
            *lock(&self.token.0) = true;
            self.token.1.notify_one();
        }
    }

    /// Parks the current thread (the one this was made on) until it is unparked, or for at
    /// most `timeout`; may return early.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        #[cfg(not(loopbridge_loom))]
        match timeout {
            None => thread::park(),
            Some(timeout) => thread::park_timeout(timeout),
        }
        // loom has no timed park: models use no deadlines (a timeout is a cancel).
        #[cfg(loopbridge_loom)]
        {
            let _ = timeout;
            let mut token = lock(&self.token.0);
            while !*token {
                token = wait_on(&self.token.1, token);
            }
            *token = false;
        }
    }
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.unpark();
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

/// The current thread's waker and its wake mark. Under loom, a fresh one per wait: a model's
/// threads share one OS thread, so a std thread-local would hand one model thread another's.
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

/// How a caller's wait for its slot ended.
pub(crate) enum Waited<T> {
    /// The call's outcome.
    Outcome(Outcome<T>),
    /// The deadline passed first (the call's own or its scope's).
    Deadline,
    /// The call's scope stopped it (a cancelled token, a failed check).
    Stopped(Stop),
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
    match wait_scoped(slot, deadline, None, before_park) {
        Waited::Outcome(outcome) => Some(outcome),
        Waited::Deadline | Waited::Stopped(_) => None,
    }
}

/// [`wait`], for a call made in a scope: the scope's tokens wake the caller, its checks run
/// while the caller is parked, and either may stop the wait. `deadline` is the earlier of the
/// call's and the scope's. The slot is left as it was, for the caller to cancel.
pub(crate) fn wait_scoped<T>(
    slot: &Slot<T>,
    deadline: Option<Instant>,
    scope: Option<&mut Watch>,
    before_park: impl FnOnce(),
) -> Waited<T> {
    // A quick answer is worth a short spin: parking and being woken costs far more.
    let started = spin::caller(|| slot.is_ready(), deadline);
    if !slot.is_ready() {
        before_park();
    }
    let waited = park_until(slot, deadline, scope);
    // An answer found before the spin read the clock was quick: it counts as no wait at all.
    spin::record_wait(started.map_or(Duration::ZERO, |started| started.elapsed()));
    waited
}

fn park_until<T>(
    slot: &Slot<T>,
    deadline: Option<Instant>,
    mut scope: Option<&mut Watch>,
) -> Waited<T> {
    let (unparker, waker) = thread_unparker();
    if let Some(scope) = scope.as_deref_mut() {
        scope.arm(&waker);
    }
    loop {
        if let Poll::Ready(outcome) = slot.poll_take(&waker) {
            return Waited::Outcome(outcome);
        }
        if let Some(stop) = scope.as_deref_mut().and_then(Watch::poll_stop) {
            return Waited::Stopped(stop);
        }
        let check = scope.as_deref().and_then(Watch::next_check);
        let wake_at = match (deadline, check) {
            (Some(deadline), Some(check)) => Some(deadline.min(check)),
            (deadline, check) => deadline.or(check),
        };
        match wake_at {
            None => unparker.park(None),
            Some(wake_at) => {
                let now = Instant::now();
                if deadline.is_some_and(|deadline| now >= deadline) {
                    return Waited::Deadline;
                }
                unparker.park(Some(wake_at.saturating_duration_since(now)));
            }
        }
    }
}

/// After a call was cancelled: parks until its future has been dropped, or until `deadline`;
/// returns whether it has.
pub(crate) fn wait_gone<T>(slot: &Slot<T>, deadline: Option<Instant>) -> bool {
    let (unparker, waker) = thread_unparker();
    loop {
        if slot.poll_gone(&waker) {
            return true;
        }
        match deadline {
            None => unparker.park(None),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                unparker.park(Some(deadline - now));
            }
        }
    }
}
