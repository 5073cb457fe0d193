//! Leak checks on every tokio flavour (current_thread, multi_thread with two workers, and
//! from_handle on an application's runtime): after 10,000 calls with timeouts, 100 bridge
//! lifecycles and 20 forced retirements, this process's threads, file descriptors and live heap
//! all return to their baseline. Linux only (it reads `/proc/self`). The harness and the
//! scenarios are in the root's `tests/support/leaks.rs`, shared with the smol `leaks` test.

#![cfg(target_os = "linux")]

mod app;
#[path = "../../../tests/support/leaks.rs"]
mod leaks;

use std::time::Duration;

use loopbridge::BoxFuture;
use loopbridge_tokio::TokioRuntime;

#[global_allocator]
static ALLOC: leaks::Counting = leaks::Counting;

fn tokio_sleep(duration: Duration) -> BoxFuture {
    // Made on first poll, inside the runtime's context.
    Box::pin(async move { tokio::time::sleep(duration).await })
}

/// The only test of this binary: see `leaks::run` for why.
#[test]
fn threads_fds_and_heap_return_to_baseline() {
    // The application's runtime is created before the warm-up, hence before the baseline, and
    // lives until after the checks: its two workers, its descriptors and its own allocations
    // are not the bridge's. Only what the bridge puts on it (its tasks) counts.
    let app = app::runtime();
    let handle = app.handle().clone();
    leaks::run(vec![
        leaks::Adapter::new(
            "tokio current_thread",
            TokioRuntime::current_thread,
            tokio_sleep,
            1,
        ),
        leaks::Adapter::new(
            "tokio multi_thread(2)",
            || TokioRuntime::multi_thread(2),
            tokio_sleep,
            2,
        ),
        leaks::Adapter::new(
            "tokio from_handle",
            move || TokioRuntime::from_handle(handle.clone()),
            tokio_sleep,
            2,
        )
        .shared_threads(),
    ]);
    assert_eq!(
        app.block_on(async { 1 }),
        1,
        "the application's runtime still runs"
    );
    app.shutdown_timeout(Duration::from_secs(10));
}
