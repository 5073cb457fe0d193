//! The state behind a `Bridge` handle and its clones: its generations, its settings and its
//! counters, and what happens after a call's outcome or timeout.

use std::time::{Duration, Instant};

use crate::{
    cancel::{Stop, Watch},
    context::lifecycle,
    error::BridgeError,
    generation::{Generation, Lane},
    slot::{Outcome, Slot},
    stats::Counters,
    sync::Arc,
    task::Supervisor,
    wait::{Waited, wait_gone, wait_scoped},
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
    /// How long a cancelled call waits for its future to be dropped (`confirm_cancel`).
    pub(crate) confirm_cancel: Option<Duration>,
    pub(crate) stats: Arc<Counters>,
}

impl Inner {
    /// Waits for a submitted call's outcome until `deadline`, or until its `scope` stops it;
    /// then cancels it (waiting for its future to be dropped, with `confirm_cancel`). At the
    /// deadline, probes its runtime on the call's `lane` (unless the call was nested, with no
    /// lane, or its runtime per-call).
    pub(crate) fn finish_call<T: Send + 'static>(
        &self,
        slot: &Arc<Slot<T>>,
        mut call: Submitted,
        deadline: Option<Instant>,
        lane: Option<Lane>,
        mut scope: Option<Watch>,
    ) -> Result<T, BridgeError> {
        let waited = wait_scoped(slot, deadline, scope.as_mut(), || {
            register_late(&mut call, slot)
        });
        drop(scope);
        // An outcome that arrived meanwhile still wins over the deadline or the scope.
        let (outcome, stop) = match waited {
            Waited::Outcome(outcome) => (Some(outcome), None),
            Waited::Deadline => (slot.cancel(), Some(Stop::TimedOut)),
            Waited::Stopped(stop) => (slot.cancel(), Some(stop)),
        };
        let Submitted {
            generation,
            registration,
        } = call;
        drop(registration);
        match (outcome, stop) {
            (Some(outcome), _) => {
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
            (None, stop) => {
                self.confirm(slot, &generation);
                match stop.unwrap_or(Stop::TimedOut) {
                    Stop::TimedOut => {
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
                    // Stopped by its caller's scope: nothing says the runtime is unwell.
                    stop => {
                        self.supply.timed_out(&generation);
                        Err(stop.into())
                    }
                }
            }
        }
    }

    /// With `confirm_cancel`: waits until the cancelled call's future has been dropped, or
    /// until the grace passes, and says which (a stats counter and an event).
    fn confirm<T>(&self, slot: &Slot<T>, generation: &Generation) {
        let Some(grace) = self.confirm_cancel else {
            return;
        };
        if !wait_gone(slot, Instant::now().checked_add(grace)) {
            let _ = generation;
            Counters::bump(&self.stats.unconfirmed);
            lifecycle!(
                warn,
                bridge = generation.bridge,
                generation = generation.id,
                grace = ?grace,
                "a cancelled call's future was not dropped within the confirm_cancel grace; \
                 the call returns without it"
            );
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
