//! Retirement: calls submitted, or moved to a fresh runtime, while a generation is retired.

use crate::{Bridge, BridgeError, sync::thread};

use super::{runtime::*, support::*};

/// A call submitted while its generation is being retired always resolves, with its value or
/// `Retired`, and every runtime the bridge started is torn down exactly once.
#[test]
fn submit_races_retirement() {
    // The retired runtime's thread and the fresh one a late call starts make four threads, but
    // never more than three run at once.
    with_bridge(|bridge, ledger, _counts| {
        call_racing_retirement(bridge, ledger);
        assert_eq!(bridge.stats().retired, 1);
    });
}

/// A call on `bridge` while another thread retires its runtime: it gets its value or
/// `Retired`, nothing else.
fn call_racing_retirement(bridge: &Bridge, ledger: &Ledger) {
    let retirer = bridge.clone();
    let retire = thread::spawn(move || retirer.retire_for_model());
    match bridge.call(ledger.ready()) {
        Ok(value) => drop(value),
        Err(BridgeError::Retired) => {}
        Err(err) => panic!("a call racing retirement got {err:?}"),
    }
    retire.join().unwrap();
}

/// A call racing the retirement of a wedged runtime, which holds its step without running or
/// dropping it: the call fails with `Retired` even when the retirement lands between its
/// hand-over and its registration (a caller registers only before it parks), or it goes to
/// the fresh runtime and gets its value. Nobody is left parked.
#[test]
fn a_call_on_a_wedged_runtime_races_retirement() {
    model_bridge(
        RuntimeCounts::bridge_wedged_first,
        |bridge, ledger, _counts| call_racing_retirement(bridge, ledger),
    );
}

/// A call that a dead runtime refuses moves to a fresh one, and every later step of it runs
/// there: its future, woken from a third thread at any point (before its first poll, during
/// it, after it), gets its value. Its wake-ups used to go to the dead runtime, which dropped
/// them, and the call failed.
#[test]
fn a_moved_call_is_woken_where_it_runs() {
    model_bridge(
        RuntimeCounts::bridge_refusing_first,
        |bridge, _ledger, counts| {
            let signal = Signal::new();
            let firer = signal.clone();
            let third = thread::spawn(move || firer.fire());
            assert!(matches!(bridge.call(signal), Ok(7)));
            third.join().unwrap();
            assert_eq!(counts.started.get(), 2);
        },
    );
}
