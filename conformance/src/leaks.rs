//! Leak checks for any adapter: a counting global allocator, a settle check that polls
//! until this process's threads, file descriptors (Linux `/proc`) and live heap are back to a
//! baseline, and three scenarios (many calls, many bridge lifecycles, many forced
//! retirements), each described by a [`Suite`]. `tests/leaks.rs` runs them on smol, and the
//! tokio adapter's `tests/leaks.rs` on every tokio flavour.
//!
//! How a test binary uses it (it must be the only test of its binary, see [`run`]):
//!
//! ```no_run
//! use loopbridge::SmolRuntime;
//! use loopbridge_conformance::{Suite, leaks};
//!
//! #[global_allocator]
//! static ALLOC: leaks::Counting = leaks::Counting;
//!
//! #[test]
//! fn nothing_leaks() {
//!     leaks::run(&[Suite::new(SmolRuntime::start).named("smol")]);
//! }
//! # fn main() {}
//! ```

// The counting allocator forwards to the system's, and `GlobalAlloc` is an unsafe trait: the
// one `unsafe` of the test kit, each block with its `SAFETY`.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    io::{self, Write},
    sync::atomic::{AtomicUsize, Ordering},
    thread,
    time::{Duration, Instant},
};

use super::{
    Suite,
    support::{
        Latch, PATIENCE, bounded_for, bridge_threads, fd_targets, open_fds, thread_count,
        thread_names, wedge,
    },
};

// ===== The counting allocator =====

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, keeping count of the bytes and blocks currently allocated. Test code
/// only: the library itself forbids `unsafe`. A binary declares
/// `#[global_allocator] static ALLOC: Counting = Counting;`.
#[derive(Debug)]
pub struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it
// upholds `GlobalAlloc`'s contract exactly as `System` does. The counters are plain atomics:
// they never allocate and have no effect on the memory handed out. (Relaxed is enough: a block
// is freed only after it was allocated, with synchronization in between if on another thread,
// so each counter's increment precedes its decrement and never underflows.)
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
            LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
            LIVE_ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // The block moved or was resized: same count, new size. (On failure the old block
            // is untouched and still counted.)
            LIVE_BYTES.fetch_add(new_size, Ordering::Relaxed);
            LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        new
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        LIVE_ALLOCATIONS.fetch_sub(1, Ordering::Relaxed);
    }
}

// ===== Readers and the settle check =====

/// Heap growth over the baseline that [`settles`] still accepts, in bytes.
///
/// Measured: after every scenario, on every adapter, the heap comes back to the baseline to
/// the byte (checked with a zero tolerance, also with both cores kept busy), within
/// milliseconds. The tolerance is there for what may legitimately differ without scaling with
/// the work done: the last blocks still being freed when the check first looks (seen up to
/// about 2.4 KiB on from_handle under load, where tokio frees a finished task's memory just
/// after the task reported itself gone; back to zero a poll later), and process-global buffers
/// that keep their high-water capacity (async-io's reactor, a tokio application runtime's
/// workers, std's and libtest's bookkeeping) should a scheduling the warm-up did not hit grow
/// one of them once more. A leak that scales is far above it: 10,000 calls, 100 bridges or 20
/// retired runtimes leaking even one small block each, and a single leaked runtime generation
/// is tens of KiB (about 80 KiB for a smol one with its thread).
pub(crate) const HEAP_TOLERANCE_BYTES: usize = 4 * 1024;

/// Live heap blocks over the baseline that [`settles`] still accepts, for the same reasons as
/// [`HEAP_TOLERANCE_BYTES`]: a leak of one block per retirement (the fewest repetitions, 20)
/// already exceeds it, whatever the blocks' size.
pub(crate) const HEAP_TOLERANCE_BLOCKS: usize = 16;

/// How long [`settles`] polls before it gives up, and how often.
pub(crate) const SETTLE_DEADLINE: Duration = Duration::from_secs(10);
pub(crate) const SETTLE_POLL: Duration = Duration::from_millis(10);

/// The heap as the counting allocator sees it: live bytes and live blocks.
pub(crate) fn heap() -> (usize, usize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_ALLOCATIONS.load(Ordering::Relaxed),
    )
}

/// Threads, descriptors and heap at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) threads: usize,
    pub(crate) fds: usize,
    pub(crate) heap_bytes: usize,
    pub(crate) heap_blocks: usize,
}

