//! The adapter kit: the pieces every [`BridgeRuntime`] adapter needs, so that none writes them
//! again. The smol and tokio adapters are built from it, and so can yours (the
//! `futures_pool_adapter` example is one, in about 150 lines).
//!
//! - [`ThreadMark`]: marks the threads that run a runtime's tasks, for
//!   [`is_runtime_thread`](BridgeRuntime::is_runtime_thread).
//! - [`ExitLatch`]: counts what is alive (threads, tasks) and lets a shutdown wait, within its
//!   grace, until nothing is; never longer.
//! - [`Threads`]: named threads whose exits are counted, started so that a failed spawn or a
//!   runtime that cannot be built leaves nothing behind, and joined only once they have exited.
//! - [`HotWindow`]: how long a thread that ran out of work keeps looking for more before it
//!   sleeps, so that back-to-back calls do not pay for waking a parked thread.
//!
//! # Examples
//!
//! The threads of a runtime, each running until told to stop, joined within a grace:
//!
//! ```
//! use std::{sync::{Arc, atomic::{AtomicBool, Ordering}}, thread, time::{Duration, Instant}};
//! use loopbridge::kit::{ThreadMark, Threads};
//!
//! let mark = ThreadMark::new();
//! let stop = Arc::new(AtomicBool::new(false));
//! let threads = Threads::new();
//! for n in 0..2 {
//!     let (mark, stop) = (mark, stop.clone());
//!     threads.spawn(thread::Builder::new().name(format!("my-runtime-{n}")), move || {
//!         mark.mark_current_thread();
//!         while !stop.load(Ordering::Acquire) {
//!             thread::sleep(Duration::from_millis(1));
//!         }
//!     })?;
//! }
//! assert!(!mark.is_current_thread());
//! stop.store(true, Ordering::Release);
//! assert!(threads.join(Instant::now().checked_add(Duration::from_secs(5))));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`BridgeRuntime`]: crate::BridgeRuntime
//! [`BridgeRuntime::is_runtime_thread`]: crate::BridgeRuntime::is_runtime_thread

mod exit_latch;
mod hot_window;
mod lock;
mod thread_mark;
mod threads;

#[cfg(doc)]
use crate::BridgeRuntime;

pub use self::{
    exit_latch::{ExitGuard, ExitLatch},
    hot_window::HotWindow,
    thread_mark::ThreadMark,
    threads::Threads,
};
