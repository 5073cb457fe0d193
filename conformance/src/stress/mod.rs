//! A seeded, randomized stress test with injected faults, for any [`BridgeRuntime`](loopbridge::BridgeRuntime) adapter.
//!
//! Many caller threads hammer one bridge with random operations, each from its own PRNG
//! stream derived from one seed: calls of ready, timer, never-ready and panicking futures
//! under random timeouts; spawns that are then joined, joined with a timeout, awaited,
//! cancelled, dropped or detached; and futures that block their runtime thread on a latch
//! until a controller thread releases it, which wedges the runtime so that calls time out, the
//! health probe fails and the bridge retires the generation. The controller also wedges every
//! runtime thread at once (to force a retirement) and shuts the bridge down at a random point
//! while the callers keep going.
//!
//! Every future is wrapped in a `Tracked` that records its creation, its completion and its
//! drop in a ledger indexed by a unique id. After the run (after the shutdown, after every
//! latch is released, once the drops have settled) the harness checks that:
//!
//! - every future created was dropped, and none twice; none was polled after it completed;
//! - every operation returned within its timeout plus the probe timeout plus `GRACE`, and a
//!   `TimedOut` never came before its deadline;
//! - every operation got exactly one result, of a kind its future allows (a value only from
//!   a future that completed, and its own value, never another's; a panic only from a future
//!   that panicked, with its own payload; `TimedOut` only with a deadline; `Shutdown` only
//!   once the shutdown began, and always for a call or spawn that began after it returned;
//!   never `Start`, `Nested` or `Unsupported`);
//! - the outcomes reconcile exactly with [`Bridge::stats`](loopbridge::Bridge::stats) (see `check_stats`).
//!
//! A hang guard runs each round on a worker thread and fails with the seed if it does not end.
//!
//! Environment:
//!
//! - `LOOPBRIDGE_STRESS=long` selects the long profile (default: short, a few seconds);
//! - `LOOPBRIDGE_STRESS_SEED=<u64>` replays a seed (default: derived from the clock). The seed
//!   and the command that replays it are always printed to stderr.
//!
//! Timing is not replayed, only each thread's sequence of operations: a replay makes the same
//! choices, but the interleavings differ.
//!
//! One file, over the size the crate's other files keep to: it is one harness around one
//! round's shared state (profile, ledger, operations, callers, controller, checks), read top to
//! bottom, and test code.

mod callers;
mod checks;
mod controller;
mod ledger;
mod profile;
mod record;
mod round;

pub use self::round::run;