impl Snapshot {
    /// Reads all three. The heap is read last, once the readers' own buffers are freed.
    ///
    /// # Panics
    ///
    /// Panics if the counting allocator is not the global allocator (the heap would read 0).
    pub(crate) fn now() -> Snapshot {
        let threads = thread_count();
        let fds = open_fds();
        let (heap_bytes, heap_blocks) = heap();
        assert!(
            heap_blocks > 0,
            "the binary must declare `#[global_allocator] static ALLOC: Counting = Counting;`"
        );
        Snapshot {
            threads,
            fds,
            heap_bytes,
            heap_blocks,
        }
    }

    /// Whether `self` is back to `baseline`: no more threads or descriptors, and the heap
    /// within [`HEAP_TOLERANCE_BYTES`] and [`HEAP_TOLERANCE_BLOCKS`].
    pub(crate) fn within(&self, baseline: &Snapshot) -> bool {
        self.threads <= baseline.threads
            && self.fds <= baseline.fds
            && self.heap_bytes <= baseline.heap_bytes + HEAP_TOLERANCE_BYTES
            && self.heap_blocks <= baseline.heap_blocks + HEAP_TOLERANCE_BLOCKS
    }

    /// The four numbers against `baseline`, with the differences.
    pub(crate) fn against(&self, baseline: &Snapshot) -> String {
        fn row(what: &str, now: usize, base: usize) -> String {
            format!(
                "{what}: {now} (baseline {base}, {:+})",
                now as i128 - base as i128
            )
        }
        [
            row("threads", self.threads, baseline.threads),
            row("fds", self.fds, baseline.fds),
            row("heap bytes", self.heap_bytes, baseline.heap_bytes),
            row("heap blocks", self.heap_blocks, baseline.heap_blocks),
        ]
        .join("; ")
    }
}

/// Polls every [`SETTLE_POLL`] until threads, descriptors and heap are back to `baseline`
/// (see [`Snapshot::within`]), or until `deadline` has passed. Returns how long it took, or a
/// report of all the numbers against the baseline, with the names of the threads and the
/// targets of the descriptors, to tell which ones linger.
pub(crate) fn settles(baseline: &Snapshot, deadline: Duration) -> Result<Duration, String> {
    let started = Instant::now();
    loop {
        let now = Snapshot::now();
        if now.within(baseline) {
            return Ok(started.elapsed());
        }
        if started.elapsed() >= deadline {
            return Err(format!(
                "not back to the baseline after {deadline:?}: {} \
                 (heap tolerance {HEAP_TOLERANCE_BYTES} bytes, {HEAP_TOLERANCE_BLOCKS} blocks)\n\
                 threads now: {:?}\nfds now: {:?}",
                now.against(baseline),
                thread_names(),
                fd_targets(),
            ));
        }
        thread::sleep(SETTLE_POLL);
    }
}

// ===== Scenarios =====

/// How much work each scenario does: the real run, and the warm-up's small one.
#[derive(Clone, Copy, Debug)]
struct Sizes {
    calls: usize,
    cycles: usize,
    retirements: usize,
}

const FULL: Sizes = Sizes {
    calls: 10_000,
    cycles: 100,
    retirements: 20,
};

/// The long profile, `LOOPBRIDGE_LEAKS=long`: ten times the issue's figures.
const LONG: Sizes = Sizes {
    calls: 100_000,
    cycles: 1_000,
    retirements: 200,
};

/// The run's sizes: [`FULL`] unless `LOOPBRIDGE_LEAKS=long` asks for [`LONG`].
fn profile() -> Sizes {
    match std::env::var("LOOPBRIDGE_LEAKS").as_deref() {
        Ok("long") => LONG,
        _ => FULL,
    }
}

/// Every path of the full run, at least twice.
const WARM_UP: Sizes = Sizes {
    calls: 200,
    cycles: 2,
    retirements: 2,
};

/// The deadline of the calls meant to time out in scenario 1.
const TINY: Duration = Duration::from_millis(1);
/// The probe timeout of scenario 3, and the deadline of its call that times out.
const PROBE: Duration = Duration::from_millis(50);
const WEDGED_CALL: Duration = Duration::from_millis(20);

