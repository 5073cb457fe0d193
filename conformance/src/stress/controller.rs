//! The controller: it blocks runtime threads (forcing retirements) and shuts the bridge down
//! at a random point, while the callers run.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use loopbridge::{Bridge, BridgeError, BridgeTask};

use crate::support::Latch;

use super::{callers::*, profile::*, record::*};

#[derive(Default)]
pub(super) struct ControllerReport {
    pub(super) records: Vec<Record>,
    /// Every runtime thread was seen blocked by the forced wedge, and a timed call followed.
    pub(super) wedge_entered: bool,
    pub(super) wedge_attempts: usize,
    /// When that timed call returned: a retirement is due if it was before the shutdown.
    pub(super) wedge_call_ended: Option<Instant>,
    pub(super) rotations: usize,
}

/// Rotates the callers' latch (releasing the blockers that wait on it) and wedges every
/// runtime thread once, at a random point.
pub(super) fn wedger(
    threads: usize,
    total_ops: usize,
    mut rng: Rng,
    bridge: Bridge,
    round: Arc<Round>,
    callers: usize,
) -> ControllerReport {
    let mut report = ControllerReport::default();
    let wedge_at = total_ops * rng.range(5, 30) as usize / 100;
    let mut wedged = false;
    let mut rotate_at = Instant::now() + rng.millis(20, 120);
    loop {
        // Read first: once every caller is done, `progress` is complete. Wait for the shutdown
        // too: callers race through their last operations once it begins, and releasing every
        // latch then would free the threads the shutter blocked before the shutdown ends.
        let done = round.callers_done.load(Ordering::Acquire) == callers
            && round.shutdown_returned.load(Ordering::Acquire);
        let progress = round.progress.load(Ordering::Acquire);
        if !wedged && progress >= wedge_at {
            // A few attempts: a blocker may land on a generation that is retired before it
            // runs (callers' blockers and timeouts retire generations all the time).
            wedged = true;
            while report.wedge_attempts < 10 && lock(&round.shutdown_began).is_none() {
                report.wedge_attempts += 1;
                // Free the threads that callers' blockers hold, so that ours get them all.
                round.rotate_latch();
                if forced_wedge(threads, &bridge, &round, &mut rng, &mut report) {
                    report.wedge_entered = true;
                    break;
                }
            }
        }
        if done {
            break;
        }
        if Instant::now() >= rotate_at {
            round.rotate_latch();
            report.rotations += 1;
            rotate_at = Instant::now() + rng.millis(20, 120);
        }
        thread::sleep(rng.millis(1, 5));
    }
    round.release_all();
    report
}

/// Shuts the bridge down at a random point while the callers keep going; half the time with
/// every runtime thread blocked, so that the shutdown gives up on them after its grace and
/// leaves them to exit once released.
pub(super) fn shutter(
    threads: usize,
    total_ops: usize,
    mut rng: Rng,
    bridge: Bridge,
    round: Arc<Round>,
    callers: usize,
) -> ShutterReport {
    let mut report = ShutterReport::default();
    let shutdown_at = total_ops * rng.range(55, 95) as usize / 100;
    loop {
        let done = round.callers_done.load(Ordering::Acquire) == callers;
        if done || round.progress.load(Ordering::Acquire) >= shutdown_at {
            break;
        }
        thread::sleep(Duration::from_micros(500));
    }
    let wedge = rng.chance(500).then(|| {
        round.rotate_latch();
        Wedge::start(threads, &bridge, &round, Duration::from_millis(500))
    });
    report.wedged = wedge.as_ref().is_some_and(|w| w.all_in);
    let began = Instant::now();
    *lock(&round.shutdown_began) = Some(began);
    report.all_exited = bridge.shutdown_timeout(SHUTDOWN_GRACE);
    report.took = began.elapsed();
    round.shutdown_returned.store(true, Ordering::Release);
    if let Some(wedge) = wedge {
        thread::sleep(rng.millis(0, 20));
        wedge.finish(&round, Who::Shutter, &mut report.records);
    }
    report
}

