//! Bounded spinning on both sides of a handoff, before parking.
//!
//! Waking a parked thread costs 20 to 45 µs on a 2-vCPU machine; handing off between two
//! running threads costs well under a microsecond. So a caller spins briefly for its result,
//! and an executor thread that runs out of work looks for more briefly, before either parks.
//! Both windows are bounded and back off: the first part busy-waits, the rest yields its
//! timeslice between checks, and a caller only spins while there is a core to spare for it.

use std::{
    cell::Cell,
    hint,
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

/// How long one side looks for the other before parking: about twice a park-and-wake, so that
/// a call answered within it never pays one.
pub(crate) const WINDOW: Duration = Duration::from_micros(50);

/// How long a spinning runtime thread looks at its queue between two turns of the reactor: a
/// turn is a system call, far slower than a look, so a step that arrives meanwhile is picked
/// up sooner; IO and timers wait at most this much longer.
pub(crate) const BETWEEN_TURNS: Duration = Duration::from_micros(2);

/// The first part of the window busy-waits; after it, every check yields the timeslice.
const BUSY: Duration = Duration::from_micros(10);

/// Callers waiting for a result right now (spinning or parked), across all bridges. When they
/// outnumber the spare cores, spinning would take CPU the others need, so nobody spins.
static WAITERS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// A moving average of this thread's recent waits, in nanoseconds: a thread whose calls
    /// take longer than the window (timers, IO) does not spin for them.
    static RECENT_WAIT: Cell<u64> = const { Cell::new(0) };
}

/// How many waiting callers may spin at once: one core is left to the bridge's thread.
fn max_spinners() -> usize {
    static MAX: OnceLock<usize> = OnceLock::new();
    *MAX.get_or_init(|| {
        thread::available_parallelism()
            .map_or(1, |cores| cores.get())
            .saturating_sub(1)
    })
}

/// Spins until `ready` returns `true`, for at most the window (and never past `deadline`).
///
/// Returns when the spin started by the clock, or `None` if `ready` returned `true` before
/// the clock was first read: an answer that quick needs no reading at all (a read costs a
/// good part of a fast round trip). Does not spin if this thread's recent waits were long, or
/// if enough other callers are spinning already.
pub(crate) fn caller(ready: impl Fn() -> bool, deadline: Option<Instant>) -> Option<Instant> {
    // A model checks the parking protocol; a spin would only multiply its interleavings.
    if cfg!(loopbridge_loom) {
        ready();
        return None;
    }
    if RECENT_WAIT.try_with(Cell::get).unwrap_or(u64::MAX) > WINDOW.as_nanos() as u64
        || WAITERS.load(Ordering::Relaxed) > max_spinners()
    {
        return (!ready()).then(Instant::now);
    }
    for _ in 0..CHECKS_BETWEEN_READS {
        if ready() {
            return None;
        }
        hint::spin_loop();
    }
    let started = Instant::now();
    let limit = started + WINDOW;
    let limit = deadline.map_or(limit, |deadline| deadline.min(limit));
    until(&ready, started, limit);
    Some(started)
}

/// In a forked child: the callers that were waiting in the parent did not come along.
pub(crate) fn forget_waiters() {
    WAITERS.store(0, Ordering::Relaxed);
}

/// Counts a caller as waiting while the guard lives.
pub(crate) struct Waiting(());

impl Waiting {
    pub(crate) fn new() -> Waiting {
        WAITERS.fetch_add(1, Ordering::Relaxed);
        Waiting(())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        WAITERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Records how long this thread's wait took, for [`caller`]'s next decision.
pub(crate) fn record_wait(took: Duration) {
    let sample = took.as_nanos().min(u64::MAX as u128) as u64;
    let _ = RECENT_WAIT.try_with(|recent| {
        let old = recent.get();
        recent.set(old - old / 4 + sample / 4);
    });
}

/// How many looks a spin takes between two readings of the clock.
const CHECKS_BETWEEN_READS: u32 = 16;

/// Polls `found` until it returns `true` or `limit` passes, busy for a while after `start`,
/// then yielding. (The caller passes the clock reading it already has: reading it costs more
/// than a look.)
pub(crate) fn until(found: &impl Fn() -> bool, start: Instant, limit: Instant) -> bool {
    let mut round = 0u32;
    loop {
        if found() {
            return true;
        }
        round = round.wrapping_add(1);
        if round % CHECKS_BETWEEN_READS == 0 {
            let now = Instant::now();
            if now >= limit {
                return false;
            }
            if now - start >= BUSY {
                thread::yield_now();
                continue;
            }
        }
        hint::spin_loop();
    }
}
