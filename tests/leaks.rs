//! Leak checks on the default adapter, [`SmolRuntime`] with one and three threads: after 10,000
//! calls with timeouts, 100 bridge lifecycles and 20 forced retirements, this process's
//! threads, file descriptors and live heap all return to their baseline. Linux only (it reads
//! `/proc/self`). The harness and the scenarios are in `support/leaks.rs`, shared with the
//! tokio adapter's `leaks` test.

#![cfg(target_os = "linux")]

#[path = "support/leaks.rs"]
mod leaks;

use std::time::Duration;

use loopbridge::{BoxFuture, SmolRuntime};

#[global_allocator]
static ALLOC: leaks::Counting = leaks::Counting;

fn smol_sleep(duration: Duration) -> BoxFuture {
    Box::pin(async move {
        async_io::Timer::after(duration).await;
    })
}

/// The only test of this binary: see `leaks::run` for why.
#[test]
fn threads_fds_and_heap_return_to_baseline() {
    leaks::run(vec![
        leaks::Adapter::new("smol, 1 thread", SmolRuntime::start, smol_sleep, 1),
        leaks::Adapter::new(
            "smol, 3 threads",
            || SmolRuntime::with_threads(3),
            smol_sleep,
            3,
        ),
    ]);
}
