//! Shutdown: racing submits, pending calls, retirement, detached tasks, and itself.

use std::time::Duration;

use crate::{
    BridgeError,
    sync::{Arc, thread},
};

use super::{runtime::*, support::*};

/// A call submitted while the bridge shuts down resolves with its value or `Shutdown`, and the
/// runtime is torn down exactly once.
#[test]
fn submit_races_shutdown() {
    with_bridge(|bridge, ledger, counts| {
        let stopper = bridge.clone();
        let exits = counts.exits.clone();
        let stop = thread::spawn(move || {
            assert!(stopper.shutdown_timeout(Duration::from_secs(1)));
            // "All exited" means exited by now, not eventually.
            assert_eq!(exits.get(), 1, "the runtime's thread has exited");
        });
        match bridge.call(ledger.ready()) {
            Ok(value) => drop(value),
            Err(BridgeError::Shutdown) => {}
            Err(err) => panic!("a call racing shutdown got {err:?}"),
        }
        stop.join().unwrap();
        assert!(matches!(bridge.call(async {}), Err(BridgeError::Shutdown)));
    });
}

/// A call whose future is pending when the bridge shuts down fails with `Shutdown`, and a
/// future the runtime polled is dropped on the runtime's thread, even when the shutdown lands
/// before the caller registers the call (a caller registers only before it parks).
#[test]
fn a_pending_call_races_shutdown() {
    with_bridge(|bridge, _ledger, counts| {
        let stopper = bridge.clone();
        let stop = thread::spawn(move || {
            assert!(stopper.shutdown_timeout(Duration::from_secs(1)));
        });
        let seen = Arc::new(std::sync::Mutex::new((false, None)));
        match bridge.call(Stuck(seen.clone())) {
            Err(BridgeError::Shutdown) => {}
            other => panic!("a pending call racing shutdown got {other:?}"),
        }
        stop.join().unwrap();
        let runtime_thread = counts.threads.lock().unwrap()[0].thread().id();
        let (polled, dropped_on) = *seen.lock().unwrap();
        assert!(dropped_on.is_some(), "the future was dropped");
        if polled {
            assert_eq!(
                dropped_on,
                Some(runtime_thread),
                "dropped on the runtime's thread"
            );
        }
    });
}

/// A shutdown racing the retirement of the runtime it shuts down returns only once the task in
/// flight there has failed, with `Shutdown` or `Retired`, whichever closed the runtime first.
/// (The retirement used to unpublish the runtime before it failed the calls on it: a shutdown
/// in between found nothing to close and returned at once, before the task had failed.)
#[test]
fn shutdown_races_retirement() {
    with_bridge(|bridge, _ledger, _counts| {
        let task = bridge
            .spawn(Stuck(Arc::new(std::sync::Mutex::new((false, None)))))
            .unwrap();
        let retirer = bridge.clone();
        let retire = thread::spawn(move || retirer.retire_for_model());
        bridge.shutdown_timeout(Duration::from_secs(1));
        assert!(
            task.is_finished(),
            "the shutdown returned before the task in flight had failed"
        );
        retire.join().unwrap();
        match task.join() {
            Err(BridgeError::Shutdown | BridgeError::Retired) => {}
            other => panic!("a task racing shutdown and retirement got {other:?}"),
        }
    });
}

/// Two shutdowns at once, then the last clone dropped: one teardown, and both shutdowns see
/// the runtime's thread exit.
#[test]
fn shutdown_twice_then_drop() {
    with_bridge(|bridge, _ledger, counts| {
        let other = bridge.clone();
        let exits = counts.exits.clone();
        let second = thread::spawn(move || {
            assert!(other.shutdown_timeout(Duration::from_secs(1)));
            assert_eq!(exits.get(), 1, "the runtime's thread has exited");
            drop(other);
        });
        assert!(bridge.shutdown_timeout(Duration::from_secs(1)));
        assert_eq!(counts.exits.get(), 1, "the runtime's thread has exited");
        second.join().unwrap();
        assert!(bridge.is_shutdown());
        assert_eq!(counts.started.get(), 1);
    });
}

/// A task detached while the bridge shuts down: its future and value are dropped exactly once,
/// wherever the race leaves them, and its registration does not keep anything alive.
#[test]
fn detached_task_races_shutdown() {
    with_bridge(|bridge, ledger, _counts| {
        let stopper = bridge.clone();
        let stop = thread::spawn(move || stopper.shutdown_timeout(Duration::from_secs(1)));
        match bridge.spawn(ledger.ready()) {
            Ok(task) => task.detach(),
            Err(err) => assert!(err.is_shutdown(), "{err:?}"),
        }
        assert!(stop.join().unwrap());
    });
}

/// A task detached as it completes, with no shutdown to clean up after it: once it has run,
/// nothing is left registered in flight on its generation (a registration kept after the task
/// ended would keep the generation, and with it the runtime, alive for good).
#[test]
fn a_detached_task_leaves_nothing_in_flight() {
    with_bridge(|bridge, ledger, _counts| {
        bridge.spawn(ledger.ready()).unwrap().detach();
        // The runtime runs its jobs in order: once this call is back, the detached task's
        // step has run to its end.
        assert!(matches!(bridge.call(async {}), Ok(())));
        assert_eq!(bridge.in_flight_for_model(), 0);
    });
}
