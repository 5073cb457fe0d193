//! What a round's records, ledger and stats must satisfy.

use std::{
    collections::BTreeMap,
    sync::atomic::Ordering,
    time::{Duration, Instant},
};

use loopbridge::{BridgeError, BridgeStats};

use super::{ledger::*, profile::*, record::*};

/// Every future created was dropped exactly once, and never polled after it completed; every
/// value or panic reached at most one caller, and only from a future that completed or
/// panicked.
pub(super) fn check_ledger(ledger: &Ledger, records: &[Record], failures: &mut Vec<String>) {
    let created = ledger.created();
    let dropped = ledger.dropped();
    if created != dropped {
        let leaked: Vec<String> = (0..ledger.next.load(Ordering::Acquire))
            .filter(|&id| ledger.state[id].load(Ordering::Acquire) == 1)
            .take(10)
            .map(|id| match records.iter().find(|r| r.id == id) {
                Some(r) => format!("{r:?}"),
                None => format!("future {id}, of no operation"),
            })
            .collect();
        failures.push(format!(
            "{} of {created} futures were never dropped (leaked), {SETTLE:?} after the run; \
             first ones: {leaked:#?}",
            created - dropped
        ));
    }
    let double = ledger.double_drops.load(Ordering::Acquire);
    if double > 0 {
        let ids: Vec<usize> = (0..ledger.next.load(Ordering::Acquire))
            .filter(|&id| ledger.state[id].load(Ordering::Acquire) > 2)
            .take(10)
            .collect();
        failures.push(format!("{double} futures were dropped twice (ids {ids:?})"));
    }
    let after_ready = ledger.polled_after_ready.load(Ordering::Acquire);
    if after_ready > 0 {
        failures.push(format!(
            "futures were polled {after_ready} times after they completed"
        ));
    }
    for r in records {
        match r.got {
            Got::Value(id) if ledger.completed[id].load(Ordering::Acquire) == 0 => {
                failures.push(format!("a value for a future that never completed: {r:?}"))
            }
            Got::Panic(Ok(id)) if !ledger.panicked[id].load(Ordering::Acquire) => {
                failures.push(format!("a panic from a future that never panicked: {r:?}"))
            }
            _ => {}
        }
    }
    for id in 0..ledger.next.load(Ordering::Acquire) {
        let completed = ledger.completed[id].load(Ordering::Acquire);
        let delivered = ledger.delivered[id].load(Ordering::Acquire);
        if completed > 1 {
            failures.push(format!("future {id} completed {completed} times"));
        }
        if delivered > 1 {
            failures.push(format!(
                "the result of future {id} reached callers {delivered} times (duplicated)"
            ));
        }
    }
}

/// Each operation's result is one its future and its operation allow, and came in time.
pub(super) fn check_records(
    records: &[Record],
    shutdown_began: Instant,
    failures: &mut Vec<String>,
) {
    let mut seen = BTreeMap::new();
    for r in records {
        let key = match r.who {
            Who::Caller(i) => (i, r.index),
            Who::Controller => (usize::MAX, r.index),
            Who::Shutter => (usize::MAX - 1, r.index),
        };
        if seen.insert(key, ()).is_some() {
            failures.push(format!("two records for one operation: {r:?}"));
        }
        if let Err(why) = check_record(r, shutdown_began) {
            failures.push(format!("{why}: {r:?}"));
        }
    }
}

pub(super) fn check_record(r: &Record, shutdown_began: Instant) -> Result<(), String> {
    let shutting_down = r.ended >= shutdown_began;
    // The deadline of the blocking part, if any, and the one the runtime enforces.
    let (wait_deadline, task_deadline) = match r.op {
        Op::Call => (None, None),
        Op::CallTimeout(t) => (Some(t), None),
        Op::Spawn { timeout, then } => match then {
            Then::JoinTimeout(t) => (Some(t), timeout),
            _ => (None, timeout),
        },
    };
    if r.spawn_elapsed > GRACE {
        return Err(format!("spawn took {:?}", r.spawn_elapsed));
    }
    let budget = wait_deadline.or(task_deadline).unwrap_or_default() + PROBE_TIMEOUT + GRACE;
    if r.elapsed > budget {
        return Err(format!("took {:?}, past its budget {budget:?}", r.elapsed));
    }
    match &r.got {
        Got::Value(v) => {
            if *v != r.id {
                return Err(format!("got the value of future {v}, not its own"));
            }
            if !r.kind.can_complete() {
                return Err("a value from a future that never completes".into());
            }
        }
        Got::Panic(Ok(id)) => {
            if *id != r.id {
                return Err(format!("got the panic of future {id}, not its own"));
            }
            if !r.kind.can_panic() {
                return Err("a panic from a future that does not panic".into());
            }
        }
        Got::Panic(Err(text)) => return Err(format!("a foreign panic: {text}")),
        Got::Err(BridgeError::TimedOut) => {
            if let Some(t) = wait_deadline {
                // A timeout never comes early: `call_timeout` and `join_timeout` give up at
                // their deadline, not before; a task's own deadline can end a join earlier.
                if r.elapsed < t && task_deadline.is_none() {
                    return Err(format!("timed out after {:?}, before its {t:?}", r.elapsed));
                }
            } else if let Some(t) = task_deadline {
                // The runtime's timer started in `spawn_timeout`, before the spawn returned.
                if r.since_spawn + r.spawn_elapsed + Duration::from_millis(1) < t {
                    return Err(format!(
                        "the task timed out {:?} after its spawn, before its {t:?}",
                        r.since_spawn + r.spawn_elapsed
                    ));
                }
            } else {
                return Err("timed out without a deadline".into());
            }
        }
        Got::SpawnErr(BridgeError::TimedOut) => {
            // A `spawn_timeout` that waited for a runtime's start gives up at its deadline,
            // not before.
            match task_deadline {
                Some(t) if r.spawn_elapsed + Duration::from_millis(1) >= t => {}
                Some(t) => {
                    return Err(format!(
                        "the spawn timed out after {:?}, before its {t:?}",
                        r.spawn_elapsed
                    ));
                }
                None => return Err("a spawn without a deadline timed out".into()),
            }
        }
        Got::Err(BridgeError::Shutdown) | Got::SpawnErr(BridgeError::Shutdown) => {
            if !shutting_down {
                return Err("`Shutdown` before the shutdown began".into());
            }
        }
        Got::Err(BridgeError::Retired | BridgeError::Cancelled)
        | Got::SpawnErr(BridgeError::Retired) => {}
        Got::Err(e) | Got::SpawnErr(e) => return Err(format!("unexpected error {e:?}")),
        Got::Released => {}
    }
    // Once `shutdown` has returned, every call and spawn fails with `Shutdown`, at once.
    if r.after_shutdown {
        let shut = match r.op {
            Op::Call | Op::CallTimeout(_) => matches!(r.got, Got::Err(BridgeError::Shutdown)),
            Op::Spawn { .. } => matches!(r.got, Got::SpawnErr(BridgeError::Shutdown)),
        };
        if !shut {
            return Err(
                "began after the shutdown returned, but did not fail with `Shutdown`".into(),
            );
        }
    }
    Ok(())
}

