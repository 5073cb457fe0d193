//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::{
    fs,
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

/// How long any test waits for something that should happen at once. Generous, so a loaded
/// 2-core machine never flakes; a hang still fails the test instead of hanging CI.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Runs `f` on its own thread and fails the whole test binary if it has not returned within
/// `PATIENCE` (a deadlock must fail, not hang CI). A panic in `f` is re-raised here.
pub fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    bounded_for(PATIENCE, f)
}

/// [`bounded`] with an explicit bound.
pub fn bounded_for<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::Builder::new()
        .name("test-bounded".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(());
            result
        })
        .expect("spawn test thread");
    if rx.recv_timeout(limit).is_err() {
        eprintln!("test did not finish within {limit:?}: a deadlock or a hang; aborting");
        std::process::exit(101);
    }
    match worker.join().expect("worker thread") {
        Ok(value) => value,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Sends on its channel when dropped, with the name of the dropping thread.
pub struct DropSignal(pub Option<mpsc::Sender<String>>);

impl DropSignal {
    pub fn new() -> (DropSignal, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        (DropSignal(Some(tx)), rx)
    }
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let name = thread::current().name().unwrap_or("<unnamed>").to_owned();
            let _ = tx.send(name);
        }
    }
}

/// A future that never completes and signals when it is dropped.
pub async fn pending_with(guard: DropSignal) {
    let _guard = guard;
    futures_lite::future::pending::<()>().await
}

/// The current thread's name, or `<unnamed>`.
pub fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

/// Names of this process's threads, from `/proc/self/task/*/comm` (Linux).
pub fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for task in tasks.flatten() {
            if let Ok(comm) = fs::read_to_string(task.path().join("comm")) {
                names.push(comm.trim().to_owned());
            }
        }
    }
    names
}

/// How many of this process's threads are bridge threads (named `loopbridge-…`; the OS
/// keeps the first 15 bytes of a name).
pub fn bridge_threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with("loopbridge-"))
        .count()
}

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Polls `check` until it returns true or `PATIENCE` passes; returns the last answer.
pub fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// A latch: `release` opens it for every waiter, now and later.
#[derive(Clone)]
pub struct Latch(std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Latch {
    pub fn new() -> Latch {
        Latch(Default::default())
    }

    pub fn release(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    /// Blocks the current thread (synchronously: a runtime thread it runs on is wedged
    /// meanwhile) until released, or `PATIENCE` passes.
    pub fn wait(&self) {
        let guard = self.0.0.lock().unwrap();
        let _ = self
            .0
            .1
            .wait_timeout_while(guard, PATIENCE, |open| !*open)
            .unwrap();
    }
}
