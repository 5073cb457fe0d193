//! The seeded stress test with injected faults (`loopbridge_conformance::stress`) on every
//! tokio flavour.
//!
//! `LOOPBRIDGE_STRESS=long` runs the long profile; `LOOPBRIDGE_STRESS_SEED=<u64>` replays a
//! seed (printed on every run).

mod app;

use loopbridge_conformance::{Suite, stress};
use loopbridge_tokio::TokioRuntime;

#[test]
fn tokio_current_thread() {
    stress::run(
        "tokio_current_thread",
        &Suite::new(TokioRuntime::current_thread),
    );
}

#[test]
fn tokio_multi_thread() {
    stress::run(
        "tokio_multi_thread",
        &Suite::new(|| TokioRuntime::multi_thread(2)).threads(2),
    );
}

/// The bridge attached to an application runtime that the test owns and keeps alive: its two
/// worker threads are the ones the blockers wedge, and retirement never stops it.
#[test]
fn tokio_from_handle() {
    let app = app::runtime();
    let handle = app.handle().clone();
    stress::run(
        "tokio_from_handle",
        &Suite::new(move || TokioRuntime::from_handle(handle.clone()))
            .threads(2)
            .shared_runtime(),
    );
    // The application's runtime outlived every generation and still runs.
    assert_eq!(app.block_on(async { 7 }), 7);
}
