//! Test helpers the suite uses, public so adapter tests can use them too: a hang guard, drop
//! signals, a latch that wedges a runtime thread, and Linux thread and descriptor counts.
//!
//! ```
//! use loopbridge::Bridge;
//! use loopbridge_conformance::support::{bounded, pending_with, DropSignal, PATIENCE};
//! use std::time::Duration;
//!
//! bounded("a timed-out future is dropped", || {
//!     let bridge = Bridge::new();
//!     let (signal, dropped) = DropSignal::new();
//!     let _ = bridge.call_timeout(pending_with(signal), Duration::from_millis(10));
//!     dropped.recv_timeout(PATIENCE).expect("dropped");
//! });
//! ```

mod drops;
mod hang;
mod latch;
mod process;

pub use drops::{DropSignal, PanicOnDrop, pending_with};
pub use hang::{PATIENCE, SHORT, bounded, bounded_for, bounded_reporting, eventually};
pub use latch::{LATCH_PATIENCE, Latch, needs_the_runtime, retire, wedge};
pub use process::{
    bridge_threads, fd_targets, open_fds, serial, thread_count, thread_name, thread_names,
};