#[derive(Default)]
pub(super) struct ShutterReport {
    pub(super) records: Vec<Record>,
    /// Every runtime thread was blocked when the shutdown began.
    pub(super) wedged: bool,
    pub(super) took: Duration,
    pub(super) all_exited: bool,
}

/// A blocker task, spawned or not.
pub(super) struct Blocking {
    pub(super) id: usize,
    pub(super) started: Instant,
    pub(super) spawn_elapsed: Duration,
    pub(super) task: Result<BridgeTask<usize>, BridgeError>,
}

/// A blocker spawned for each runtime thread, on a latch of their own.
pub(super) struct Wedge {
    pub(super) latch: Latch,
    pub(super) tasks: Vec<Blocking>,
    /// Every blocker was seen blocking its thread.
    pub(super) all_in: bool,
}

impl Wedge {
    /// Spawns the blockers and waits until every one of them is blocking, or one failed before
    /// it got in (its generation was retired or shut down), or `patience` passed.
    pub(super) fn start(
        threads: usize,
        bridge: &Bridge,
        round: &Round,
        patience: Duration,
    ) -> Wedge {
        let latch = round.new_latch();
        let entered = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..threads {
            let (id, future) = round.blocker(&latch, Some(entered.clone()));
            let started = Instant::now();
            let spawned = bridge.spawn(future);
            tasks.push(Blocking {
                id,
                started,
                spawn_elapsed: started.elapsed(),
                task: spawned,
            });
        }
        let deadline = Instant::now() + patience;
        while entered.load(Ordering::Acquire) < threads
            && Instant::now() < deadline
            && !tasks
                .iter()
                .any(|b| b.task.as_ref().map_or(true, BridgeTask::is_finished))
        {
            thread::sleep(Duration::from_millis(1));
        }
        let all_in = entered.load(Ordering::Acquire) == threads;
        Wedge {
            latch,
            tasks,
            all_in,
        }
    }

    /// Releases the blockers and joins them, recording the results.
    pub(super) fn finish(self, round: &Round, who: Who, records: &mut Vec<Record>) {
        self.latch.release();
        for Blocking {
            id,
            started,
            spawn_elapsed,
            task: spawned,
        } in self.tasks
        {
            let index = records.len();
            let timeout = GRACE;
            let began = Instant::now();
            let got = match spawned {
                Err(err) => Got::SpawnErr(err),
                Ok(task) => catching(|| task.join_timeout(timeout)),
            };
            let ended = Instant::now();
            if let Got::Value(v) | Got::Panic(Ok(v)) = got {
                round.ledger.deliver(v);
            }
            records.push(Record {
                who,
                index,
                op: Op::Spawn {
                    timeout: None,
                    then: Then::JoinTimeout(timeout),
                },
                kind: Kind::Blocker,
                id,
                after_shutdown: false,
                spawn_elapsed,
                elapsed: ended - began,
                since_spawn: ended - started,
                ended,
                got,
            });
        }
    }
}

/// Blocks every runtime thread, then makes a timed call, which must time out and retire the
/// generation (or find it retired already), and releases them. Returns whether every thread
/// was seen blocked.
pub(super) fn forced_wedge(
    threads: usize,
    bridge: &Bridge,
    round: &Round,
    rng: &mut Rng,
    report: &mut ControllerReport,
) -> bool {
    let wedge = Wedge::start(threads, bridge, round, Duration::from_secs(2));
    let all_in = wedge.all_in;
    if all_in {
        let index = report.records.len();
        let record = run_op(
            bridge,
            round,
            Who::Controller,
            index,
            Op::CallTimeout(Duration::from_millis(20)),
            Kind::Ready,
            None,
        );
        report.wedge_call_ended = Some(record.ended);
        report.records.push(record);
    }
    thread::sleep(rng.millis(5, 30));
    wedge.finish(round, Who::Controller, &mut report.records);
    all_in
}