/// The outcomes the callers saw reconcile with the bridge's counters.
///
/// What bumps what (see `src/bridge.rs`, `src/task.rs`, `src/stats.rs`):
///
/// - `timeouts`: once per `TimedOut` a caller receives, wherever it comes from: a
///   `call_timeout` or `join_timeout` deadline (`finish_call`, `join_deadline`), a deadline
///   that passed while waiting for a runtime's start (`Inner::start`, `Inner::start_aside`),
///   `spawn_timeout` included, and a `spawn_timeout` task's own `TimedOut` when it is joined
///   or awaited (`Counters::observe`).
///   A cancelled, dropped or detached task's outcome is never observed and never counted. So
///   the number of `TimedOut` results seen is *exactly* `timeouts`.
/// - `panics`: once per panic re-raised on a caller (`observe` before `into_result`), and a
///   panic is only ever re-raised there. Exactly equal.
/// - `retired`: once per generation closed by a failed probe, and probes only follow a
///   `TimedOut` from `call_timeout` or `join_timeout`: `retired <= timeouts`. A generation is
///   retired once, and only a started one: `retired <= started`. A new generation is
///   published only once the previous one is gone, which (before the shutdown) only a
///   retirement does, by a probe or because the runtime refused work; the shipped adapters
///   refuse work only once they are told to stop, which happens only after their generation is
///   closed, so `started <= retired + 1`.
/// - `nested`: no operation here is nested: zero.
pub(super) fn check_stats(
    stats: &BridgeStats,
    records: &[Record],
    wedge_before_shutdown: bool,
    failures: &mut Vec<String>,
) {
    let timeouts = records
        .iter()
        .filter(|r| {
            matches!(
                r.got,
                Got::Err(BridgeError::TimedOut) | Got::SpawnErr(BridgeError::TimedOut)
            )
        })
        .count() as u64;
    let panics = records
        .iter()
        .filter(|r| matches!(r.got, Got::Panic(_)))
        .count() as u64;
    let retired_seen = records.iter().any(|r| {
        matches!(
            r.got,
            Got::Err(BridgeError::Retired) | Got::SpawnErr(BridgeError::Retired)
        )
    });
    let succeeded = records.iter().any(|r| matches!(r.got, Got::Value(_)));
    if stats.timeouts != timeouts {
        failures.push(format!(
            "callers saw {timeouts} `TimedOut` results, stats count {}",
            stats.timeouts
        ));
    }
    if stats.panics != panics {
        failures.push(format!(
            "callers saw {panics} panics, stats count {}",
            stats.panics
        ));
    }
    if stats.retired > stats.timeouts {
        failures.push(format!(
            "{} retirements, but only {} timeouts to trigger probes",
            stats.retired, stats.timeouts
        ));
    }
    if stats.retired > stats.started || stats.started > stats.retired + 1 {
        failures.push(format!(
            "{} generations started, {} retired: expected started - retired in 0..=1",
            stats.started, stats.retired
        ));
    }
    if succeeded && stats.started == 0 {
        failures.push("values came back, but no generation was started".into());
    }
    if stats.nested != 0 {
        failures.push(format!("{} nested calls, but none was made", stats.nested));
    }
    // A generation with every thread blocked fails its probe: the controller's timed call
    // after its forced wedge retires it (or finds it retired by someone else's timeout).
    if wedge_before_shutdown && stats.retired == 0 {
        failures.push(
            "every runtime thread was blocked and a timed call followed before the shutdown, \
             but no generation was retired"
                .into(),
        );
    }
    if retired_seen && stats.retired == 0 {
        failures.push("callers saw `Retired`, but no generation was retired".into());
    }
}

/// Counts of each kind of result, and the worst overshoot of a timed-out `call_timeout`.
pub(super) fn outcomes(records: &[Record]) -> String {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        *outcomes.entry(r.got.label()).or_default() += 1;
    }
    let overshoot = records
        .iter()
        .filter_map(|r| match (r.op, &r.got) {
            (Op::CallTimeout(t), Got::Err(BridgeError::TimedOut)) => {
                Some(r.elapsed.saturating_sub(t))
            }
            _ => None,
        })
        .max()
        .unwrap_or_default();
    format!("worst call_timeout overshoot {overshoot:.2?}; outcomes {outcomes:?}")
}
