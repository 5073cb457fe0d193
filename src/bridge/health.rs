//! The health probe that follows a timeout: busy or wedged? A runtime is wedged only if it made
//! no progress at all while the probe waited (see the crate docs' "Health checks and
//! retirement").

use std::time::{Duration, Instant};

use crate::{
    generation::{Generation, Pulse},
    harness::{job, scheduler},
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

/// Probes `generation` with a no-op task and watches it for up to `probe_timeout`.
pub(crate) fn probe(generation: &Arc<Generation>, probe_timeout: Duration) -> Health {
    let before = generation.pulse();
    let probe = Slot::on(generation);
    let probe_job = job(async {}, probe.clone(), None, scheduler(&probe));
    match generation.runtime.spawn(probe_job) {
        Err(_refused) => Health::Dead,
        Ok(()) => watch(generation, &probe, before, probe_timeout),
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
        if generation.pulse() != before {
            drop(probe.cancel());
            return Health::Busy;
        }
    }
    drop(probe.cancel());
    Health::Wedged
}
