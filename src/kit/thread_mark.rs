//! [`ThreadMark`]: which threads run a runtime's tasks. An adapter marks each of its
//! threads as it starts, and answers [`BridgeRuntime::is_runtime_thread`] from the mark: that
//! is how the bridge tells a nested call from an outside one.
//!
//! [`BridgeRuntime::is_runtime_thread`]: crate::BridgeRuntime::is_runtime_thread

use std::{
    cell::Cell,
    sync::atomic::{AtomicU64, Ordering},
};

#[cfg(doc)]
use crate::BridgeRuntime;

std::thread_local! {
    /// The mark of the runtime whose tasks this thread runs, or 0.
    static MARK: Cell<u64> = const { Cell::new(0) };
}

/// Marks the threads that run one runtime's tasks: what
/// [`BridgeRuntime::is_runtime_thread`] answers from. Each mark is unique in the process; a
/// thread carries one mark at a time. Copy it into the closures that run on the runtime's
/// threads (a thread's body, tokio's `on_thread_park`).
///
/// ```
/// let mark = loopbridge::kit::ThreadMark::new();
/// let on_it = std::thread::spawn(move || {
///     mark.mark_current_thread();
///     mark.is_current_thread()
/// });
/// assert!(on_it.join().unwrap());
/// assert!(!mark.is_current_thread());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadMark(u64);

impl ThreadMark {
    /// A mark no other runtime has.
    ///
    /// ```
    /// use loopbridge::kit::ThreadMark;
    /// assert_ne!(ThreadMark::new(), ThreadMark::new());
    /// ```
    #[allow(clippy::new_without_default)]
    pub fn new() -> ThreadMark {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ThreadMark(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Marks the current thread as one that runs this runtime's tasks.
    ///
    /// ```
    /// let mark = loopbridge::kit::ThreadMark::new();
    /// std::thread::spawn(move || mark.mark_current_thread()).join().unwrap();
    /// ```
    pub fn mark_current_thread(self) {
        MARK.with(|mark| mark.set(self.0));
    }

    /// Whether the current thread carries this mark.
    ///
    /// ```
    /// assert!(!loopbridge::kit::ThreadMark::new().is_current_thread());
    /// ```
    pub fn is_current_thread(self) -> bool {
        MARK.try_with(Cell::get).is_ok_and(|mark| mark == self.0)
    }
}
