//! The fast path under real load, in interleaved rounds: every figure of a round is taken
//! within a second or two of the others, so a noisy neighbour moves them together, and the
//! figures are read as ratios within a round.
//!
//! - **Parked**: back-to-back ready calls, alone and then while one other call is parked in
//!   flight (a long poll, a slow request) on the same strategy.
//! - **Paced**: one caller making a ready call every [`PACE`]; process CPU per wall second, and
//!   the calls' median latency.
//! - **Loaded**: back-to-back ready calls while two threads keep both cores busy.

use std::{
    hint,
    sync::atomic::{AtomicBool, Ordering},
    thread,
    time::{Duration, Instant},
};

use crate::{
    os,
    patterns::{Kind, Strategy},
    ready_median,
};

/// The pace of the paced figure: 10,000 calls a second.
pub const PACE: Duration = Duration::from_micros(100);

/// The strategies measured under load: the bridge's two fastest, and the reference.
pub const KINDS: [Kind; 3] = [Kind::BridgeSmol, Kind::BridgeTokioCurrent, Kind::Reqwest];

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
            let loaded_ns = nanos(with_busy_cores(2, || ready_median(strategy, slice)));
            figures[i].1.push(Round {
                alone_ns,
                parked_ns,
                paced_cpu_percent,
                paced_ns,
                loaded_ns,
            });
        }
    }
    for (_, strategy) in strategies {
        strategy.stop();
    }
    Load { rounds, figures }
}

fn nanos(d: Duration) -> f64 {
    d.as_nanos() as f64
}

/// Runs `f` while another thread has one call parked in flight on `strategy`: a future that
/// waits for a signal, sent once `f` is done.
fn with_one_parked<T>(strategy: &Strategy, f: impl FnOnce() -> T) -> T {
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
    let mut latencies = Vec::with_capacity((window.as_micros() / PACE.as_micros()) as usize + 1);
    let cpu_before = os::thread_cpu_ns(&[""]);
    let start = Instant::now();
    let mut next = start;
    while start.elapsed() < window {
        let t = Instant::now();
        strategy.run(async { hint::black_box(1u64) });
        latencies.push(t.elapsed());
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
    latencies.sort_unstable();
    (
        cpu as f64 / nanos(wall) * 100.0,
        nanos(latencies[latencies.len() / 2]),
    )
}
