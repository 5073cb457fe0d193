//! Loop reuse vs per-call loops, measured side by side in one process.
//!
//! ```sh
//! cargo run --release --example compare             # the full table, a few minutes
//! cargo run --release --example compare -- --quick  # under 30 seconds
//! cargo run --release --example compare -- --json   # one JSON object per cell
//! cargo run --release --example compare -- --svg compare.svg
//! cargo run --release --example compare -- --json-out run.json > run.txt  # both, one run
//! ```
//!
//! Every cell is one strategy running one workload from 1, 4 or 16 caller threads for a fixed
//! time. Ratios between cells of one run hold on a noisy machine; absolute times do not.
//!
//! After the table come the fast path (back-to-back ready calls against a spin-handoff floor
//! and the reqwest::blocking pattern, in interleaved rounds) and the fast path under load
//! (`load.rs`: one call parked in flight, a paced caller's CPU, busy cores), then real HTTP
//! clients (`clients.rs`: the real reqwest::blocking beside reqwest's async client on a
//! bridge, on the same server), and how long a cancelled call takes to return (`cancel.rs`).

mod cancel;
mod clients;
mod json;
mod latency;
mod load;
mod os;
mod patterns;
mod report;

use std::{
    process::ExitCode,
    sync::{
        Arc, Barrier,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use latency::Latencies;
use load::ready_median;
use patterns::{Kind, Session, Strategy, Target, Workload, step};

#[global_allocator]
static ALLOCATOR: os::Counting = os::Counting;

const USAGE: &str = "\
Usage: compare [--quick] [--json] [--json-out FILE] [--svg FILE]

Measures loopbridge (persistent, runtime-driven and caller-driven, and per-call, on smol,
tokio current_thread and tokio multi_thread) against reference patterns (a static tokio
runtime's block_on, block_on inline, a raw thread handoff, the reqwest::blocking design) on
five workloads from 1, 4 and 16 caller threads; then real HTTP clients: reqwest::blocking,
and reqwest's async client on a static runtime and on loopbridge bridges.

Options:
  --quick       short cells: the whole run takes under 30 seconds
  --json        print one JSON object per cell (a JSON array) instead of the table
  --json-out FILE
                also write that JSON to FILE, beside the table: both from one run
  --svg FILE    also write a chart of median latencies to FILE
  -h, --help    print this help

Figures per cell: median and p99 latency, calls per second, CPU time per call (process
user+system time), threads created (machine-wide count from /proc/stat), peak extra open
file descriptors (sampled every 2 ms), and TCP connections accepted by the servers, which run
in a child process so that their threads, descriptors and CPU stay out of the figures.";

/// Caller-thread counts each workload runs with.
pub const CALLERS: [usize; 3] = [1, 4, 16];

struct Options {
    quick: bool,
    json: bool,
    json_out: Option<String>,
    svg: Option<String>,
}

/// The options, or `None` for `--help`.
fn parse(args: lexopt::Parser) -> Result<Option<Options>, lexopt::Error> {
    use lexopt::prelude::*;
    let mut options = Options {
        quick: false,
        json: false,
        json_out: None,
        svg: None,
    };
    let mut args = args;
    while let Some(arg) = args.next()? {
        match arg {
            Long("quick") => options.quick = true,
            Long("json") => options.json = true,
            Long("json-out") => options.json_out = Some(args.value()?.string()?),
            Long("svg") => options.svg = Some(args.value()?.string()?),
            Short('h') | Long("help") => return Ok(None),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Some(options))
}

fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("--serve") {
        os::serve();
        return ExitCode::SUCCESS;
    }
    let options = match parse(lexopt::Parser::from_env()) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };

    let plan = if options.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    let servers = os::Servers::spawn();
    let report = run(&plan, &servers);
    if options.json {
        println!("{}", json::render(&report));
    } else {
        print!("{}", report::table(&report, plan.cell));
    }
    if let Some(file) = options.json_out {
        if let Err(err) = std::fs::write(&file, json::render(&report)) {
            eprintln!("error: could not write {file}: {err}");
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {file}");
    }
    if let Some(file) = options.svg {
        if let Err(err) = std::fs::write(&file, report::svg(&report.cells)) {
            eprintln!("error: could not write {file}: {err}");
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {file}");
    }
    ExitCode::SUCCESS
}

/// How long each part of a run measures.
pub struct Plan {
    /// Each cell of the table.
    pub cell: Duration,
    /// Idle cost: how long a strategy is left alone first, and the window measured after.
    pub settle: Duration,
    pub window: Duration,
    pub fast_rounds: usize,
    pub fast_slice: Duration,
    pub load_rounds: usize,
    pub load_slice: Duration,
    pub client_rounds: usize,
    pub client_slice: Duration,
    /// Cancels timed per strategy.
    pub cancels: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            cell: Duration::from_millis(600),
            settle: Duration::from_secs(2),
            window: Duration::from_secs(1),
            fast_rounds: 9,
            fast_slice: Duration::from_millis(150),
            load_rounds: 5,
            load_slice: Duration::from_millis(150),
            client_rounds: 5,
            client_slice: Duration::from_millis(400),
            cancels: 200,
        }
    }

    fn quick() -> Plan {
        Plan {
            cell: Duration::from_millis(100),
            settle: Duration::from_millis(300),
            window: Duration::from_millis(300),
            fast_rounds: 3,
            fast_slice: Duration::from_millis(60),
            load_rounds: 2,
            load_slice: Duration::from_millis(60),
            client_rounds: 2,
            client_slice: Duration::from_millis(100),
            cancels: 30,
        }
    }
}

/// Everything a run measured.
pub struct Report {
    pub cells: Vec<Cell>,
    pub idles: Vec<Idle>,
    pub fast: FastPath,
    pub load: load::Load,
    pub clients: clients::Clients,
    pub cancels: Vec<cancel::Figures>,
}

/// Measures the whole report against `servers`.
fn run(plan: &Plan, servers: &os::Servers) -> Report {
    let target = Target {
        echo: servers.echo,
        http: servers.http,
    };
    let total = Kind::ALL.len() * Workload::ALL.len() * CALLERS.len();
    let progress = Progress::new(total);
    let started = Instant::now();
    let mut cells = Vec::with_capacity(total);
    for workload in Workload::ALL {
        for callers in CALLERS {
            for kind in Kind::ALL {
                progress.show(cells.len(), kind, workload, callers);
                // The cells report allocations per call; the fast path's timings do not count.
                cells.push(os::counted(|| {
                    measure(kind, workload, callers, plan.cell, target, servers)
                }));
            }
        }
    }
    let idles: Vec<Idle> = Kind::ALL
        .into_iter()
        .filter_map(|kind| idle(kind, plan.settle, plan.window))
        .collect();
    let fast = fast_path(plan.fast_rounds, plan.fast_slice, target, servers);
    let load = load::measure(plan.load_rounds, plan.load_slice);
    let clients = clients::measure(plan.client_rounds, plan.client_slice, target.http, servers);
    let cancels = cancel::measure(plan.cancels);
    progress.done(started.elapsed());
    Report {
        cells,
        idles,
        fast,
        load,
        clients,
        cancels,
    }
}

/// One strategy × workload × caller count, measured.
#[derive(Debug)]
pub struct Cell {
    pub kind: Kind,
    pub workload: Workload,
    pub callers: usize,
    pub calls: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub calls_per_sec: f64,
    pub cpu_ns_per_call: f64,
    pub threads_created: u64,
    pub peak_extra_fds: usize,
    pub tcp_connections: u64,
    pub allocs_per_call: f64,
}

/// A strategy left without calls: how much CPU its own threads burn.
#[derive(Debug)]
pub struct Idle {
    pub kind: Kind,
    pub settle: Duration,
    pub window: Duration,
    /// CPU time of the strategy's threads over the window, in percent of one core.
    pub cpu_percent: f64,
}

/// Thread-name prefixes of the threads each persistent strategy owns.
fn own_threads(kind: Kind) -> Option<&'static [&'static str]> {
    match kind {
        Kind::BridgeSmol
        | Kind::BridgeTokioCurrent
        | Kind::BridgeTokioMulti
        | Kind::CallerSmol
        | Kind::CallerTokioCurrent
        | Kind::CallerTokioMulti => Some(&["loopbridge-"]),
        Kind::Handoff => Some(&["ref-handoff"]),
        Kind::Reqwest => Some(&["ref-reqwest"]),
        _ => None,
    }
}

/// The fast path, measured in interleaved rounds so that a noisy neighbour moves every figure
/// of a round together: the spin-handoff floor, then each persistent strategy, per round.
pub struct FastPath {
    pub rounds: usize,
    /// Per strategy (the floor under `None`), the median round trip of each round.
    pub medians: Vec<(Option<Kind>, Vec<Duration>)>,
    /// Per strategy, the calls per second of 16 callers of a ready future, in each round.
    pub sixteen: Vec<(Kind, Vec<f64>)>,
}

/// The strategies of the fast path: the bridge on every adapter in both drive modes, a static
/// runtime's `block_on`, and the reqwest::blocking pattern.
pub const FAST_KINDS: [Kind; 10] = [
    Kind::BridgeSmol,
    Kind::BridgeTokioCurrent,
    Kind::BridgeTokioMulti,
    Kind::BridgeTokioAttached,
    Kind::CallerSmol,
    Kind::CallerTokioCurrent,
    Kind::CallerTokioMulti,
    Kind::CallerTokioAttached,
    Kind::StaticBlockOn,
    Kind::Reqwest,
];

/// Callers of the fast path's throughput figure: eight times the cores here.
pub const CROWD: usize = 16;

fn fast_path(rounds: usize, slice: Duration, target: Target, servers: &os::Servers) -> FastPath {
    let kinds = FAST_KINDS;
    let strategies: Vec<_> = kinds.iter().map(|&kind| Strategy::start(kind)).collect();
    let mut medians: Vec<(Option<Kind>, Vec<Duration>)> = std::iter::once(None)
        .chain(kinds.iter().copied().map(Some))
        .map(|k| (k, Vec::new()))
        .collect();
    let mut sixteen: Vec<(Kind, Vec<f64>)> = kinds.iter().map(|&k| (k, Vec::new())).collect();
    for _ in 0..rounds {
        medians[0].1.push(spin_floor(slice));
        for (i, strategy) in strategies.iter().enumerate() {
            ready_median(strategy, slice / 4); // warm the spin windows up
            medians[i + 1].1.push(ready_median(strategy, slice));
        }
        for (kind, series) in &mut sixteen {
            let cell = measure(*kind, Workload::Ready, CROWD, slice, target, servers);
            series.push(cell.calls_per_sec);
        }
    }
    for strategy in strategies {
        strategy.stop();
    }
    FastPath {
        rounds,
        medians,
        sixteen,
    }
}

/// The spin-handoff floor ([`patterns::SpinFloor`]): the median round trip over `budget`.
fn spin_floor(budget: Duration) -> Duration {
    let floor = patterns::SpinFloor::start();
    let mut rounds = Latencies::new();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        floor.round_trip();
        rounds.record(t.elapsed());
    }
    rounds.median()
}

