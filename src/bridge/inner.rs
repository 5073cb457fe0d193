//! The state behind a `Bridge` handle and its clones: its generations, its settings and its
//! counters, and what happens after a call's outcome or timeout.

use std::time::{Duration, Instant};

use crate::{
    context::lifecycle,
    error::BridgeError,
    generation::{Generation, Lane},
    slot::{Outcome, Slot},
    stats::Counters,
    sync::Arc,
    task::Supervisor,
    wait::wait,
};

use super::{
    config::{Drive, NestedPolicy},
    health,
    submit::{Submitted, register_late},
    supply::Supply,
};

pub(crate) struct Inner {
    pub(crate) id: u64,
    pub(crate) supply: Arc<Supply>,
    pub(crate) probe_timeout: Duration,
    pub(crate) shutdown_grace: Duration,
    pub(crate) nested: NestedPolicy,
    pub(crate) drive: Drive,
    pub(crate) stats: Arc<Counters>,
}

impl Inner {
    /// Waits for a submitted call's outcome until `deadline`; at the deadline, cancels it and
    /// probes its runtime on the call's `lane` (unless the call was nested, with no lane, or
    /// its runtime per-call).
    pub(crate) fn finish_call<T: Send + 'static>(
        &self,
        slot: &Arc<Slot<T>>,
        mut call: Submitted,
        deadline: Option<Instant>,
        lane: Option<Lane>,
    ) -> Result<T, BridgeError> {
        // At the deadline, an outcome that arrived meanwhile still wins over the timeout.
        let outcome =
            wait(slot, deadline, || register_late(&mut call, slot)).or_else(|| slot.cancel());
        let Submitted {
            generation,
            registration,
        } = call;
        drop(registration);
        match outcome {
            Some(outcome) => {
                let outcome = match outcome {
                    // A step dropped by a runtime that was closing (a call answered before it
                    // was registered is not failed by the close itself): say why.
                    Outcome::Failed(BridgeError::Cancelled) => match generation.close_reason() {
                        Some(reason) => Outcome::Failed(reason.into()),
                        None => Outcome::Failed(BridgeError::Cancelled),
                    },
                    outcome => outcome,
                };
                self.supply.finished(&generation);
                self.stats.observe(&outcome);
                outcome.into_result()
            }
            None => {
                Counters::bump(&self.stats.timeouts);
                lifecycle!(
                    debug,
                    bridge = generation.bridge,
                    generation = generation.id,
                    "bridge call timed out"
                );
                if let Some(lane) = lane {
                    if self.supply.timed_out(&generation) {
                        self.check_health(&generation, lane);
                    }
                } else {
                    self.supply.timed_out(&generation);
                }
                Err(BridgeError::TimedOut)
            }
        }
    }

    /// After a caller-driven call (see `caller`): counts its outcome, and does what follows a
    /// call's outcome or timeout on `generation`, as [`finish_call`](Self::finish_call) does.
    pub(crate) fn finish_driven<T>(
        &self,
        generation: &Arc<Generation>,
        outcome: Outcome<T>,
    ) -> Result<T, BridgeError> {
        self.stats.observe(&outcome);
        if let Outcome::Failed(BridgeError::TimedOut) = outcome {
            lifecycle!(
                debug,
                bridge = generation.bridge,
                generation = generation.id,
                "bridge call timed out"
            );
            if self.supply.timed_out(generation) {
                self.check_health(generation, Lane::Shared);
            }
        } else {
            self.supply.finished(generation);
        }
        outcome.into_result()
    }

    /// After a timeout: probes `generation`, and retires it if it made no progress while the
    /// probe waited (see [`health`]): a runtime busy with a long queue is slow, not wedged,
    /// and keeps its calls.
    pub(crate) fn check_health(&self, generation: &Arc<Generation>, lane: Lane) {
        if generation.is_closed() || !generation.of_this_process() {
            return;
        }
        let health = health::probe(generation, self.probe_timeout, lane);
        lifecycle!(
            debug,
            bridge = generation.bridge,
                generation = generation.id,
            health = ?health,
            probe_timeout = ?self.probe_timeout,
            "health probe after a timeout"
        );
        if health.retire() {
            self.supply.retire(generation, true);
        }
    }

    pub(crate) fn shutdown(&self, grace: Duration) -> bool {
        self.supply.shutdown(grace)
    }
}

impl Supervisor for Inner {
    fn timed_out(&self, generation: &Arc<Generation>) {
        if self.supply.timed_out(generation) {
            self.check_health(generation, Lane::Shared);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown(self.shutdown_grace);
    }
}
