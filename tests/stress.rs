//! The seeded stress test with injected faults (`loopbridge_conformance::stress`) on the smol
//! adapter, with one executor thread and with three.
//!
//! `LOOPBRIDGE_STRESS=long` runs the long profile; `LOOPBRIDGE_STRESS_SEED=<u64>` replays a
//! seed (printed on every run).

use loopbridge::SmolRuntime;
use loopbridge_conformance::{Suite, stress};

#[test]
fn smol_one_thread() {
    stress::run("smol_one_thread", &Suite::new(SmolRuntime::start));
}

#[test]
fn smol_three_threads() {
    stress::run(
        "smol_three_threads",
        &Suite::new(|| SmolRuntime::with_threads(3)).threads(3),
    );
}