fn idle(kind: Kind, settle: Duration, window: Duration) -> Option<Idle> {
    let prefixes = own_threads(kind)?;
    let strategy = Strategy::start(kind);
    strategy.run(async {});
    thread::sleep(settle);
    let before = os::thread_cpu_ns(prefixes);
    thread::sleep(window);
    let used = os::thread_cpu_ns(prefixes).saturating_sub(before);
    strategy.stop();
    Some(Idle {
        kind,
        settle,
        window,
        cpu_percent: used as f64 / window.as_nanos() as f64 * 100.0,
    })
}

fn measure(
    kind: Kind,
    workload: Workload,
    callers: usize,
    budget: Duration,
    target: Target,
    servers: &os::Servers,
) -> Cell {
    let strategy = Arc::new(Strategy::start(kind));
    let ready = Arc::new(Barrier::new(callers + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (strategy, ready, stop) = (strategy.clone(), ready.clone(), stop.clone());
            thread::Builder::new()
                .name("compare-caller".into())
                .spawn(move || {
                    let mut session = Session::default();
                    // A panic counts as a failed call; it must not leave the others at the
                    // barrier.
                    let attempt = |session: &mut Session| {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            step(kind, &strategy, workload, target, session)
                        }))
                        .unwrap_or_else(|_| Err("the call panicked".to_owned()))
                    };
                    // Warm-up, not measured: starts lazy runtimes and first connections.
                    let _ = attempt(&mut session);
                    ready.wait();
                    let mut latencies = Latencies::new();
                    let (mut errors, mut first_error) = (0u64, None);
                    loop {
                        let start = Instant::now();
                        let outcome = attempt(&mut session);
                        latencies.record(start.elapsed());
                        if let Err(err) = outcome {
                            errors += 1;
                            first_error.get_or_insert(err);
                        }
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                    }
                    (latencies, errors, first_error)
                })
                .expect("caller thread")
        })
        .collect();
    let sampler = os::FdSampler::start();
    ready.wait();
    let (cpu, tasks, conns, fds) = (
        os::cpu_ns(),
        os::tasks_created(),
        servers.connections(),
        os::open_fds(),
    );
    let allocs = os::ALLOCATIONS.load(Ordering::Relaxed);
    sampler.reset();
    let start = Instant::now();
    thread::sleep(budget);
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Latencies::new();
    let (mut errors, mut first_error) = (0, None);
    for thread in threads {
        let (mine, my_errors, my_first) = thread.join().expect("caller thread");
        latencies.merge(&mine);
        errors += my_errors;
        first_error = first_error.or(my_first);
    }
    let wall = start.elapsed();
    let allocs = os::ALLOCATIONS
        .load(Ordering::Relaxed)
        .saturating_sub(allocs);
    let cpu = os::cpu_ns().saturating_sub(cpu);
    let tasks = os::tasks_created().saturating_sub(tasks);
    let conns = servers.connections().saturating_sub(conns);
    let peak = sampler.finish();
    if let Ok(strategy) = Arc::try_unwrap(strategy) {
        strategy.stop();
    }
    let calls = latencies.count();
    Cell {
        kind,
        workload,
        callers,
        calls,
        errors,
        first_error,
        median_ns: latencies.quantile_ns(0.5),
        p99_ns: latencies.quantile_ns(0.99),
        calls_per_sec: calls as f64 / wall.as_secs_f64(),
        cpu_ns_per_call: cpu as f64 / calls as f64,
        threads_created: tasks,
        peak_extra_fds: peak.saturating_sub(fds),
        tcp_connections: conns,
        // Latencies go to histograms allocated before the cell started.
        allocs_per_call: allocs as f64 / calls as f64,
    }
}

