//! Edge cases found in review: jobs a runtime drops unpolled, wakers that panic, a factory
//! that is slow or calls its own bridge, and how errors read outside the bridge.

use std::{
    io::{self, Read},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    task::{Context, Poll, Wake, Waker},
    thread,
    time::Duration,
};

use loopbridge::{BoxFuture, Bridge, BridgeRuntime, Job, SmolRuntime};
use loopbridge_conformance::support::{DropSignal, Latch, PATIENCE, SHORT, bounded, pending_with};

/// A broken adapter over a real smol runtime: it never gets a one-off runtime for nested
/// calls, and with `drop_jobs` it accepts every job and drops it without ever polling it. It
/// also drops the next job it is given, once, whenever `drop_next` is set.
#[derive(Debug)]
struct Broken {
    smol: SmolRuntime,
    drop_jobs: bool,
    drop_next: Arc<AtomicBool>,
    /// Its timer panics when polled, as tokio's does on a runtime without a time driver.
    timer_panics: bool,
}

impl Broken {
    fn start(drop_jobs: bool) -> io::Result<Broken> {
        Broken::dropping_when(drop_jobs, Arc::default())
    }

    fn dropping_when(drop_jobs: bool, drop_next: Arc<AtomicBool>) -> io::Result<Broken> {
        Ok(Broken {
            smol: SmolRuntime::start()?,
            drop_jobs,
            drop_next,
            timer_panics: false,
        })
    }

    fn with_a_panicking_timer() -> io::Result<Broken> {
        let mut broken = Broken::start(false)?;
        broken.timer_panics = true;
        Ok(broken)
    }
}

impl BridgeRuntime for Broken {
    fn spawn(&self, job: Job) -> Result<(), Job> {
        if self.drop_jobs || self.drop_next.swap(false, Ordering::SeqCst) {
            drop(job);
            return Ok(());
        }
        self.smol.spawn(job)
    }
    fn sleep(&self, duration: Duration) -> BoxFuture {
        if self.timer_panics {
            return Box::pin(async { panic!("this adapter's timer panicked") });
        }
        self.smol.sleep(duration)
    }
    fn is_runtime_thread(&self) -> bool {
        self.smol.is_runtime_thread()
    }
    fn block_on_one_off(&self, _future: BoxFuture) -> io::Result<()> {
        Err(io::Error::other("no one-off runtime here"))
    }
    fn shutdown(&self, grace: Duration) -> bool {
        self.smol.shutdown(grace)
    }
}

#[test]
fn a_job_dropped_unpolled_fails_its_caller_instead_of_hanging() {
    bounded(
        "a_job_dropped_unpolled_fails_its_caller_instead_of_hanging",
        || {
            let bridge = Bridge::with_runtime(|| Broken::start(true));
            let (guard, dropped) = DropSignal::new();
            let err = bridge.call(pending_with(guard)).unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
            dropped
                .recv_timeout(PATIENCE)
                .expect("the future must be dropped with its job");
            let err = bridge.spawn(async { 1 }).unwrap().join().unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
        },
    );
}

#[test]
fn a_one_off_runtime_that_cannot_start_fails_the_nested_call() {
    bounded(
        "a_one_off_runtime_that_cannot_start_fails_the_nested_call",
        || {
            // Jobs run on a real smol runtime, but nested calls get no one-off runtime.
            let bridge = Bridge::with_runtime(|| Broken::start(false));
            let inner = bridge.clone();
            let err = bridge
                .call(async move { inner.call(async { 1 }) })
                .unwrap()
                .unwrap_err();
            // The one-off thread fails the call with the start error before it drops the call's
            // job. (It used to drop the job first, and a caller that woke in between took the
            // cancellation instead.)
            assert!(err.is_start(), "{err:?}");
        },
    );
}

/// A waker that panics when woken.
struct Grenade;

impl Wake for Grenade {
    fn wake(self: Arc<Self>) {
        panic!("a foreign waker panicked");
    }
}

