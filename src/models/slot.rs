//! The result slot: a completion racing a cancel, and the caller's park and wake.

use std::task::{Poll, Waker};

use crate::{BridgeError, slot::Outcome, sync::thread, wait::wait};

use super::{runtime::*, support::*};

/// The caller gives up (a timeout, or `BridgeTask::cancel`) while the runtime completes the
/// job: exactly one side ends up with the value, which is dropped exactly once, and so is the
/// future, whether it was polled or not.
#[test]
fn completion_races_cancel() {
    loom::model(|| {
        let ledger = Ledger::default();
        let (slot, runtime) = ready_job_on_a_thread(&ledger);
        let delivered = slot.cancel();
        runtime.join().unwrap();
        match delivered {
            // It completed first: the caller still gets the value (at its deadline, say).
            Some(Outcome::Value(value)) => drop(value),
            None => {}
            Some(Outcome::Panic(_)) => panic!("the future does not panic"),
            Some(Outcome::Failed(err)) => panic!("nothing failed the call, yet: {err}"),
        }
        // After giving up, nothing more is ever delivered.
        let waker = Waker::noop();
        assert!(matches!(
            slot.poll_take(waker),
            Poll::Ready(Outcome::Failed(BridgeError::Cancelled))
        ));
        drop(slot);
        ledger.assert_balanced();
    });
}

/// A caller parked on its slot is always woken: the future is woken from a third thread, its
/// next step goes through the runtime's queue, and its completion unparks the caller.
#[test]
fn no_lost_wakeup() {
    with_bridge(|bridge, _ledger, _counts| {
        let signal = Signal::new();
        let firer = signal.clone();
        let third = thread::spawn(move || firer.fire());
        assert!(matches!(bridge.call(signal), Ok(7)));
        third.join().unwrap();
    });
}

/// The slot protocol alone, with the caller parked in [`wait`]: the completion on the runtime's
/// thread always unparks it.
#[test]
fn a_parked_caller_is_woken() {
    loom::model(|| {
        let ledger = Ledger::default();
        let (slot, runtime) = ready_job_on_a_thread(&ledger);
        match wait(&slot, None, || {}) {
            Some(Outcome::Value(value)) => drop(value),
            _ => panic!("the call completes with its value"),
        }
        runtime.join().unwrap();
        drop(slot);
        ledger.assert_balanced();
    });
}
