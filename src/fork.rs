//! Fork detection: a child process inherits its parent's bridges, but not the threads of
//! their runtimes.
//!
//! On Unix, a handler registered with `pthread_atfork` runs in every child right after
//! `fork()` and counts the fork. A generation remembers the count from before its runtime
//! started; once the count has moved on, the generation belongs to a parent process, and the
//! bridge abandons it (see `Bridge`'s "Fork" docs) instead of handing it work that no thread
//! will ever run.
//!
//! The check runs on every call, so it must cost next to nothing: one relaxed load of a
//! process-wide counter. Asking the OS for the process id instead (`std::process::id()`, a
//! system call) costs about 110 ns on the 2-vCPU machine this crate is measured on, a fifth of
//! a ready call's whole round trip (the `ready` group of `cargo bench --bench bridge` times
//! both). That is the one reason this module needs `unsafe`: registering the handler is a call
//! into C.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};

/// How many times this process's line of ancestors has forked: 0 in a process that was never
/// a child of a fork that happened after [`register`].
static FORKS: AtomicU64 = AtomicU64::new(0);

/// The process's fork count now; registers the handler first, once per process. Read it
/// before starting a runtime, and compare it with [`current`] later.
pub(crate) fn epoch() -> u64 {
    register();
    current()
}

/// The process's fork count now. Cheap enough for every call.
pub(crate) fn current() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

#[cfg(unix)]
fn register() {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `pthread_atfork` only stores the three function pointers for later. The one
        // given, `in_child`, is a plain `extern "C" fn()` with no arguments, as the handlers
        // must be, and is async-signal-safe, as a handler that runs in the child of a
        // multi-threaded process must be: it only performs atomic stores on statics. It never
        // unwinds. Registering can fail only for lack of memory (ENOMEM): forks then go
        // unnoticed, as they did before this module existed.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

#[cfg(not(unix))]
fn register() {}

/// Runs in the child right after `fork()`, on its one thread: the one that called `fork()`.
#[cfg(unix)]
extern "C" fn in_child() {
    FORKS.fetch_add(1, Ordering::Relaxed);
    // No other thread came along, and this one was not waiting for a call.
    crate::spin::forget_waiters();
}
