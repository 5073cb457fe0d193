//! A forked child inherits its parent's bridges, but not the threads of their runtimes: the
//! bridges must notice, abandon the inherited runtimes and start fresh ones, instead of
//! handing work to threads that are not there.
//!
//! The only test of its binary: `fork()` copies just the calling thread, and the fewer other
//! threads the harness runs meanwhile, the fewer locks the child can inherit held.

#![cfg(unix)]

use std::{
    io::Write,
    panic::{self, AssertUnwindSafe},
    thread,
    time::{Duration, Instant},
};

use loopbridge::{Bridge, Drive};
use loopbridge_conformance::support::PATIENCE;
use loopbridge_tokio::TokioRuntime;

/// Runs `check` in a forked child and returns whether it passed there. A child that does not
/// exit within three times [`PATIENCE`] is killed and counts as failed.
fn in_child(check: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    // SAFETY: the child only runs `check`, writes to stderr and leaves with `_exit`, which
    // runs no destructor or `atexit` handler of the parent's.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
        0 => {
            let code = match panic::catch_unwind(AssertUnwindSafe(check)) {
                Ok(Ok(())) => 0,
                Ok(Err(failure)) => {
                    let _ = writeln!(std::io::stderr(), "in the child: {failure}");
                    1
                }
                Err(_) => 2,
            };
            // SAFETY: ends the child at once, as a forked child of a multi-threaded process
            // should.
            unsafe { libc::_exit(code) }
        }
        child => {
            let deadline = Instant::now() + 3 * PATIENCE;
            let mut status = 0;
            loop {
                // SAFETY: `status` is a valid place for the child's exit status.
                let waited = unsafe { libc::waitpid(child, &mut status, libc::WNOHANG) };
                if waited == child {
                    break;
                }
                if Instant::now() >= deadline {
                    // SAFETY: signals and reaps our own child.
                    unsafe {
                        libc::kill(child, libc::SIGKILL);
                        libc::waitpid(child, &mut status, 0);
                    }
                    return Err("the child hung: it was killed".into());
                }
                // Polling a child process: there is nothing to block on with a deadline.
                thread::sleep(Duration::from_millis(10));
            }
            match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
                Some(0) => Ok(()),
                Some(code) => Err(format!("the child failed with exit code {code}")),
                None => Err(format!("the child ended abnormally: status {status}")),
            }
        }
    }
}

fn ensure(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_owned()) }
}

#[test]
fn a_forked_child_gets_working_bridges() {
    let smol = Bridge::new();
    let tokio = Bridge::with_runtime(TokioRuntime::current_thread);
    let idle = Bridge::new();
    let caller_driven = Bridge::builder()
        .runtime(TokioRuntime::current_thread)
        .drive(Drive::Caller)
        .build();
    caller_driven.call(async {}).unwrap();
    // Each has a runtime with threads in the parent; the child will have none of them.
    assert_eq!(smol.call(async { 1 }).unwrap(), 1);
    tokio
        .call(async { tokio::time::sleep(Duration::from_millis(1)).await })
        .unwrap();
    idle.call(async {}).unwrap();
    assert_eq!(loopbridge::global().call(async { 2 }).unwrap(), 2);
    let parents_task = smol.spawn(futures_lite::future::pending::<()>()).unwrap();

    let (child_smol, child_tokio) = (smol.clone(), tokio.clone());
    in_child(move || {
        // A deadline, so that the old behaviour (a call handed to threads that are not there)
        // fails instead of hanging.
        let n = child_smol.call_timeout(async { 7 }, PATIENCE);
        ensure(
            matches!(n, Ok(7)),
            &format!("a call on an inherited smol bridge: {n:?}"),
        )?;
        ensure(child_smol.stats().started == 2, "a fresh smol runtime")?;
        let n = loopbridge::global().call_timeout(async { 8 }, PATIENCE);
        ensure(
            matches!(n, Ok(8)),
            &format!("a call on the global bridge: {n:?}"),
        )?;
        let slept = child_tokio.call_timeout(
            async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                9
            },
            PATIENCE,
        );
        ensure(
            matches!(slept, Ok(9)),
            &format!("a timer call on an inherited tokio bridge: {slept:?}"),
        )?;
        // A caller-driven call polls on the child's own thread, but its timer needs the
        // runtime's driver: a fresh runtime, started in the child.
        let slept = caller_driven.call_timeout(
            async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                10
            },
            PATIENCE,
        );
        ensure(
            matches!(slept, Ok(10)),
            &format!("a caller-driven timer call on an inherited bridge: {slept:?}"),
        )?;
        ensure(
            caller_driven.stats().started == 2,
            "a fresh runtime for the caller-driven bridge",
        )?;
        // A task of the parent's runtime cannot finish here: it fails instead of hanging.
        let joined = parents_task.join_timeout(PATIENCE);
        ensure(
            matches!(joined, Err(ref err) if err.is_retired()),
            &format!("joining the parent's task: {joined:?}"),
        )?;
        // Shutdown stops what the child started, and never waits for the parent's threads.
        ensure(
            child_smol.shutdown_timeout(PATIENCE),
            "the smol bridge's shutdown",
        )?;
        ensure(
            child_tokio.shutdown_timeout(PATIENCE),
            "the tokio bridge's shutdown",
        )?;
        ensure(
            idle.shutdown_timeout(PATIENCE),
            "the shutdown of a bridge not used in the child",
        )?;
        Ok(())
    })
    .unwrap();

    // The parent's bridges are untouched.
    assert_eq!(smol.call(async { 3 }).unwrap(), 3);
    assert_eq!(tokio.call(async { 4 }).unwrap(), 4);
    assert_eq!(smol.stats().started, 1);
    assert!(smol.shutdown_timeout(PATIENCE));
    assert!(tokio.shutdown_timeout(PATIENCE));
}
