//! A third adapter, written from the `BridgeRuntime` docs and `loopbridge::kit` alone: the
//! bridge on `futures-executor`'s `ThreadPool`, a runtime loopbridge does not ship. This is how
//! you plug in the runtime you already use. The pool has no timer and no context of its own, so
//! the trait's defaults serve for `sleep` (an async-io timer) and `block_on_one_off`.
//!
//! ```sh
//! cargo run --example futures_pool_adapter    # a few calls on it
//! cargo test --example futures_pool_adapter   # the whole conformance suite on it
//! ```

use std::{
    io,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use futures_executor::{ThreadPool, ThreadPoolBuilder};
use loopbridge::{
    Bridge, BridgeRuntime, Job,
    kit::{ExitGuard, ExitLatch, ThreadMark},
};

/// A [`BridgeRuntime`] on a `ThreadPool` of its own.
#[derive(Debug)]
pub struct PoolRuntime {
    /// Dropped to stop: the pool's threads exit once every handle is gone.
    pool: Mutex<Option<ThreadPool>>,
    stopping: std::sync::Arc<AtomicBool>,
    /// Marks the pool's threads, for `is_runtime_thread`.
    mark: ThreadMark,
    /// One guard per thread, let go as each thread stops: `shutdown` waits on the latch.
    exits: ExitLatch,
}

impl PoolRuntime {
    /// A pool of `threads` threads named `loopbridge-pool-N`.
    pub fn start(threads: usize) -> io::Result<PoolRuntime> {
        let mark = ThreadMark::new();
        let exits = ExitLatch::new();
        // Counted from now, not from when each thread starts, so a shutdown never sees
        // "all exited" before a thread has even begun.
        let guards: std::sync::Arc<Mutex<Vec<ExitGuard>>> =
            std::sync::Arc::new(Mutex::new((0..threads).map(|_| exits.enter()).collect()));
        let pool = ThreadPoolBuilder::new()
            .pool_size(threads)
            .name_prefix("loopbridge-pool-")
            .after_start(move |_| mark.mark_current_thread())
            .before_stop(move |_| {
                let guard = guards.lock().unwrap_or_else(PoisonError::into_inner).pop();
                drop(guard);
            })
            .create()?;
        Ok(PoolRuntime {
            pool: Mutex::new(Some(pool)),
            stopping: Default::default(),
            mark,
            exits,
        })
    }

    fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        drop(
            self.pool
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }
}

impl BridgeRuntime for PoolRuntime {
    fn spawn(&self, job: Job) -> Result<(), Job> {
        let pool = self.pool.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(pool) = pool
            .as_ref()
            .filter(|_| !self.stopping.load(Ordering::Acquire))
        else {
            return Err(job);
        };
        // The pool runs what it has queued before its threads stop: once stopping, a step is
        // dropped there instead of run, which cancels its call.
        let stopping = self.stopping.clone();
        pool.spawn_ok(async move {
            if !stopping.load(Ordering::Acquire) {
                job.await;
            }
        });
        Ok(())
    }

    fn is_runtime_thread(&self) -> bool {
        self.mark.is_current_thread()
    }

    /// The pool's futures need no context of their own: a caller can poll them as it is,
    /// while the pool runs.
    fn enter(&self, f: &mut dyn FnMut()) -> bool {
        if self.stopping.load(Ordering::Acquire) {
            return false;
        }
        f();
        true
    }

    fn shutdown(&self, grace: Duration) -> bool {
        self.begin_stop();
        if self.is_runtime_thread() {
            return false;
        }
        self.exits.wait(Instant::now().checked_add(grace))
    }
}

impl Drop for PoolRuntime {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

fn main() -> Result<(), loopbridge::BridgeError> {
    let bridge = Bridge::with_runtime(|| PoolRuntime::start(2));
    let n = bridge.call(async { 6 * 7 })?;
    let slept = bridge.call_timeout(
        async {
            async_io::Timer::after(Duration::from_millis(5)).await;
            "a timer on the pool"
        },
        Duration::from_secs(5),
    )?;
    let on = bridge.call(async { std::thread::current().name().map(str::to_owned) })?;
    println!("{n}, {slept}, on {}", on.unwrap_or_default());
    assert!(bridge.shutdown_timeout(Duration::from_secs(5)));
    Ok(())
}

#[cfg(test)]
loopbridge_conformance::conformance_suite!(
    futures_pool,
    loopbridge_conformance::Suite::new(|| super::PoolRuntime::start(2)).threads(2)
);
#[cfg(test)]
loopbridge_conformance::conformance_suite!(
    futures_pool_caller_driven,
    loopbridge_conformance::Suite::new(|| super::PoolRuntime::start(2))
        .threads(2)
        .drive(loopbridge::Drive::Caller)
);
