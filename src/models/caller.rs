//! Caller-driven calls: the caller's park and wake, a shutdown and a cancel racing them.

use std::time::Duration;

use crate::{
    BridgeError,
    sync::{Arc, thread},
};

use super::{runtime::*, support::*};

/// A caller-driven call parks its caller between polls, and a wake from a third thread, at any
/// point (before the first poll, during it, between the poll and the park), always unparks it:
/// the call gets its value, polled on the caller's thread.
#[test]
fn a_caller_driven_call_is_woken() {
    model_bridge(
        RuntimeCounts::bridge_caller_driven,
        |bridge, _ledger, _counts| {
            let signal = Signal::new();
            let firer = signal.clone();
            let third = thread::spawn(move || firer.fire());
            let caller = thread::current().id();
            let polled_on = bridge.call(async move {
                let value = signal.await;
                (value, thread::current().id())
            });
            assert!(matches!(polled_on, Ok((7, on)) if on == caller));
            third.join().unwrap();
        },
    );
}

/// A caller-driven call parked on a future that is never ready, while the bridge shuts down:
/// the close wakes the caller wherever it is (not yet registered, registered, parked), the
/// call fails with `Shutdown`, and its future is dropped exactly once, on the caller's thread,
/// before the call returns.
#[test]
fn shutdown_races_a_caller_driven_call() {
    model_bridge(
        RuntimeCounts::bridge_caller_driven,
        |bridge, _ledger, _counts| {
            let stopper = bridge.clone();
            let stop = thread::spawn(move || stopper.shutdown_timeout(Duration::from_secs(1)));
            let seen = Arc::new(std::sync::Mutex::new((false, None)));
            match bridge.call(Stuck(seen.clone())) {
                // Shut down before the call found its runtime: nothing was polled.
                Err(BridgeError::Shutdown) => {}
                other => panic!("a caller-driven call racing shutdown got {other:?}"),
            }
            let (polled, dropped_on) = *seen.lock().unwrap();
            assert_eq!(
                dropped_on,
                Some(thread::current().id()),
                "dropped on the caller, already"
            );
            let _ = polled;
            assert!(stop.join().unwrap());
        },
    );
}

/// The future of a caller-driven call is woken from a third thread while the bridge shuts
/// down: the cancel and the wake race, and exactly one wins. The call gets its value or
/// `Shutdown`, never hangs, and its future is dropped once, on the caller.
#[test]
fn a_caller_driven_cancel_races_a_wake() {
    model_bridge(
        RuntimeCounts::bridge_caller_driven,
        |bridge, ledger, _counts| {
            let signal = Signal::new();
            let firer = signal.clone();
            let third = thread::spawn(move || firer.fire());
            let stopper = bridge.clone();
            let stop = thread::spawn(move || stopper.shutdown_timeout(Duration::from_secs(1)));
            let guard = ledger.ready();
            let caller = thread::current().id();
            let dropped_on = Arc::new(std::sync::Mutex::new(None));
            let on = dropped_on.clone();
            let outcome = bridge.call(async move {
                let _tracked = guard.await;
                let _drop = OnDrop(move || *on.lock().unwrap() = Some(thread::current().id()));
                signal.await
            });
            match outcome {
                Ok(7) | Err(BridgeError::Shutdown) => {}
                other => panic!("a woken call racing shutdown got {other:?}"),
            }
            if let Some(on) = *dropped_on.lock().unwrap() {
                assert_eq!(on, caller, "dropped on the caller");
            }
            third.join().unwrap();
            assert!(stop.join().unwrap());
        },
    );
}
