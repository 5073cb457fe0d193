//! Criterion benches of the core comparisons, for tracking regressions: a round trip of a
//! ready future, a 1 ms timer, and an HTTP/1.1 GET on a kept connection, each through the
//! persistent bridge, a runtime per call, and the reference patterns. The strategies and
//! workloads are the `compare` example's own. The ready group also times the spin-handoff
//! floor, and prints allocations per call, so that the fast path's goals (ratios to the floor
//! and to the reqwest::blocking pattern) can be read off one run; and it times `getpid`, the
//! cost a fork check by process id would add to every call.
//!
//! `ready_16_callers` times ready calls from 16 threads at once (per call of the crowd), in both
//! drive modes and for a static tokio runtime's `block_on`, the reference of `Drive::Caller`.
//!
//! Two groups track the fast path under load (the `compare` example's "Under load"): `parked`
//! times a ready call while another call is parked in flight, and `paced` reports, as its
//! "time", the process CPU per call of one caller making a ready call every 100 µs.
//!
//! ```sh
//! cargo bench --bench bridge
//! ```

#[allow(dead_code)]
#[path = "../examples/compare/latency.rs"]
mod latency;
#[allow(dead_code)]
#[path = "../examples/compare/load.rs"]
mod load;
#[allow(dead_code)]
#[path = "../examples/compare/os.rs"]
mod os;
#[path = "../examples/compare/patterns.rs"]
mod patterns;

use std::{sync::atomic::Ordering, time::Duration};

use criterion::{Criterion, criterion_group, criterion_main};
use patterns::{Kind, Session, SpinFloor, Strategy, Target, Workload, step};

#[global_allocator]
static ALLOCATOR: os::Counting = os::Counting;

/// Heap allocations per call of `workload` through `kind`, process-wide, over 10,000 calls.
fn allocations_per_call(kind: Kind, workload: Workload, target: Target) -> f64 {
    const CALLS: u64 = 10_000;
    let strategy = Strategy::start(kind);
    let mut session = Session::default();
    step(kind, &strategy, workload, target, &mut session).expect("warm-up call");
    // Counted apart from the timings: counting costs an atomic per allocation.
    let allocations = os::counted(|| {
        let before = os::ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..CALLS {
            step(kind, &strategy, workload, target, &mut session).expect("call");
        }
        os::ALLOCATIONS.load(Ordering::Relaxed) - before
    });
    drop(session);
    strategy.stop();
    allocations as f64 / CALLS as f64
}

fn group(c: &mut Criterion, workload: Workload, kinds: &[Kind], target: Target) {
    for &kind in kinds {
        if workload == Workload::Ready {
            println!(
                "allocations per call: {} / {}: {:.2}",
                workload.key(),
                kind.name(),
                allocations_per_call(kind, workload, target)
            );
        }
    }
    let mut group = c.benchmark_group(workload.key());
    group.measurement_time(Duration::from_secs(3));
    if workload == Workload::Ready {
        // The fast path's reference: its goals are ratios to this, from the same run.
        let floor = SpinFloor::start();
        group.bench_function("spin-handoff floor", |b| b.iter(|| floor.round_trip()));
        // What a fork check by process id would add to every call (a system call); the
        // bridge's check is one atomic load instead (see `src/fork.rs`).
        group.bench_function("process id (getpid)", |b| b.iter(std::process::id));
    }
    for &kind in kinds {
        let strategy = Strategy::start(kind);
        let mut session = Session::default();
        group.bench_function(kind.name(), |b| {
            b.iter(|| step(kind, &strategy, workload, target, &mut session).expect("call"))
        });
        drop(session);
        strategy.stop();
    }
    group.finish();
}

/// The time per call of 16 threads making ready calls at once, for each strategy: criterion's
/// "time" is the wall time of one call of the crowd (16 callers making `calls / 16` calls each),
/// so its inverse is the crowd's calls per second.
fn crowd(c: &mut Criterion, kinds: &[Kind]) {
    const CALLERS: u64 = 16;
    let mut group = c.benchmark_group("ready_16_callers");
    group.measurement_time(Duration::from_secs(3));
    for &kind in kinds {
        let strategy = std::sync::Arc::new(Strategy::start(kind));
        group.bench_function(kind.name(), |b| {
            b.iter_custom(|calls| {
                let each = calls.div_ceil(CALLERS);
                let start = std::time::Instant::now();
                let callers: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        let strategy = strategy.clone();
                        std::thread::spawn(move || {
                            for _ in 0..each {
                                strategy.run(async { std::hint::black_box(1u64) });
                            }
                        })
                    })
                    .collect();
                for caller in callers {
                    caller.join().expect("a caller");
                }
                start.elapsed() / CALLERS as u32
            })
        });
        if let Ok(strategy) = std::sync::Arc::try_unwrap(strategy) {
            strategy.stop();
        }
    }
    group.finish();
}

/// A ready call while one other call is parked in flight on the same strategy, and the process
/// CPU per call at 10,000 calls a second (criterion's "time" is CPU time there, not wall time).
fn under_load(c: &mut Criterion, kinds: &[Kind]) {
    let mut group = c.benchmark_group("parked");
    group.measurement_time(Duration::from_secs(3));
    for &kind in kinds {
        let strategy = Strategy::start(kind);
        load::with_one_parked(&strategy, || {
            group.bench_function(kind.name(), |b| {
                b.iter(|| strategy.run(async { std::hint::black_box(1u64) }))
            });
        });
        strategy.stop();
    }
    group.finish();
    let mut group = c.benchmark_group("paced");
    group.measurement_time(Duration::from_secs(3));
    for &kind in kinds {
        let strategy = Strategy::start(kind);
        group.bench_function(format!("{}: CPU per call", kind.name()), |b| {
            b.iter_custom(|calls| Duration::from_nanos(load::paced_calls(&strategy, calls).0))
        });
        strategy.stop();
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let servers = os::InProcess::start();
    let target = Target {
        echo: servers.echo,
        http: servers.http,
    };
    use Kind::*;
    group(
        c,
        Workload::Ready,
        &[
            BridgeSmol,
            BridgeTokioCurrent,
            BridgeTokioMulti,
            CallerSmol,
            CallerTokioCurrent,
            CallerTokioMulti,
            StaticBlockOn,
            PerCallSmol,
            PerCallTokioCurrent,
            Inline,
            Handoff,
            Reqwest,
        ],
        target,
    );
    // Both drive modes on smol and tokio's owned flavours, and their references: the
    // strategies of `compare`'s "Under load".
    crowd(c, &load::KINDS);
    group(
        c,
        Workload::Timer,
        &[BridgeSmol, BridgeTokioCurrent, PerCallSmol, Reqwest],
        target,
    );
    group(
        c,
        Workload::Http,
        &[
            BridgeSmol,
            BridgeTokioCurrent,
            PerCallTokioCurrent,
            Inline,
            Reqwest,
        ],
        target,
    );
    under_load(
        c,
        &[
            BridgeSmol,
            BridgeTokioCurrent,
            BridgeTokioMulti,
            CallerSmol,
            CallerTokioCurrent,
            StaticBlockOn,
            Reqwest,
        ],
    );
    servers.stop();
}

criterion_group!(bridge, benches);
criterion_main!(bridge);
