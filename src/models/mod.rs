//! loom models of the bridge's synchronization: the result slot, the generation registry and
//! its retirement, and shutdown.
//!
//! Built only with `--cfg loopbridge_loom`, which makes [`crate::sync`] export loom's types:
//!
//! ```text
//! RUSTFLAGS="--cfg loopbridge_loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release --lib -p loopbridge models
//! ```
//!
//! (A cfg of the crate's own rather than the usual `--cfg loom`: that one switches tokio and
//! concurrent-queue, which the tests depend on, to loom builds of their own.)
//!
//! The runtime here, [`ModelRuntime`], is the smallest honest adapter: one loom thread that
//! runs the jobs its `spawn` queues, and drops what is left when it stops. Timers are not
//! modelled; a timeout is expressed as the cancel that follows it.

mod caller;
mod cancel;
mod retirement;
mod runtime;
mod shutdown;
mod slot;
mod support;
