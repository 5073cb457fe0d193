//! The stress test's profiles (how many callers, operations and rounds), its seeds and its
//! seeded random choices.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

/// The size of a run.
#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub(crate) name: &'static str,
    /// Caller threads per round.
    pub(crate) callers: usize,
    /// Operations each caller makes per round.
    pub(crate) ops_per_caller: usize,
    /// Rounds, each on a fresh bridge with a seed derived from the run's seed.
    pub(crate) rounds: usize,
    /// How long one round may take before it counts as a hang.
    pub(crate) hang_limit: Duration,
}

impl Profile {
    /// A few seconds per adapter on a loaded 2-core machine.
    pub(crate) fn short() -> Profile {
        Profile {
            name: "short",
            callers: 32,
            ops_per_caller: 500,
            rounds: 1,
            hang_limit: Duration::from_secs(120),
        }
    }

    /// Minutes: more callers, many more operations, several rounds.
    pub(crate) fn long() -> Profile {
        Profile {
            name: "long",
            callers: 64,
            ops_per_caller: 1500,
            rounds: 3,
            hang_limit: Duration::from_secs(600),
        }
    }

    /// `LOOPBRIDGE_STRESS=long` selects [`Profile::long`]; anything else (or nothing) the
    /// short one.
    pub(crate) fn from_env() -> Profile {
        match std::env::var("LOOPBRIDGE_STRESS").as_deref() {
            Ok("long") => Profile::long(),
            _ => Profile::short(),
        }
    }
}

/// The seed from `LOOPBRIDGE_STRESS_SEED`, or one derived from the clock.
pub(crate) fn seed_from_env() -> u64 {
    match std::env::var("LOOPBRIDGE_STRESS_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("LOOPBRIDGE_STRESS_SEED={text:?} is not a u64")),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            static SALT: AtomicU64 = AtomicU64::new(0);
            let salt = SALT.fetch_add(1, Ordering::Relaxed);
            Rng::new(nanos ^ (u64::from(std::process::id()) << 32) ^ salt).next_u64()
        }
    }
}

/// The operations' random choices: `fastrand`'s generator, seeded, with the few picks the
/// harness makes.
#[derive(Clone, Debug)]
pub(crate) struct Rng(fastrand::Rng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    /// An independent stream for `index`, derived from `seed`.
    pub(crate) fn stream(seed: u64, index: u64) -> Rng {
        Rng::new(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F).rotate_left(17))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// `true` with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Uniform in `lo..=hi` milliseconds, at microsecond resolution.
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(self.range(lo * 1000, hi * 1000))
    }

    /// An index picked with the given weights.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut pick = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if pick < w {
                return i;
            }
            pick -= w;
        }
        unreachable!("the pick is below the sum of the weights")
    }
}

/// How much longer than its timeout (plus the probe timeout) an operation may take before it
/// counts as a hang. Generous: a loaded 2-core machine must never flake.
pub(super) const GRACE: Duration = Duration::from_secs(5);
/// The bridge's probe timeout: small, so that wedged runtimes are retired quickly.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_millis(50);
/// The bridge's shutdown grace: the shutdown often meets a wedged runtime and waits this long.
pub(super) const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);
/// How long a blocker waits on its latch at most, in case a failed run never releases it.
pub(super) const BLOCKER_SAFETY: Duration = Duration::from_secs(120);
/// How long the harness waits for every future to be dropped once the run is over.
pub(super) const SETTLE: Duration = Duration::from_secs(30);
/// Futures the controller creates per round, beyond the callers' one per operation.
pub(super) const CONTROLLER_IDS: usize = 256;