/// A progress bar on stderr (indicatif draws it only when stderr is a terminal).
struct Progress {
    total: usize,
    bar: indicatif::ProgressBar,
}

impl Progress {
    fn new(total: usize) -> Progress {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg}")
                .expect("a valid template")
                .progress_chars("#>."),
        );
        if bar.is_hidden() {
            eprintln!("compare: measuring {total} cells...");
        }
        Progress { total, bar }
    }

    fn show(&self, done: usize, kind: Kind, workload: Workload, callers: usize) {
        self.bar.set_position(done as u64);
        self.bar.set_message(format!(
            "{} · {} · {callers} caller{}",
            kind.name(),
            workload.name(),
            if callers == 1 { "" } else { "s" },
        ));
    }

    fn done(&self, took: Duration) {
        self.bar.finish_and_clear();
        eprintln!(
            "compare: {} cells in {:.1} s",
            self.total,
            took.as_secs_f64()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, time::Duration};

    use super::*;
    use crate::json::{CellObject, Object};

    /// Short enough for a debug build in `cargo test`.
    fn tiny() -> Plan {
        Plan {
            cell: Duration::from_millis(5),
            settle: Duration::from_millis(10),
            window: Duration::from_millis(10),
            fast_rounds: 1,
            fast_slice: Duration::from_millis(5),
            load_rounds: 1,
            load_slice: Duration::from_millis(5),
            client_rounds: 1,
            client_slice: Duration::from_millis(20),
            cancels: 3,
        }
    }

    fn names(kinds: &[Kind]) -> BTreeSet<String> {
        kinds.iter().map(|kind| kind.name().to_owned()).collect()
    }

    /// A run's JSON is valid, reads back as the objects it was written from, and covers every
    /// strategy, workload and caller count, with every field: what CI checks of `--json`.
    #[test]
    fn the_json_covers_every_strategy_workload_and_caller_count() {
        let servers = os::Servers::in_process();
        let report = run(&tiny(), &servers);
        let text = json::render(&report);
        let objects: Vec<Object> = serde_json::from_str(&text).expect("valid JSON, every field");
        let written = json::objects(&report);
        assert_eq!(objects.len(), written.len());
        for (read, written) in objects.iter().zip(&written) {
            assert_eq!(read, written, "read back differently");
        }

        let mut seen = BTreeSet::new();
        let (mut idle, mut fast, mut load, mut clients, mut cancels) = (
            BTreeSet::new(),
            BTreeSet::new(),
            BTreeSet::new(),
            BTreeSet::new(),
            BTreeSet::new(),
        );
        for object in &objects {
            match object {
                Object::Cell(cell) => {
                    assert!(cell.calls > 0, "no call measured: {cell:?}");
                    seen.insert((cell.strategy.clone(), cell.workload.clone(), cell.callers));
                }
                Object::Idle(o) => drop(idle.insert(o.strategy.clone())),
                Object::Fast(o) => drop(fast.insert(o.strategy.clone())),
                Object::Load(o) => drop(load.insert(o.strategy.clone())),
                Object::Client(o) => {
                    assert!(o.calls > 0 && o.errors == 0, "{o:?}");
                    clients.insert(o.strategy.clone());
                }
                Object::Cancel(o) => {
                    assert!(o.trials > 0, "{o:?}");
                    cancels.insert(o.strategy.clone());
                }
            }
        }
        for kind in Kind::ALL {
            for workload in Workload::ALL {
                for callers in CALLERS {
                    let cell = (kind.name().to_owned(), workload.key().to_owned(), callers);
                    assert!(seen.contains(&cell), "no cell {cell:?}");
                }
            }
        }
        assert!(
            names(&[Kind::BridgeSmol, Kind::BridgeTokioCurrent, Kind::Reqwest]).is_subset(&load)
        );
        assert!(
            names(&[
                Kind::BridgeSmol,
                Kind::BridgeTokioMulti,
                Kind::BridgeTokioAttached
            ])
            .is_subset(&fast)
        );
        assert!(fast.contains("spin-handoff floor"));
        assert!(names(&[Kind::BridgeSmol, Kind::Handoff, Kind::Reqwest]).is_subset(&idle));
        let expected: BTreeSet<String> = clients::CLIENTS.iter().map(|c| c.to_string()).collect();
        assert_eq!(clients, expected);
        assert_eq!(cancels, names(&cancel::KINDS));
    }

    /// An error text with quotes and control characters (a server's message, say) still
    /// makes valid JSON, and reads back as it was.
    #[test]
    fn error_texts_are_escaped() {
        let cell = Object::Cell(CellObject {
            strategy: "s".into(),
            workload: "w".into(),
            callers: 1,
            calls: 1,
            errors: 1,
            first_error: Some("bad \"reply\"\n\t\u{1}\u{7f} \\ end".into()),
            median_ns: 1,
            p99_ns: 1,
            calls_per_sec: 1.0,
            cpu_ns_per_call: 1.0,
            threads_created: 0,
            peak_extra_fds: 0,
            tcp_connections: 0,
            allocs_per_call: 0.0,
        });
        let text = serde_json::to_string(&vec![cell.clone()]).unwrap();
        let back: Vec<Object> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, vec![cell]);
    }
}
