//! A run: its rounds, each on a fresh bridge, with its callers, its controller and its checks.

use std::{
    any::Any,
    io::{self, Write},
    panic::{self, AssertUnwindSafe},
    sync::{Arc, atomic::Ordering},
    thread,
    time::{Duration, Instant},
};

use crate::{Suite, support::bounded_reporting};

use super::{callers::*, checks::*, controller::*, ledger::*, profile::*, record::*};

/// Runs the stress test on bridges of `suite`'s adapter (the forced wedge blocks as many
/// threads as the suite says the runtime has).
///
/// `name` names the test function, for the replay command.
///
/// # Panics
///
/// With the seed and the replay command, on any failed check or a hang.
///
/// ```no_run
/// use loopbridge::SmolRuntime;
/// use loopbridge_conformance::{Suite, stress};
///
/// #[test]
/// fn smol_one_thread() {
///     stress::run("smol_one_thread", &Suite::new(SmolRuntime::start));
/// }
/// # fn main() {}
/// ```
pub fn run(name: &str, suite: &Suite) {
    quiet_deliberate_panics();
    let profile = Profile::from_env();
    let seed = seed_from_env();
    let replay = format!(
        "LOOPBRIDGE_STRESS_SEED={seed}{} cargo test -p {} --test stress {name}",
        if profile.name == "long" {
            " LOOPBRIDGE_STRESS=long"
        } else {
            ""
        },
        // Set by cargo for the test binary it runs: the package whose test this is.
        std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".into()),
    );
    // Straight to stderr, past the test harness's capture: the seed is always in the log.
    let _ = writeln!(
        io::stderr(),
        "stress[{name}]: seed={seed} profile={} ({} callers x {} ops x {} rounds); replay: {replay}",
        profile.name,
        profile.callers,
        profile.ops_per_caller,
        profile.rounds
    );
    let started = Instant::now();
    for r in 0..profile.rounds {
        let round_seed = Rng::stream(seed, 1_000_000 + r as u64).next_u64();
        let summary = guarded_round(name, &profile, suite, round_seed, &replay);
        let _ = writeln!(
            io::stderr(),
            "stress[{name}]: round {}/{} ok in {:.2?}: {summary}",
            r + 1,
            profile.rounds,
            started.elapsed()
        );
    }
}

/// One round on a worker thread, failing with the seed if it does not end in time.
fn guarded_round(name: &str, profile: &Profile, suite: &Suite, seed: u64, replay: &str) -> String {
    let ledger = Arc::new(Ledger::new(
        profile.callers * profile.ops_per_caller + CONTROLLER_IDS,
    ));
    let round = Arc::new(Round::new(profile.callers, ledger));
    let what = format!("stress[{name}] round (seed {seed})");
    let on_hang = {
        let (round, replay) = (round.clone(), replay.to_owned());
        move || {
            round.release_all();
            let doing: Vec<String> = round
                .doing
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    let d = lock(d);
                    (d.as_str() != "done").then(|| format!("caller {i}: {d}"))
                })
                .collect();
            format!(
                "A hang while {}. progress {} ops, shutdown returned: {}, futures created {} \
                 dropped {}; callers still running: {doing:#?}\nreplay: {replay}",
                *lock(&round.phase),
                round.progress.load(Ordering::Acquire),
                round.shutdown_returned.load(Ordering::Acquire),
                round.ledger.created(),
                round.ledger.dropped(),
            )
        }
    };
    let (profile_here, suite_here) = (profile.clone(), suite.clone());
    let outcome = bounded_reporting(&what, profile.hang_limit, on_hang, move || {
        panic::catch_unwind(AssertUnwindSafe(|| {
            one_round(&profile_here, &suite_here, seed, round)
        }))
    });
    match outcome {
        Ok(Ok(summary)) => summary,
        Ok(Err(failures)) => panic!(
            "stress[{name}]: {} failed check(s) (round seed {seed}):\n{failures}\nreplay: {replay}",
            failures.lines().filter(|l| l.starts_with("- ")).count()
        ),
        Err(payload) => {
            let text = panic_id(payload).err().unwrap_or_default();
            panic!(
                "stress[{name}]: the round panicked (round seed {seed}): {text}\nreplay: {replay}"
            )
        }
    }
}

