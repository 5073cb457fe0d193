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

/// How long a caller whose recent waits were long spins before it parks, on one call in
/// [`PROBE_EVERY`] (the others park at once): long enough for an answer from a runtime thread
/// that wakes promptly, which tells the caller that its waits have become short again. (A
/// parked caller's wait includes its own wake, so without a probe its waits might never look
/// short again.) Not on every call: with many callers queued behind each other, every wait is
/// long, and a probe on each would only take CPU from the runtime.
const PROBE: Duration = Duration::from_micros(5);

/// A caller whose recent waits were long probes on one call in this many.
const PROBE_EVERY: u32 = 8;

/// The first part of the window busy-waits; after it, every check yields the timeslice.
const BUSY: Duration = Duration::from_micros(10);

/// Callers spinning for a result right now, across all bridges: no more spin than there are
/// spare cores, or spinning would take CPU the others need. A caller parked in a long call is
/// not counted: it takes no core.
static SPINNERS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// A moving average of this thread's recent waits, in nanoseconds: a thread whose calls
    /// take longer than the window (timers, IO) only probes.
    static RECENT_WAIT: Cell<u64> = const { Cell::new(0) };

    /// This thread's calls made while its recent waits were long, for its probes.
    static LONG_WAITS: Cell<u32> = const { Cell::new(0) };
}

/// How many waiting callers may spin at once: one core is left to the bridge's thread.
pub(crate) fn max_spinners() -> usize {
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
/// good part of a fast round trip). If this thread's recent waits were long, spins only on a
/// probe, briefly; and not at all if enough other callers are spinning already.
pub(crate) fn caller(ready: impl Fn() -> bool, deadline: Option<Instant>) -> Option<Instant> {
    // A model checks the parking protocol; a spin would only multiply its interleavings.
    if cfg!(loopbridge_loom) {
        ready();
        return None;
    }
    let window = if RECENT_WAIT.try_with(Cell::get).unwrap_or(u64::MAX) <= WINDOW.as_nanos() as u64
    {
        WINDOW
    } else if LONG_WAITS
        .try_with(|waits| {
            waits.set(waits.get().wrapping_add(1));
            waits.get() % PROBE_EVERY == 0
        })
        .unwrap_or(false)
    {
        PROBE
    } else {
        return (!ready()).then(Instant::now);
    };
    for _ in 0..CHECKS_BETWEEN_READS {
        if ready() {
            return None;
        }
        hint::spin_loop();
    }
    let started = Instant::now();
    // Counted only while it spins: a caller parked in a long call takes no core.
    let Some(_spinning) = Spinning::enter() else {
        return Some(started);
    };
    let limit = started + window;
    let limit = deadline.map_or(limit, |deadline| deadline.min(limit));
    until(&ready, started, limit);
    Some(started)
}

/// In a forked child: the callers that were spinning in the parent did not come along.
pub(crate) fn forget_waiters() {
    SPINNERS.store(0, Ordering::Relaxed);
}

/// Counts a caller as spinning while the guard lives.
pub(crate) struct Spinning(());

impl Spinning {
    /// Counts the current caller in, unless enough callers spin already.
    pub(crate) fn enter() -> Option<Spinning> {
        if SPINNERS.fetch_add(1, Ordering::Relaxed) < max_spinners() {
            return Some(Spinning(()));
        }
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
        None
    }
}

impl Drop for Spinning {
    fn drop(&mut self) {
        SPINNERS.fetch_sub(1, Ordering::Relaxed);
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

#[cfg(all(test, not(loopbridge_loom)))]
mod tests {
    use std::{
        cell::Cell,
        time::{Duration, Instant},
    };

    use super::record_wait;

    /// How long the test retries before it gives up: other tests of this binary spin too,
    /// and may hold the spinning slots for a moment.
    const PATIENCE: Duration = Duration::from_secs(10);

    /// A caller whose waits were long still looks for its answer briefly before it parks, on
    /// one call in a few, so it finds out when its waits become short again; on the others it
    /// parks at once. (Before, it always parked at once: a parked caller's wait includes its
    /// wake, so its waits could stay long and it never spun again.)
    #[test]
    fn a_caller_with_long_waits_still_probes() {
        for _ in 0..8 {
            record_wait(Duration::from_secs(1));
        }
        let give_up = Instant::now() + PATIENCE;
        let mut at_once = 0;
        loop {
            // An answer that comes after a few looks: only a caller that looks on sees it.
            let looks = Cell::new(0);
            let ready = || {
                looks.set(looks.get() + 1);
                looks.get() > 20
            };
            super::caller(ready, None);
            if looks.get() > 20 {
                break;
            }
            if looks.get() == 1 {
                at_once += 1;
            }
            assert!(
                Instant::now() < give_up,
                "a caller with long waits looked {} times only, and parked",
                looks.get()
            );
        }
        assert!(at_once > 0, "a caller with long waits probed on every call");
    }
}
