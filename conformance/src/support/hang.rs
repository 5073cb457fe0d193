//! The hang guard: a check that deadlocks fails after a bound instead of hanging CI
//! ([`bounded`] and its kin), the waits checks use ([`PATIENCE`], [`SHORT`]), and
//! [`eventually`] for what the OS reports late.

use std::{
    io::Write,
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

/// How long a check waits for something that should happen at once. Generous, so a loaded
/// 2-core machine never flakes; a hang still fails instead of hanging CI.
///
/// ```
/// assert_eq!(loopbridge_conformance::support::PATIENCE.as_secs(), 10);
/// ```
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A short deadline for calls that are meant to time out.
///
/// ```
/// assert!(loopbridge_conformance::support::SHORT < loopbridge_conformance::support::PATIENCE);
/// ```
pub const SHORT: Duration = Duration::from_millis(50);

/// Runs `f` on its own thread and ends the whole process with exit code 101 if it has not
/// returned within [`PATIENCE`]: a deadlock must fail the test run, not hang it. A panic in
/// `f` is re-raised on the caller.
///
/// ```
/// use loopbridge_conformance::support::bounded;
/// assert_eq!(bounded("quick", || 1 + 1), 2);
/// ```
pub fn bounded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    bounded_for(what, PATIENCE, f)
}

/// [`bounded`] with an explicit bound.
///
/// ```
/// use std::time::Duration;
/// use loopbridge_conformance::support::bounded_for;
/// assert_eq!(bounded_for("quick", Duration::from_secs(5), || 3), 3);
/// ```
pub fn bounded_for<T: Send + 'static>(
    what: &str,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    bounded_reporting(what, limit, String::new, f)
}

/// [`bounded_for`], saying what was going on when it hangs: `report` runs on the calling
/// thread at the limit, and what it returns is printed before the process exits.
///
/// ```
/// use std::time::Duration;
/// use loopbridge_conformance::support::bounded_reporting;
/// let n = bounded_reporting("quick", Duration::from_secs(5), || "stuck in step 3".into(), || 4);
/// assert_eq!(n, 4);
/// ```
pub fn bounded_reporting<T: Send + 'static>(
    what: &str,
    limit: Duration,
    report: impl FnOnce() -> String,
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
        .expect("spawn the bounded test thread");
    if rx.recv_timeout(limit).is_err() {
        // Straight to the stream: the test harness's capture of `eprintln!` dies with us.
        let _ = writeln!(
            std::io::stderr(),
            "`{what}` did not finish within {limit:?}: a deadlock or a hang; exiting. {}",
            report()
        );
        std::process::exit(101);
    }
    match worker
        .join()
        .expect("the bounded thread catches its panics")
    {
        Ok(value) => value,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Polls `check` every 10 ms until it returns `true` or [`PATIENCE`] passes; returns its last
/// answer.
///
/// ```
/// assert!(loopbridge_conformance::support::eventually(|| true));
/// ```
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