#[test]
fn a_panicking_waker_does_not_stop_shutdown_from_failing_every_call() {
    bounded(
        "a_panicking_waker_does_not_stop_shutdown_from_failing_every_call",
        || {
            let bridge = Bridge::new();
            // An awaited task whose waker will panic when shutdown wakes it.
            let mut task = bridge.spawn(futures_lite::future::pending::<()>()).unwrap();
            let waker = Waker::from(Arc::new(Grenade));
            assert!(
                std::pin::Pin::new(&mut task)
                    .poll(&mut Context::from_waker(&waker))
                    .is_pending()
            );
            // Blocking calls in flight from several threads (and so several registry shards).
            let (started_tx, started_rx) = mpsc::channel();
            let callers: Vec<_> = (0..8)
                .map(|_| {
                    let bridge = bridge.clone();
                    let started_tx = started_tx.clone();
                    thread::spawn(move || {
                        bridge.call(async move {
                            started_tx.send(()).unwrap();
                            futures_lite::future::pending::<()>().await
                        })
                    })
                })
                .collect();
            for _ in 0..8 {
                started_rx.recv_timeout(PATIENCE).unwrap();
            }
            assert!(bridge.shutdown_timeout(PATIENCE));
            for caller in callers {
                assert!(caller.join().unwrap().unwrap_err().is_shutdown());
            }
            let waker = Waker::from(Arc::new(Grenade));
            let polled = std::pin::Pin::new(&mut task).poll(&mut Context::from_waker(&waker));
            assert!(matches!(polled, Poll::Ready(Err(e)) if e.is_shutdown()));
        },
    );
}

#[test]
fn a_caller_waiting_on_a_slow_start_keeps_its_deadline() {
    bounded(
        "a_caller_waiting_on_a_slow_start_keeps_its_deadline",
        || {
            let latch = Latch::new();
            let gate = latch.clone();
            let (entered_tx, entered_rx) = mpsc::channel();
            let bridge = Bridge::with_runtime(move || {
                let _ = entered_tx.send(());
                gate.wait();
                SmolRuntime::start()
            });
            let first = {
                let bridge = bridge.clone();
                thread::spawn(move || bridge.call(async { 1 }))
            };
            entered_rx.recv_timeout(PATIENCE).unwrap();
            // The factory is stuck in the first caller: this one must not wait past its deadline.
            let err = bridge.call_timeout(async { 2 }, SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            latch.release();
            assert_eq!(first.join().unwrap().unwrap(), 1);
            assert_eq!(bridge.call_timeout(async { 3 }, PATIENCE).unwrap(), 3);
            assert_eq!(bridge.stats().started, 1);
        },
    );
}

#[test]
fn a_per_call_factory_that_calls_its_own_bridge_gets_an_error() {
    bounded(
        "a_per_call_factory_that_calls_its_own_bridge_gets_an_error",
        || {
            let own: Arc<std::sync::Mutex<Option<Bridge>>> = Arc::default();
            let seen = own.clone();
            let bridge = Bridge::per_call(move || {
                let bridge = seen
                    .lock()
                    .unwrap()
                    .clone()
                    .expect("set before the first call");
                let err = bridge.call(async {}).unwrap_err();
                assert!(err.is_start(), "{err:?}");
                SmolRuntime::start()
            });
            *own.lock().unwrap() = Some(bridge.clone());
            assert_eq!(bridge.call(async { 5 }).unwrap(), 5);
            own.lock().unwrap().take();
        },
    );
}

/// An async reader whose every read is pending, waking itself at once, and asks the runtime
/// to drop the step that wakes it: each read's call is cancelled.
struct CancelledEveryTime {
    drop_next: Arc<AtomicBool>,
}

impl futures_lite::io::AsyncRead for CancelledEveryTime {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        _out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.drop_next.store(true, Ordering::SeqCst);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A cancelled read is reported, not made again. (Before, a cancelled call became
/// `io::ErrorKind::Interrupted`, which `read_to_end` retries silently: this read spun
/// forever, every retry cancelled in turn.)
#[test]
fn a_cancelled_read_is_an_error_that_read_to_end_reports() {
    bounded(
        "a_cancelled_read_is_an_error_that_read_to_end_reports",
        || {
            let drop_next = Arc::new(AtomicBool::new(false));
            let flag = drop_next.clone();
            let bridge = Bridge::with_runtime(move || Broken::dropping_when(false, flag.clone()));
            let mut reader = bridge.reader(CancelledEveryTime { drop_next });
            let err = reader.read_to_end(&mut Vec::new()).unwrap_err();
            assert_ne!(err.kind(), io::ErrorKind::Interrupted, "{err:?}");
            assert!(
                loopbridge::BridgeError::from_io(&err).is_some_and(|e| e.is_cancelled()),
                "{err:?}"
            );
        },
    );
}

/// A maker's error is said once when a report walks the error chain, as `anyhow` does: it is
/// the `source`, and not part of `Make`'s own text. (Before, it was both.)
#[test]
fn a_make_error_says_its_cause_once_along_the_chain() {
    let bridge = Bridge::new();
    let db = bridge.try_bind(|| async { Err::<(), _>(io::Error::other("connection refused")) });
    let err = db.call(|_| async {}).unwrap_err();
    let mut chain = Vec::new();
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(error) = link {
        chain.push(error.to_string());
        link = error.source();
    }
    let report = chain.join(": ");
    assert_eq!(
        report,
        "failed to make a runtime-bound value: connection refused"
    );
}

/// An adapter's timer that panics is the task's panic, re-raised where the task is joined, and
/// the runtime serves on. (It used to be polled outside the task's containment: it unwound
/// into the runtime's thread, and the task was dropped, so its joiner got `Cancelled`.)
#[test]
fn a_panicking_timer_is_the_tasks_panic() {
    bounded("a_panicking_timer_is_the_tasks_panic", || {
        let bridge = Bridge::with_runtime(Broken::with_a_panicking_timer);
        let task = bridge
            .spawn_timeout(std::future::pending::<()>(), PATIENCE)
            .unwrap();
        let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task.join()))
            .expect_err("the timer's panic reaches the joiner");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"this adapter's timer panicked")
        );
        assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
    });
}

