//! A small, self-contained program for running the bridge under valgrind's memcheck: every
//! bridge it makes is used (ready calls, a timer call, a call that times out and is cancelled,
//! a panic re-raised on the caller, a spawned task joined) and then shut down, on the default
//! smol adapter and on tokio's current_thread and multi_thread flavours. It checks its
//! results, so it doubles as a smoke test without valgrind.
//!
//! ```sh
//! cargo build --example valgrind_smoke
//! valgrind --leak-check=full --error-exitcode=1 --suppressions=.ci/valgrind.supp \
//!     target/debug/examples/valgrind_smoke
//! ```
//!
//! Every bridge is shut down and its threads joined before `main` returns, so nothing the
//! bridges allocated may be left: memcheck's default error kinds for leaks (definitely and
//! possibly lost) stay on, as do its errors for invalid reads and writes, uninitialized
//! values and bad frees. What remains at exit belongs to things that live as long as the
//! process by design: async-io's reactor (its "async-io" thread is started on first use and
//! never stopped) and std's handle of the main thread. Most of it is "still reachable", which
//! is not an error; two blocks are "possibly lost" only because the pointers that keep them
//! alive point into their middle. `.ci/valgrind.supp` suppresses exactly those two, each
//! matched down to the code that allocates it and justified there.

use std::{
    panic::{self, AssertUnwindSafe},
    time::Duration,
};

use loopbridge::{BoxFuture, Bridge, BridgeError, SmolRuntime};
use loopbridge_tokio::TokioRuntime;

/// A runtime's own timer, for the timer calls.
type Sleep = fn(Duration) -> BoxFuture;

/// Generous: valgrind runs threads one at a time and some 20 to 50 times slower.
const PATIENCE: Duration = Duration::from_secs(60);

fn exercise(name: &str, bridge: &Bridge, sleep: Sleep) {
    // Ready calls, with and without a deadline.
    assert_eq!(bridge.call(async { 1 + 1 }).unwrap(), 2);
    assert_eq!(bridge.call_timeout(async { 3 }, PATIENCE).unwrap(), 3);

    // A timer on the runtime.
    bridge.call(sleep(Duration::from_millis(1))).unwrap();

    // A call that times out: its future (a registered timer) is cancelled and dropped on the
    // runtime, and the runtime is probed (generously: it must not be retired under valgrind).
    let err = bridge
        .call_timeout(sleep(Duration::from_secs(3600)), Duration::from_millis(20))
        .unwrap_err();
    assert!(err.is_timed_out(), "{name}: {err:?}");

    // A panic in a bridged future is re-raised on the caller, payload included.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {})); // expected: keep stderr quiet
    let caught = panic::catch_unwind(AssertUnwindSafe(|| {
        bridge.call(async { panic!("boom from the bridge") })
    }));
    panic::set_hook(hook);
    let payload = caught.expect_err("the panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"boom from the bridge"),
        "{name}"
    );

    // The runtime survived the panic; a spawned task is joined.
    let task = bridge.spawn(async { "joined" }).unwrap();
    assert_eq!(task.join().unwrap(), "joined");

    assert!(
        bridge.shutdown_timeout(PATIENCE),
        "{name}: shutdown left threads behind"
    );
    assert!(matches!(bridge.call(async {}), Err(BridgeError::Shutdown)));
    let stats = bridge.stats();
    assert_eq!(
        (stats.started, stats.timeouts, stats.panics),
        (1, 1, 1),
        "{name}: {stats:?}"
    );
    println!("{name}: ok ({stats:?})");
}

fn smol_sleep(duration: Duration) -> BoxFuture {
    Box::pin(async move {
        async_io::Timer::after(duration).await;
    })
}

fn tokio_sleep(duration: Duration) -> BoxFuture {
    Box::pin(async move { tokio::time::sleep(duration).await })
}

fn main() {
    let probe = Duration::from_secs(10);
    let bridges: [(&str, Bridge, Sleep); 4] = [
        (
            "smol, 1 thread",
            Bridge::builder().probe_timeout(probe).build(),
            smol_sleep,
        ),
        (
            "smol, 2 threads",
            Bridge::builder()
                .runtime(|| SmolRuntime::with_threads(2))
                .probe_timeout(probe)
                .build(),
            smol_sleep,
        ),
        (
            "tokio current_thread",
            Bridge::builder()
                .runtime(TokioRuntime::current_thread)
                .probe_timeout(probe)
                .build(),
            tokio_sleep,
        ),
        (
            "tokio multi_thread(2)",
            Bridge::builder()
                .runtime(|| TokioRuntime::multi_thread(2))
                .probe_timeout(probe)
                .build(),
            tokio_sleep,
        ),
    ];
    for (name, bridge, sleep) in &bridges {
        exercise(name, bridge, *sleep);
    }
}
