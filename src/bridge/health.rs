//! The health probe that follows a timeout: busy or wedged? A runtime is wedged only if it made
//! no progress at all while the probe waited (see the crate docs' "Health checks and
//! retirement").

use std::time::{Duration, Instant};

use crate::{
    generation::{Generation, Lane, Pulse},
    harness::{job, local_job, scheduler},
    slot::{Outcome, Slot},
    sync::Arc,
    wait::wait,
};

#[cfg(doc)]
use crate::runtime::BridgeRuntime;

/// What a health probe found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// The probe ran within the probe timeout, or the generation was closed meanwhile.
    Answered,
    /// The probe did not run, but the runtime made progress while it waited: steps started,
    /// or the adapter reported activity. It is busy, and kept.
    Busy,
    /// No progress at all during the probe window while the probe waited: to be retired.
    Wedged,
    /// The runtime refused the probe, or dropped it unrun: its threads are gone. To be
    /// retired.
    Dead,
}

impl Health {
    /// Whether the runtime must be retired.
    pub(crate) fn retire(self) -> bool {
        matches!(self, Health::Wedged | Health::Dead)
    }
}

/// Probes `generation` with a no-op task on `lane` and watches it for up to `probe_timeout`.
///
/// A local call that timed out is probed on the local lane, with progress counted there: a
/// runtime may serve its local calls on one thread only (smol's first thread), and a stuck
/// local thread leaves every local call to time out while the other threads go on answering
/// probes on the shared lane.
pub(crate) fn probe(generation: &Arc<Generation>, probe_timeout: Duration, lane: Lane) -> Health {
    let before = generation.pulse(lane);
    let probe = Slot::on(generation, lane);
    let sent = match lane {
        Lane::Shared => generation
            .runtime
            .spawn(job(async {}, probe.clone(), None, scheduler(&probe)))
            .map_err(drop),
        Lane::Local => generation
            .runtime
            .spawn_local(local_job(|| async {}, probe.clone()))
            .map_err(drop),
    };
    match sent {
        Err(()) => Health::Dead,
        Ok(()) => watch(generation, &probe, before, probe_timeout, lane),
    }
}

/// Waits for `probe` to run, up to `probe_timeout`, and tells what the runtime did meanwhile.
/// The progress readings are taken in a few slices of the window, not only at its ends: an
/// adapter's reading of work the bridge cannot see may count only what it sees change between
/// two readings (see [`BridgeRuntime::activity`]).
fn watch(
    generation: &Generation,
    probe: &Slot<()>,
    before: Pulse,
    probe_timeout: Duration,
    lane: Lane,
) -> Health {
    const SLICES: u32 = 8;
    let start = Instant::now();
    for slice in 1..=SLICES {
        // A probe timeout too long for `Instant` still ends, far in the future.
        let until = start
            .checked_add(probe_timeout / SLICES * slice)
            .or_else(|| start.checked_add(Duration::from_secs(86_400 * 365)));
        if let Some(outcome) = wait(probe, until, || {}) {
            return match outcome {
                Outcome::Value(()) => Health::Answered,
                // Failed by a close meanwhile: decided elsewhere.
                _ if generation.is_closed() => Health::Answered,
                // Dropped unrun by a runtime whose threads are gone.
                _ => Health::Dead,
            };
        }
        if generation.pulse(lane) != before {
            drop(probe.cancel());
            return Health::Busy;
        }
    }
    drop(probe.cancel());
    Health::Wedged
}
