//! Cancellation: a cancel racing the outcome, in both drive modes.

use crate::{Bridge, BridgeError, sync::thread};

use super::runtime::*;

/// A cancel token fired from a third thread races a call's outcome, in both drive modes:
/// exactly one wins (the value, or `Cancelled`), the value is delivered or dropped exactly
/// once, and so is the future.
#[test]
fn a_cancel_races_the_outcome() {
    cancel_races_the_outcome(RuntimeCounts::bridge);
}

/// [`a_cancel_races_the_outcome`], caller-driven.
#[test]
fn a_cancel_races_a_caller_driven_outcome() {
    cancel_races_the_outcome(RuntimeCounts::bridge_caller_driven);
}

fn cancel_races_the_outcome(make: fn(&RuntimeCounts) -> Bridge) {
    {
        model_bridge(make, |bridge, ledger, _counts| {
            let token = crate::CancelToken::new();
            let canceller = token.clone();
            let third = thread::spawn(move || canceller.cancel());
            let outcome = crate::Scope::new()
                .cancel_on(&token)
                .run(|| bridge.call(ledger.ready()));
            match outcome {
                Ok(value) => drop(value),
                Err(BridgeError::Cancelled) => {}
                Err(err) => panic!("a call racing a cancel got {err:?}"),
            }
            third.join().unwrap();
        });
    }
}
