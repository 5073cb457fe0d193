//! The fast path under real load, in interleaved rounds: every figure of a round is taken
//! within a second or two of the others, so a noisy neighbour moves them together, and the
//! figures are read as ratios within a round.
//!
//! - **Parked**: back-to-back ready calls, alone and then while one other call is parked in
//!   flight (a long poll, a slow request) on the same strategy.
//! - **Paced**: one caller making a ready call every [`PACE`]; process CPU per wall second, and
//!   the calls' median latency. Measured twice: on the strategy that has just served the
//!   back-to-back calls, and on a fresh one that has only ever been paced. (Where the OS runs
//!   the runtime's thread decides most of this figure on a VM: next to the caller, a wake
//!   costs a few µs; on another vCPU that went idle, tens of µs, charged as CPU time. A thread
//!   that has spun on its own core tends to stay there.)
//! - **Loaded**: back-to-back ready calls while two threads keep both cores busy.

use std::{
    hint,
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use crate::{
    latency::Latencies,
    os,
    patterns::{Kind, Strategy},
};

/// The pace of the paced figure: 10,000 calls a second.
pub const PACE: Duration = Duration::from_micros(100);

/// The strategies measured under load: the bridge on smol and on tokio's two owned flavours, in
/// both drive modes, a static runtime's `block_on`, and the reference.
pub const KINDS: [Kind; 8] = [
    Kind::BridgeSmol,
    Kind::BridgeTokioCurrent,
    Kind::BridgeTokioMulti,
    Kind::CallerSmol,
    Kind::CallerTokioCurrent,
    Kind::CallerTokioMulti,
    Kind::StaticBlockOn,
    Kind::Reqwest,
];

/// One round's figures for one strategy.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// Median round trip of back-to-back ready calls, alone.
    pub alone_ns: f64,
    /// The same, while one other call is parked in flight.
    pub parked_ns: f64,
    /// Process CPU per wall second at [`PACE`], in percent of one core.
    pub paced_cpu_percent: f64,
    /// Median round trip at [`PACE`].
    pub paced_ns: f64,
    /// The same two figures on a fresh strategy, started for them.
    pub fresh_cpu_percent: f64,
    pub fresh_ns: f64,
    /// Median round trip of back-to-back ready calls with both cores kept busy.
    pub loaded_ns: f64,
}

/// Every round's figures, per strategy.
pub struct Load {
    pub rounds: usize,
    pub figures: Vec<(Kind, Vec<Round>)>,
}

/// Measures `rounds` interleaved rounds, each figure over `slice`.
pub fn measure(rounds: usize, slice: Duration) -> Load {
    let strategies: Vec<_> = KINDS
        .iter()
        .map(|&kind| (kind, Strategy::start(kind)))
        .collect();
    let mut figures: Vec<(Kind, Vec<Round>)> = KINDS.iter().map(|&k| (k, Vec::new())).collect();
    for _ in 0..rounds {
        for (i, (_, strategy)) in strategies.iter().enumerate() {
            ready_median(strategy, slice / 4); // warm up
            let alone_ns = nanos(ready_median(strategy, slice));
            let parked_ns = nanos(with_one_parked(strategy, || ready_median(strategy, slice)));
            let (paced_cpu_percent, paced_ns) = paced(strategy, slice);
            let fresh = Strategy::start(KINDS[i]);
            let (fresh_cpu_percent, fresh_ns) = paced(&fresh, slice);
            fresh.stop();
            let loaded_ns = nanos(with_busy_cores(2, || ready_median(strategy, slice)));
            figures[i].1.push(Round {
                alone_ns,
                parked_ns,
                paced_cpu_percent,
                paced_ns,
                fresh_cpu_percent,
                fresh_ns,
                loaded_ns,
            });
        }
    }
    for (_, strategy) in strategies {
        strategy.stop();
    }
    Load { rounds, figures }
}

/// The median round trip of back-to-back calls of a ready future through `strategy`, from this
/// thread, over `budget`.
pub fn ready_median(strategy: &Strategy, budget: Duration) -> Duration {
    let mut rounds = Latencies::new();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        strategy.run(async { std::hint::black_box(1u64) });
        rounds.record(t.elapsed());
    }
    rounds.median()
}

fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Runs `f` while another thread has one call parked in flight on `strategy`: a future that
/// waits for a signal, sent once `f` is done.
pub fn with_one_parked<T>(strategy: &Strategy, f: impl FnOnce() -> T) -> T {
    let (release, released) = async_channel::bounded::<()>(1);
    thread::scope(|scope| {
        let parked = scope.spawn(|| {
            strategy.run(async move {
                let _ = released.recv().await;
            })
        });
        // Long enough for the call to be in flight and its caller parked.
        thread::sleep(Duration::from_millis(20));
        let out = f();
        let _ = release.send_blocking(());
        parked.join().expect("the parked call");
        out
    })
}

/// Runs `f` while `threads` threads spin, keeping the cores busy.
fn with_busy_cores<T>(threads: usize, f: impl FnOnce() -> T) -> T {
    let stop = AtomicBool::new(false);
    thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    hint::spin_loop();
                }
            });
        }
        let out = f();
        stop.store(true, Ordering::Relaxed);
        out
    })
}

/// One caller making a ready call every [`PACE`] for `window`: the process's CPU (every thread
/// of it, the caller's included) per wall second, in percent of a core, and the calls' median
/// round trip. The caller sleeps between calls, as a paced program does.
fn paced(strategy: &Strategy, window: Duration) -> (f64, f64) {
    let calls = (window.as_micros() / PACE.as_micros()).max(1) as u64;
    let (cpu, wall, latencies) = paced_calls(strategy, calls);
    (cpu as f64 / nanos(wall) * 100.0, nanos(latencies.median()))
}

/// Makes `calls` ready calls through `strategy`, one every [`PACE`] (sleeping in between):
/// the process's CPU time over them in nanoseconds, the wall time, and each call's round trip.
pub fn paced_calls(strategy: &Strategy, calls: u64) -> (u64, Duration, Latencies) {
    let mut latencies = Latencies::new();
    let cpu_before = os::thread_cpu_ns(&[""]);
    let start = Instant::now();
    let mut next = start;
    for _ in 0..calls {
        let t = Instant::now();
        strategy.run(async { hint::black_box(1u64) });
        latencies.record(t.elapsed());
        next += PACE;
        let now = Instant::now();
        if next > now {
            thread::sleep(next - now);
        } else {
            next = now;
        }
    }
    let wall = start.elapsed();
    let cpu = os::thread_cpu_ns(&[""]).saturating_sub(cpu_before);
    (cpu, wall, latencies)
}