/// Scenario 1: `calls` calls on one bridge, created here and shut down before returning: ready
/// calls, with and without a deadline; timer calls; calls that time out (a future that never
/// wakes, and a long timer whose registration must be cancelled), each followed by a probe;
/// and a spawn joined now and then.
fn many_calls(suite: &Suite, calls: usize) {
    let bridge = suite.bridge();
    let mut timeouts = 0;
    for i in 0..calls {
        match i % 100 {
            0 => {
                let err = bridge
                    .call_timeout(futures_lite::future::pending::<()>(), TINY)
                    .unwrap_err();
                assert!(err.is_timed_out(), "{}: call {i}: {err:?}", suite.name());
                timeouts += 1;
            }
            50 => {
                let err = bridge
                    .call_timeout(suite.sleep(Duration::from_secs(60)), TINY)
                    .unwrap_err();
                assert!(err.is_timed_out(), "{}: call {i}: {err:?}", suite.name());
                timeouts += 1;
            }
            25 | 75 => {
                let task = bridge.spawn(async move { i }).unwrap();
                assert_eq!(task.join().unwrap(), i);
            }
            n if n % 10 == 5 => bridge
                .call(suite.sleep(Duration::from_micros(100)))
                .unwrap(),
            n if n % 2 == 1 => {
                assert_eq!(bridge.call_timeout(async move { i }, PATIENCE).unwrap(), i);
            }
            _ => assert_eq!(bridge.call(async move { i }).unwrap(), i),
        }
    }
    assert_eq!(bridge.stats().timeouts, timeouts, "{}", suite.name());
    assert!(
        bridge.shutdown_timeout(PATIENCE),
        "{}: shutdown left threads behind",
        suite.name()
    );
}

/// Scenario 2: `cycles` bridges, each created, called (a ready call and a timer call) and shut
/// down.
fn cycles(suite: &Suite, cycles: usize) {
    for cycle in 0..cycles {
        let bridge = suite.bridge();
        assert_eq!(bridge.call(async move { cycle }).unwrap(), cycle);
        bridge
            .call(suite.sleep(Duration::from_micros(100)))
            .unwrap();
        assert!(
            bridge.shutdown_timeout(PATIENCE),
            "{}: cycle {cycle}: shutdown left threads behind",
            suite.name()
        );
    }
}

/// Scenario 3: `retirements` forced retirements on one bridge with a [`PROBE`] probe timeout:
/// tasks block every runtime thread on a latch (std blocking), a call times out, the probe
/// fails, the generation is retired, and the next call runs on a fresh runtime while the old
/// threads are still stuck (on an application's threads, once they are released). Then every
/// latch is released, so the stuck threads can exit, and the bridge is shut down.
fn retirements(suite: &Suite, retirements: usize) {
    let bridge = suite.builder().probe_timeout(PROBE).build();
    bridge.call(async {}).unwrap();
    let mut latches = Vec::with_capacity(retirements);
    for round in 0..retirements {
        let stats = bridge.stats();
        let latch = Latch::new();
        // One blocker at a time, each on a thread of its own (see `wedge`).
        let wedges = wedge(&bridge, suite.thread_count(), &latch);
        let err = bridge
            .call_timeout(async {}, WEDGED_CALL)
            .expect_err(&format!(
                "{}: round {round}: a call ran while every runtime thread was wedged",
                suite.name()
            ));
        assert!(
            err.is_timed_out(),
            "{}: round {round}: {err:?}",
            suite.name()
        );
        let after = bridge.stats();
        assert_eq!(
            after.retired,
            stats.retired + 1,
            "{}: round {round}: the probe should have failed and retired the generation",
            suite.name()
        );
        if !suite.owns_runtime() {
            latch.release();
        }
        assert_eq!(bridge.call(async move { round }).unwrap(), round);
        assert_eq!(
            bridge.stats().started,
            after.started + 1,
            "{}: round {round}: the next call must start a fresh generation",
            suite.name()
        );
        drop(wedges);
        latches.push(latch);
    }
    for latch in &latches {
        latch.release();
    }
    assert!(
        bridge.shutdown_timeout(PATIENCE),
        "{}: shutdown left threads behind",
        suite.name()
    );
}

/// What one scenario took, and how long it then took to settle.
#[derive(Debug)]
struct Timing {
    adapter: &'static str,
    /// An index into the names made before the baseline (a name made later would count).
    scenario: usize,
    took: Duration,
    settled: Duration,
    end: Snapshot,
}

