//! What the health check learns from tokio's stable metrics: signs of progress the bridge's
//! own count of its steps does not see.

use std::{
    hash::{DefaultHasher, Hash, Hasher},
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use tokio::runtime::Handle;

/// What the last reading saw, and how many signs of progress the readings have counted.
#[derive(Debug, Default)]
pub(crate) struct Vitals {
    last: Mutex<Option<Reading>>,
    progress: AtomicU64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reading {
    alive: usize,
    queued: usize,
    /// The workers' park counts and busy times, hashed: either changes only when a worker
    /// parks or accounts the time it spent running tasks.
    workers: u64,
}

impl Vitals {
    /// Reads the metrics and counts a sign of progress since the last reading: fewer tasks
    /// alive or queued (only running them makes those shrink; new ones only make them grow),
    /// or a worker that parked or accounted busy time.
    pub(crate) fn read(&self, handle: &Handle) -> u64 {
        let metrics = handle.metrics();
        let mut workers = DefaultHasher::new();
        #[cfg(target_has_atomic = "64")]
        for worker in 0..metrics.num_workers() {
            metrics.worker_park_count(worker).hash(&mut workers);
            metrics
                .worker_total_busy_duration(worker)
                .hash(&mut workers);
        }
        let now = Reading {
            alive: metrics.num_alive_tasks(),
            queued: metrics.global_queue_depth(),
            workers: workers.finish(),
        };
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(last) = *last {
            if now.alive < last.alive || now.queued < last.queued || now.workers != last.workers {
                self.progress.fetch_add(1, Ordering::Relaxed);
            }
        }
        *last = Some(now);
        self.progress.load(Ordering::Relaxed)
    }
}
