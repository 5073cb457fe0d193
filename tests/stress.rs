//! The seeded stress test with injected faults (see `tests/support/stress.rs`) on the smol
//! adapter, with one executor thread and with three.
//!
//! `LOOPBRIDGE_STRESS=long` runs the long profile; `LOOPBRIDGE_STRESS_SEED=<u64>` replays a
//! seed (printed on every run).

mod support {
    pub mod stress;
}

use loopbridge::SmolRuntime;

#[test]
fn smol_one_thread() {
    support::stress::run("smol_one_thread", 1, SmolRuntime::start);
}

#[test]
fn smol_three_threads() {
    support::stress::run("smol_three_threads", 3, || SmolRuntime::with_threads(3));
}
