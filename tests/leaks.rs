//! Leak checks on the default adapter, [`SmolRuntime`] with one and three threads: after 10,000
//! calls with timeouts, 100 bridge lifecycles and 20 forced retirements, this process's
//! threads, file descriptors and live heap all return to their baseline. Linux only (it reads
//! `/proc/self`). The harness and the scenarios are `loopbridge_conformance::leaks`.

#![cfg(target_os = "linux")]

use loopbridge::SmolRuntime;
use loopbridge_conformance::{Suite, leaks};

#[global_allocator]
static ALLOC: leaks::Counting = leaks::Counting;

/// The only test of this binary: see `leaks::run` for why.
#[test]
fn threads_fds_and_heap_return_to_baseline() {
    leaks::run(&[
        Suite::new(SmolRuntime::start).named("smol, 1 thread"),
        Suite::new(|| SmolRuntime::with_threads(3))
            .threads(3)
            .named("smol, 3 threads"),
    ]);
}
