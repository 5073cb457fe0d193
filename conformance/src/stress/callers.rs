//! The callers: threads that make random calls and spawns and record what each returned.

use std::{
    sync::{Arc, atomic::Ordering},
    thread,
    time::{Duration, Instant},
};

use loopbridge::{Bridge, BridgeTask};

use super::{profile::*, record::*};

/// Picks a caller's next operation.
pub(super) fn pick(rng: &mut Rng) -> (Op, Kind) {
    let timeout = |rng: &mut Rng| rng.millis(1, 50);
    let timer = |rng: &mut Rng| rng.millis(0, 5);
    // Weights per thousand.
    match rng.weighted(&[70, 30, 80, 170, 80, 60, 6, 504]) {
        0 => (Op::Call, Kind::Ready),
        1 => (Op::Call, Kind::Panic(None)),
        2 => (Op::CallTimeout(timeout(rng)), Kind::Ready),
        3 => (Op::CallTimeout(timeout(rng)), Kind::Timer(timer(rng))),
        4 => (Op::CallTimeout(timeout(rng)), Kind::Pending),
        5 => {
            let after = rng.chance(500).then(|| timer(rng));
            (Op::CallTimeout(timeout(rng)), Kind::Panic(after))
        }
        6 => (Op::CallTimeout(timeout(rng)), Kind::Blocker),
        _ => {
            let kind = match rng.weighted(&[25, 35, 25, 15]) {
                0 => Kind::Ready,
                1 => Kind::Timer(timer(rng)),
                2 => Kind::Pending,
                _ => Kind::Panic(rng.chance(500).then(|| timer(rng))),
            };
            let timeout = rng.chance(500).then(|| timeout(rng));
            // An unbounded wait only for a task that ends by itself or by its own deadline.
            let bounded = kind.finite() || timeout.is_some();
            let then = match rng.weighted(&[
                if bounded { 200 } else { 0 },
                250,
                if bounded { 100 } else { 0 },
                150,
                150,
                150,
            ]) {
                0 => Then::Join,
                1 => Then::JoinTimeout(rng.millis(1, 50)),
                2 => Then::Await,
                3 => Then::Cancel,
                4 => Then::Drop,
                _ => Then::Detach,
            };
            (Op::Spawn { timeout, then }, kind)
        }
    }
}

/// One caller's operations.
pub(super) fn caller(
    index: usize,
    ops: usize,
    seed: u64,
    bridge: Bridge,
    round: Arc<Round>,
) -> Vec<Record> {
    // Counts this caller done however it ends, a panic included, so that the controller
    // threads stop and the failure is reported rather than hidden behind a hang.
    struct Done<'a>(&'a Round);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.callers_done.fetch_add(1, Ordering::AcqRel);
        }
    }
    let _done = Done(&round);
    let mut rng = Rng::stream(seed, index as u64 + 1);
    let mut records = Vec::with_capacity(ops);
    for op_index in 0..ops {
        let (op, kind) = pick(&mut rng);
        // A short pause between a spawn and what follows, sometimes, so that tasks get to run.
        let pause = rng.chance(300).then(|| rng.millis(0, 2));
        *lock(&round.doing[index]) = format!("op #{op_index}: {op:?} of {kind:?}");
        let record = run_op(
            &bridge,
            &round,
            Who::Caller(index),
            op_index,
            op,
            kind,
            pause,
        );
        records.push(record);
        round.progress.fetch_add(1, Ordering::AcqRel);
    }
    *lock(&round.doing[index]) = "done".into();
    records
}

pub(super) fn run_op(
    bridge: &Bridge,
    round: &Round,
    who: Who,
    index: usize,
    op: Op,
    kind: Kind,
    pause: Option<Duration>,
) -> Record {
    let after_shutdown = round.shutdown_returned.load(Ordering::Acquire);
    let (id, future) = round.future(kind);
    let started = Instant::now();
    let mut spawn_elapsed = Duration::ZERO;
    let mut since_spawn = Duration::ZERO;
    let mut began = started;
    let got = match op {
        Op::Call => catching(|| bridge.call(future)),
        Op::CallTimeout(timeout) => catching(|| bridge.call_timeout(future, timeout)),
        Op::Spawn { timeout, then } => {
            let spawned = match timeout {
                Some(timeout) => bridge.spawn_timeout(future, timeout),
                None => bridge.spawn(future),
            };
            let spawned_at = Instant::now();
            spawn_elapsed = spawned_at - started;
            match spawned {
                Err(err) => Got::SpawnErr(err),
                Ok(task) => {
                    if let Some(pause) = pause {
                        thread::sleep(pause);
                    }
                    began = Instant::now();
                    let got = act(task, then);
                    since_spawn = spawned_at.elapsed();
                    got
                }
            }
        }
    };
    let ended = Instant::now();
    if let Got::Value(v) | Got::Panic(Ok(v)) = got {
        round.ledger.deliver(v);
    }
    Record {
        who,
        index,
        op,
        kind,
        id,
        after_shutdown,
        spawn_elapsed,
        elapsed: ended - began,
        since_spawn,
        ended,
        got,
    }
}

pub(super) fn act(task: BridgeTask<usize>, then: Then) -> Got {
    match then {
        Then::Join => catching(|| task.join()),
        Then::JoinTimeout(timeout) => catching(|| task.join_timeout(timeout)),
        Then::Await => catching(|| futures_lite::future::block_on(task)),
        Then::Cancel => {
            task.cancel();
            Got::Released
        }
        Then::Drop => {
            drop(task);
            Got::Released
        }
        Then::Detach => {
            task.detach();
            Got::Released
        }
    }
}
