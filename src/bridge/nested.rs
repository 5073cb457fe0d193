//! Nested calls: a blocking call from a thread that runs the bridge's runtime cannot wait for
//! that runtime, so it runs on a one-off thread, inside a one-off runtime context the adapter
//! provides (see `NestedPolicy`).

use std::{future::Future, thread};

use crate::{
    error::BridgeError,
    generation::{self, Generation},
    harness::job,
    job::Job,
    registry::Registration,
    slot::Slot,
    sync::Arc,
};

use super::supply::Supply;

/// Serves a nested call of the bridge with id `bridge` on a fresh thread with a one-off
/// runtime context, registered on `generation` so that its retirement or shutdown fails it.
pub(crate) fn run_one_off<F>(
    supply: &Supply,
    bridge: u64,
    generation: &Arc<Generation>,
    future: F,
    slot: &Arc<Slot<F::Output>>,
) -> Result<Registration, BridgeError>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let registration = generation
        .register(slot.clone())
        .ok_or_else(|| supply.closed_error())?;
    // The job reads the slot first, so a cancellation that lands before the thread even exists
    // still wins: the future is then dropped without being polled. Its steps, the first one
    // included, run on the one-off thread, which drains them until the task is gone (and with
    // it the sender).
    let (steps, incoming) = async_channel::unbounded::<Job>();
    let first = job(future, slot.clone(), None, {
        let steps = steps.clone();
        move |step| {
            let _ = steps.try_send(step);
        }
    });
    let _ = steps.try_send(first);
    drop(steps);
    let owner = generation.clone();
    let reporter = slot.clone();
    thread::Builder::new()
        .name("loopbridge-nested".into())
        .spawn(move || {
            generation::serve_nested_calls_of(bridge);
            let unrun = incoming.clone();
            let drain = Box::pin(async move {
                while let Ok(step) = incoming.recv().await {
                    step.run();
                }
            });
            if let Err(err) = owner.runtime.block_on_one_off(drain) {
                // No one-off runtime: the call fails with why, before its steps are dropped
                // (which would fail it as merely cancelled, and wake its caller to that).
                reporter.fail(BridgeError::Start(err));
                while let Ok(step) = unrun.try_recv() {
                    drop(step);
                }
            }
        })
        .map_err(BridgeError::Start)?;
    Ok(registration)
}
