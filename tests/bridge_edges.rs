//! Edge cases found in review: jobs a runtime drops unpolled, wakers that panic, a factory
//! that is slow or calls its own bridge, and how errors read outside the bridge.

use std::{
    io::{self, Read},
    pin::Pin,
    sync::{
        Arc, mpsc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    thread,
    time::Duration,
};

use loopbridge::{
    BoxFuture, Bridge, BridgeRuntime, Job, SmolRuntime,
    conformance::support::{DropSignal, Latch, PATIENCE, SHORT, bounded, pending_with},
};

/// A broken adapter over a real smol runtime: it never gets a one-off runtime for nested
/// calls, and with `drop_jobs` it accepts every job and drops it without ever polling it. It
/// also drops the next job it is given, once, whenever `drop_next` is set.
#[derive(Debug)]
struct Broken {
    smol: SmolRuntime,
    drop_jobs: bool,
    drop_next: Arc<AtomicBool>,
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
        })
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
            // The one-off thread reports the start error right after the job is dropped; a caller
            // that woke in between sees the cancellation. Either way it must not hang.
            assert!(err.is_start() || err.is_cancelled(), "{err:?}");
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
    bounded("a_cancelled_read_is_an_error_that_read_to_end_reports", || {
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
    });
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