/// The three scenarios.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    ManyCalls,
    Cycles,
    Retirements,
}

impl Scenario {
    const ALL: [Scenario; 3] = [Scenario::ManyCalls, Scenario::Cycles, Scenario::Retirements];

    fn name(self, sizes: Sizes) -> String {
        match self {
            Scenario::ManyCalls => format!("{} calls with timeouts", sizes.calls),
            Scenario::Cycles => format!("{} create-call-shutdown cycles", sizes.cycles),
            Scenario::Retirements => format!("{} forced retirements", sizes.retirements),
        }
    }

    fn run(self, suite: &Suite, sizes: Sizes) {
        match self {
            Scenario::ManyCalls => many_calls(suite, sizes.calls),
            Scenario::Cycles => cycles(suite, sizes.cycles),
            Scenario::Retirements => retirements(suite, sizes.retirements),
        }
    }
}

/// Runs every scenario on every suite's adapter, one after the other, each followed by a settle check
/// check against one baseline, and panics with the numbers at the first that does not
/// settle. Prints the timings at the end (seen with `--nocapture`).
///
/// It must be the only test of its binary. libtest runs the tests of a binary on parallel
/// threads, and the process's threads, descriptors and heap are shared by all of them: a
/// second test running meanwhile would be counted as a leak, or hide one. So each binary has
/// one `#[test]` that calls this, and the scenarios and adapters run sequentially inside it.
///
/// The baseline is taken after a warm-up that runs every scenario, small, on every adapter:
/// what exists after it is legitimately process-global and permanent. That is async-io's
/// reactor (its "async-io" thread, its epoll and notification descriptors, its timer map),
/// this test thread's caches (its waker, std's `thread::current`, tokio's and tracing's
/// thread-local contexts), the lazily registered `tracing` callsites of the bridge's lifecycle
/// events, and, for from_handle, the application's runtime, created before the warm-up and
/// alive until after the checks. Everything a bridge creates after the baseline (its runtimes,
/// their threads, descriptors and tasks) counts.
///
/// Nothing may print before the end: libtest captures the output of the test's threads into
/// a buffer that grows on the heap.
pub fn run(suites: &[Suite]) {
    let sizes = profile();
    let limit = Duration::from_secs(if sizes.calls > FULL.calls { 3_600 } else { 300 });
    let suites = suites.to_vec();
    bounded_for("leak checks", limit, move || {
        let mut timings = Vec::with_capacity(suites.len() * Scenario::ALL.len());
        for suite in &suites {
            for scenario in Scenario::ALL {
                scenario.run(suite, WARM_UP);
            }
        }
        let names = Scenario::ALL.map(|scenario| scenario.name(sizes));
        let baseline = quiet_baseline();
        for suite in &suites {
            for (index, scenario) in Scenario::ALL.into_iter().enumerate() {
                let name = &names[index];
                let started = Instant::now();
                scenario.run(suite, sizes);
                let took = started.elapsed();
                match settles(&baseline, SETTLE_DEADLINE) {
                    Ok(settled) => timings.push(Timing {
                        adapter: suite.name(),
                        scenario: index,
                        took,
                        settled,
                        end: Snapshot::now(),
                    }),
                    Err(report) => panic!("{}: {name}: {report}", suite.name()),
                }
            }
        }
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "baseline: {baseline:?}");
        for t in &timings {
            let _ = writeln!(
                out,
                "{:<24} {:<34} took {:>8.1?}, settled in {:>7.1?}: {}",
                t.adapter,
                names[t.scenario],
                t.took,
                t.settled,
                t.end.against(&baseline)
            );
        }
    });
}

/// A baseline taken once the warm-up's bridge threads have all exited and the numbers hold
/// still for a few polls in a row.
fn quiet_baseline() -> Snapshot {
    let deadline = Instant::now() + SETTLE_DEADLINE;
    let mut last = Snapshot::now();
    let mut steady = 0;
    while steady < 5 || bridge_threads() > 0 {
        thread::sleep(SETTLE_POLL);
        let now = Snapshot::now();
        steady = if now == last { steady + 1 } else { 0 };
        last = now;
        assert!(
            Instant::now() < deadline,
            "the warm-up never settled: {last:?}; threads: {:?}",
            thread_names()
        );
    }
    last
}
