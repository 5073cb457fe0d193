//! What the process reports about its threads and descriptors (Linux `/proc`): for the tests
//! that count them, each in a binary of its own (see [`serial`]).

use std::{
    fs,
    sync::{Mutex, MutexGuard, PoisonError},
    thread,
    time::Duration,
};

use loopbridge::Bridge;

use super::hang::eventually;

/// The current thread's name, or `<unnamed>`.
///
/// ```
/// let name = std::thread::Builder::new()
///     .name("x".into())
///     .spawn(loopbridge_conformance::support::thread_name)?
///     .join()
///     .unwrap();
/// assert_eq!(name, "x");
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use]
pub fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Names of this process's threads, from `/proc/self/task/*/comm` (Linux; empty elsewhere).
/// The OS keeps the first 15 bytes of each name.
///
/// ```
/// let names = loopbridge_conformance::support::thread_names();
/// # let _ = names;
/// ```
#[must_use]
pub fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(comm) = fs::read_to_string(task.path().join("comm")) {
                names.push(comm.trim().to_owned());
            }
        }
    }
    names.sort();
    names
}

/// How many threads this process has (`/proc/self/task` entries; Linux, 0 elsewhere).
///
/// ```
/// let threads = loopbridge_conformance::support::thread_count();
/// # let _ = threads;
/// ```
#[must_use]
pub fn thread_count() -> usize {
    fs::read_dir("/proc/self/task").map_or(0, |dir| dir.count())
}

/// What this process's descriptors point at, as `fd->target` (Linux; for diagnostics).
///
/// ```
/// let targets = loopbridge_conformance::support::fd_targets();
/// # let _ = targets;
/// ```
#[must_use]
pub fn fd_targets() -> Vec<String> {
    fs::read_dir("/proc/self/fd")
        .into_iter()
        .flatten()
        .flatten()
        .map(|fd| {
            let target = fs::read_link(fd.path()).map_or_else(
                |err| format!("<{err}>"),
                |target| target.display().to_string(),
            );
            format!("{}->{target}", fd.file_name().to_string_lossy())
        })
        .collect()
}

/// How many of this process's threads are bridge threads (named `loopbridge-…`).
///
/// ```
/// assert_eq!(loopbridge_conformance::support::bridge_threads(), 0);
/// ```
#[must_use]
pub fn bridge_threads() -> usize {
    thread_names()
        .iter()
        .filter(|name| name.starts_with("loopbridge-"))
        .count()
}

/// How many file descriptors this process has open (Linux; 0 elsewhere). The directory handle
/// that lists them is one of them, every time, so it cancels out against a baseline.
///
/// ```
/// let fds = loopbridge_conformance::support::open_fds();
/// # let _ = fds;
/// ```
#[must_use]
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// Serializes the tests of a binary that count threads or descriptors, and checks that each
/// starts with no bridge thread alive. Hold the guard for the whole test.
///
/// It first makes one call on a throwaway bridge: async-io's reactor thread and descriptors are
/// global and permanent, so they must exist before anyone takes a baseline.
///
/// # Panics
///
/// Panics if bridge threads from an earlier test are still alive after [`PATIENCE`](super::hang::PATIENCE).
///
/// ```
/// let _serial = loopbridge_conformance::support::serial();
/// assert_eq!(loopbridge_conformance::support::bridge_threads(), 0);
/// ```
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let warm = Bridge::new();
    warm.call(async_io::Timer::after(Duration::from_millis(1)))
        .expect("warm-up call");
    warm.shutdown();
    assert!(
        eventually(|| bridge_threads() == 0),
        "bridge threads of an earlier test are still alive: {:?}",
        thread_names()
    );
    guard
}
