//! Leak checks on every tokio flavour (current_thread, multi_thread with two workers, and
//! from_handle on an application's runtime): after 10,000 calls with timeouts, 100 bridge
//! lifecycles and 20 forced retirements, this process's threads, file descriptors and live heap
//! all return to their baseline. Linux only (it reads `/proc/self`). The harness and the
//! scenarios are `loopbridge_conformance::leaks`.

#![cfg(target_os = "linux")]

mod app;

use std::time::Duration;

use loopbridge::BoxFuture;
use loopbridge_conformance::{Suite, leaks};
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
    leaks::run(&[
        Suite::new(TokioRuntime::current_thread)
            .timer(tokio_sleep)
            .named("tokio current_thread"),
        Suite::new(|| TokioRuntime::multi_thread(2))
            .threads(2)
            .timer(tokio_sleep)
            .named("tokio multi_thread(2)"),
        Suite::new(move || TokioRuntime::from_handle(handle.clone()))
            .threads(2)
            .shared_runtime()
            .timer(tokio_sleep)
            .named("tokio from_handle"),
    ]);
    assert_eq!(
        app.block_on(async { 1 }),
        1,
        "the application's runtime still runs"
    );
    app.shutdown_timeout(Duration::from_secs(10));
}