/// A waker that, when woken, says so and blocks until released: a slow foreign waker, which
/// holds up whoever wakes it.
struct Slow {
    woken: std::sync::Mutex<mpsc::Sender<()>>,
    release: Latch,
}

impl Wake for Slow {
    fn wake(self: Arc<Self>) {
        let _ = self.woken.lock().unwrap().send(());
        self.release.wait();
    }
}

/// A shutdown that lands while a retirement is failing the calls in flight returns only once
/// every one of them has failed. (The retirement used to unpublish the runtime before it
/// failed them: a shutdown in between found nothing to shut down and returned at once, with a
/// task still pending.) The retirement is held mid-way by the slow waker of the first task it
/// fails.
#[test]
fn a_shutdown_racing_a_retirement_returns_after_the_calls_in_flight_failed() {
    bounded("a_shutdown_racing_a_retirement", || {
        let bridge = Bridge::new();
        let mut first = bridge.spawn(std::future::pending::<()>()).unwrap();
        let (woken_tx, woken) = mpsc::channel();
        let release = Latch::new();
        let waker = Waker::from(Arc::new(Slow {
            woken: std::sync::Mutex::new(woken_tx),
            release: release.clone(),
        }));
        assert!(
            Pin::new(&mut first)
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        let second = bridge.spawn(std::future::pending::<()>()).unwrap();
        // Wedge the runtime, and let a timed-out call retire it.
        let wedge = Latch::new();
        let blockers = loopbridge_conformance::support::wedge(&bridge, 1, &wedge);
        let retirer = {
            let bridge = bridge.clone();
            thread::spawn(move || bridge.call_timeout(async {}, SHORT))
        };
        woken
            .recv_timeout(PATIENCE)
            .expect("the retirement fails the first task, and wakes its waker");
        // The retirement is under way, held in the first task's waker.
        let (returned_tx, returned) = mpsc::channel();
        let stopper = {
            let bridge = bridge.clone();
            thread::spawn(move || {
                let all_exited = bridge.shutdown_timeout(PATIENCE);
                let _ = returned_tx.send(second.is_finished());
                (all_exited, second)
            })
        };
        // Without the fix the shutdown returns at once; with it, it waits for the retirement,
        // which waits for the waker. Either way, let the waker go after a moment.
        let early = returned.recv_timeout(SHORT).ok();
        release.release();
        wedge.release();
        let finished = early.unwrap_or_else(|| returned.recv_timeout(PATIENCE).unwrap());
        assert!(
            finished,
            "the shutdown returned while a task on the retiring runtime was still pending"
        );
        let (_, second) = stopper.join().unwrap();
        assert!(second.join().is_err());
        assert!(retirer.join().unwrap().unwrap_err().is_timed_out());
        // Released as the retirement resumes: each finished or was failed, whichever came
        // first.
        for blocker in blockers {
            let _ = blocker.join();
        }
        drop(first);
    });
}