/// Runs one round and checks it; returns a summary, or the failures.
fn one_round(
    profile: &Profile,
    suite: &Suite,
    seed: u64,
    round: Arc<Round>,
) -> Result<String, String> {
    let started = Instant::now();
    let threads = suite.thread_count();
    let bridge = suite
        .builder()
        .probe_timeout(PROBE_TIMEOUT)
        .shutdown_grace(SHUTDOWN_GRACE)
        .build();
    let total_ops = profile.callers * profile.ops_per_caller;
    let callers: Vec<_> = (0..profile.callers)
        .map(|i| {
            let bridge = bridge.clone();
            let round = round.clone();
            let ops = profile.ops_per_caller;
            thread::Builder::new()
                .name(format!("stress-caller-{i}"))
                .spawn(move || caller(i, ops, seed, bridge, round))
                .expect("spawn a caller")
        })
        .collect();
    let wedge = {
        let bridge = bridge.clone();
        let round = round.clone();
        let callers = profile.callers;
        let rng = Rng::stream(seed, 0);
        thread::Builder::new()
            .name("stress-wedger".into())
            .spawn(move || wedger(threads, total_ops, rng, bridge, round, callers))
            .expect("spawn the wedger")
    };
    let shut = {
        let bridge = bridge.clone();
        let round = round.clone();
        let callers = profile.callers;
        let rng = Rng::stream(seed, u64::MAX);
        thread::Builder::new()
            .name("stress-shutter".into())
            .spawn(move || shutter(threads, total_ops, rng, bridge, round, callers))
            .expect("spawn the shutter")
    };
    *lock(&round.phase) = "running the operations";
    let mut failures = Vec::new();
    let mut records = Vec::with_capacity(total_ops + CONTROLLER_IDS);
    for (i, handle) in callers.into_iter().enumerate() {
        match handle.join() {
            Ok(mine) => {
                if mine.len() != profile.ops_per_caller {
                    failures.push(format!(
                        "caller {i} recorded {} results for {} operations",
                        mine.len(),
                        profile.ops_per_caller
                    ));
                }
                records.extend(mine);
            }
            Err(payload) => failures.push(format!(
                "caller {i} panicked outside an operation: {:?}",
                panic_id(payload)
            )),
        }
    }
    *lock(&round.phase) = "waiting for the controller threads";
    let joined = (wedge.join(), shut.join());
    let (mut report, mut shutdown) = match joined {
        (Ok(report), Ok(shutdown)) => (report, shutdown),
        (wedged, shut) => {
            round.release_all();
            let why = |r: Result<(), Box<dyn Any + Send>>| r.err().map(panic_id);
            return Err(format!(
                "- a controller thread panicked: wedger {:?}, shutter {:?}",
                why(wedged.map(drop)),
                why(shut.map(drop))
            ));
        }
    };
    let ops_elapsed = started.elapsed();
    records.append(&mut report.records);
    records.append(&mut shutdown.records);
    round.release_all();

    // Every future must be dropped once the runtimes have let go of them: poll, do not sleep.
    *lock(&round.phase) = "waiting for every future to be dropped";
    let ledger = &round.ledger;
    let settle_began = Instant::now();
    while ledger.dropped() < ledger.created() && settle_began.elapsed() < SETTLE {
        thread::sleep(Duration::from_millis(2));
    }
    let settled_in = settle_began.elapsed();

    // With every thread released, a second shutdown sees the last generation's threads exit.
    *lock(&round.phase) = "shutting down again";
    let second_shutdown = bridge.shutdown_timeout(GRACE);
    let stats = bridge.stats();
    let shutdown_began = (*lock(&round.shutdown_began)).expect("the controller shut down");

    check_ledger(ledger, &records, &mut failures);
    check_records(&records, shutdown_began, &mut failures);
    // The forced wedge is due a retirement only if its timed call ended before the shutdown
    // began: a shutdown closes the generation first, and a probe skips a closed generation.
    let wedge_before_shutdown =
        report.wedge_entered && report.wedge_call_ended.is_some_and(|t| t < shutdown_began);
    check_stats(&stats, &records, wedge_before_shutdown, &mut failures);
    if shutdown.took > SHUTDOWN_GRACE + GRACE {
        failures.push(format!(
            "shutdown took {:?}, past its grace {SHUTDOWN_GRACE:?} plus {GRACE:?}",
            shutdown.took
        ));
    }
    if !second_shutdown {
        failures.push(
            "a second shutdown, after every blocker was released, did not see the runtime's \
             threads exit within the grace period"
                .into(),
        );
    }
    if !bridge.is_shutdown() {
        failures.push("the bridge does not report itself shut down".into());
    }
    *lock(&round.phase) = "dropping the bridge";
    drop(bridge);

    let summary = format!(
        "{} ops in {ops_elapsed:.2?} on {threads} runtime thread(s); futures created {} \
         dropped {} (settled in {settled_in:.2?}); {stats:?}; forced wedge before shutdown: \
         {wedge_before_shutdown} (attempts {}); shutdown with every thread blocked: {}, took \
         {:.2?}, threads exited: {}; latch rotations {}; {}",
        records.len(),
        ledger.created(),
        ledger.dropped(),
        report.wedge_attempts,
        shutdown.wedged,
        shutdown.took,
        shutdown.all_exited,
        report.rotations,
        outcomes(&records),
    );
    if failures.is_empty() {
        Ok(summary)
    } else {
        let shown = failures.len().min(40);
        let mut text = String::new();
        for failure in &failures[..shown] {
            text.push_str("- ");
            text.push_str(failure);
            text.push('\n');
        }
        if failures.len() > shown {
            text.push_str(&format!("- ... and {} more\n", failures.len() - shown));
        }
        text.push_str(&format!("summary: {summary}"));
        Err(text)
    }
}
