//! Startup failure, retirement and shutdown on the default adapter, checked down to the OS
//! threads and file descriptors. Tests here count this process's `loopbridge-…` threads, so
//! they take a lock and run one at a time.

use std::{
    io,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
};

use loopbridge::{Bridge, BridgeError, SmolRuntime};
use loopbridge_conformance::support::{
    DropSignal, Latch, PATIENCE, bounded, bridge_threads, eventually, open_fds, pending_with,
    serial,
};

// ===== 6. Startup failure =====

#[test]
fn a_failing_factory_leaves_nothing_behind_and_the_next_call_retries() {
    let _serial = serial();
    bounded(
        "a_failing_factory_leaves_nothing_behind_and_the_next_call_retries",
        || {
            let fds = open_fds();
            let attempts = Arc::new(AtomicUsize::new(0));
            let counter = attempts.clone();
            let bridge = Bridge::with_runtime(move || {
                // Start a real runtime, then fail: the half-made runtime must be cleaned up.
                let runtime = SmolRuntime::start()?;
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(io::Error::other("first start fails"));
                }
                Ok(runtime)
            });
            let err = bridge.call(async { 1 }).unwrap_err();
            match &err {
                BridgeError::Start(e) => assert_eq!(e.to_string(), "first start fails"),
                other => panic!("expected a start error, got {other:?}"),
            }
            assert_eq!(bridge.stats().started, 0, "nothing may be published");
            assert!(
                eventually(|| bridge_threads() == 0),
                "the failed runtime's thread lingers"
            );
            assert!(
                eventually(|| open_fds() <= fds),
                "descriptors leaked: {} > {fds}",
                open_fds()
            );

            assert_eq!(
                bridge.call(async { 2 }).unwrap(),
                2,
                "the next call must try again"
            );
            assert_eq!(attempts.load(Ordering::SeqCst), 2);
            assert_eq!(bridge.stats().started, 1);
            assert!(bridge.shutdown_timeout(PATIENCE));
        },
    );
}

#[test]
fn a_thread_that_cannot_start_is_a_start_error() {
    let _serial = serial();
    bounded("a_thread_that_cannot_start_is_a_start_error", || {
        // No machine can map a 64 TiB stack: the spawn itself fails.
        let bridge = Bridge::with_runtime(|| {
            SmolRuntime::builder()
                .threads(2)
                .stack_size(1 << 46)
                .build()
        });
        assert!(bridge.call(async {}).unwrap_err().is_start());
        assert!(bridge.spawn(async {}).unwrap_err().is_start());
        assert_eq!(bridge.stats().started, 0);
        assert!(eventually(|| bridge_threads() == 0));
    });
}

#[test]
fn zero_threads_is_a_clear_start_error() {
    let _serial = serial();
    let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(0));
    match bridge.call(async {}).unwrap_err() {
        BridgeError::Start(e) => {
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(
                e.to_string().contains("at least one executor thread"),
                "{e}"
            );
        }
        other => panic!("expected a start error, got {other:?}"),
    }
}

#[test]
fn a_factory_that_calls_its_own_bridge_gets_an_error_not_a_deadlock() {
    let _serial = serial();
    bounded(
        "a_factory_that_calls_its_own_bridge_gets_an_error_not_a_deadlock",
        || {
            let slot: Arc<Mutex<Option<Bridge>>> = Arc::default();
            let seen = slot.clone();
            let bridge = Bridge::with_runtime(move || {
                let own = seen
                    .lock()
                    .unwrap()
                    .clone()
                    .expect("set before the first call");
                match own.call(async {}) {
                    Err(BridgeError::Start(e)) => Err(e),
                    other => {
                        panic!("expected a start error from the re-entrant call, got {other:?}")
                    }
                }
                .and_then(|()| SmolRuntime::start())
            });
            *slot.lock().unwrap() = Some(bridge.clone());
            let err = bridge.call(async {}).unwrap_err();
            assert!(err.is_start());
            let msg = std::error::Error::source(&err).unwrap().to_string();
            assert!(
                msg.contains("factory called into the bridge it is starting"),
                "{msg}"
            );
            slot.lock().unwrap().take();
        },
    );
}

// ===== 8. Shutdown =====

#[test]
fn shutdown_joins_every_thread_of_a_multi_thread_runtime() {
    let _serial = serial();
    bounded(
        "shutdown_joins_every_thread_of_a_multi_thread_runtime",
        || {
            let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(3));
            bridge.call(async {}).unwrap();
            // A new thread names itself once it runs: wait for all three.
            assert!(
                eventually(|| bridge_threads() == 3),
                "{:?}",
                loopbridge_conformance::support::thread_names()
            );
            assert!(bridge.shutdown_timeout(PATIENCE));
            assert!(eventually(|| bridge_threads() == 0));
        },
    );
}

#[test]
fn shutdown_of_a_stuck_runtime_returns_within_its_grace() {
    let _serial = serial();
    bounded(
        "shutdown_of_a_stuck_runtime_returns_within_its_grace",
        || {
            let bridge = Bridge::new();
            let latch = Latch::new();
            let (blocked_tx, blocked_rx) = mpsc::channel();
            let blocker = latch.clone();
            let stuck = {
                let bridge = bridge.clone();
                thread::spawn(move || {
                    bridge.call(async move {
                        blocked_tx.send(()).unwrap();
                        blocker.wait();
                    })
                })
            };
            blocked_rx.recv_timeout(PATIENCE).unwrap();
            // The thread cannot exit: shutdown gives up after its grace instead of hanging.
            assert!(!bridge.shutdown_timeout(Duration::from_millis(100)));
            assert!(
                stuck.join().unwrap().unwrap_err().is_shutdown(),
                "the caller must not wait for the stuck thread"
            );
            assert_eq!(bridge_threads(), 1, "the stuck thread is still there");
            latch.release();
            assert!(
                eventually(|| bridge_threads() == 0),
                "the thread must exit once it is free"
            );
        },
    );
}

#[test]
fn shutdown_from_the_bridge_itself_schedules_the_stop() {
    let _serial = serial();
    bounded("shutdown_from_the_bridge_itself_schedules_the_stop", || {
        let bridge = Bridge::new();
        let inner = bridge.clone();
        let (tx, rx) = mpsc::channel();
        bridge
            .spawn(async move {
                // Must not join its own thread.
                let all_exited = inner.shutdown_timeout(PATIENCE);
                tx.send(all_exited).unwrap();
            })
            .unwrap()
            .detach();
        assert!(
            !rx.recv_timeout(PATIENCE).unwrap(),
            "it cannot have waited for itself"
        );
        assert!(bridge.is_shutdown());
        assert!(eventually(|| bridge_threads() == 0));
    });
}

#[test]
fn dropping_the_last_clone_shuts_down() {
    let _serial = serial();
    bounded("dropping_the_last_clone_shuts_down", || {
        let bridge = Bridge::new();
        let (guard, dropped) = DropSignal::new();
        bridge.spawn(pending_with(guard)).unwrap().detach();
        bridge.call(async {}).unwrap();
        assert_eq!(bridge_threads(), 1);
        let clone = bridge.clone();
        drop(bridge);
        assert_eq!(bridge_threads(), 1, "a clone keeps the bridge alive");
        drop(clone);
        assert!(
            dropped
                .recv_timeout(PATIENCE)
                .unwrap()
                .starts_with("loopbridge-smol")
        );
        assert!(eventually(|| bridge_threads() == 0));
    });
}

#[test]
fn a_retired_runtime_releases_its_thread_once_free() {
    let _serial = serial();
    bounded("a_retired_runtime_releases_its_thread_once_free", || {
        let bridge = Bridge::new();
        let latch = Latch::new();
        assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
        assert_eq!(bridge.stats().retired, 1);
        bridge.call(async {}).unwrap();
        assert_eq!(bridge_threads(), 2, "the stuck thread and the fresh one");
        latch.release();
        assert!(
            eventually(|| bridge_threads() == 1),
            "the retired thread must exit by itself"
        );
        assert!(bridge.shutdown_timeout(PATIENCE));
        assert!(eventually(|| bridge_threads() == 0));
    });
}

#[test]
fn per_call_joins_each_runtime_before_the_call_returns() {
    let _serial = serial();
    bounded(
        "per_call_joins_each_runtime_before_the_call_returns",
        || {
            let bridge = Bridge::per_call(|| SmolRuntime::with_threads(2));
            for _ in 0..5 {
                bridge.call(async {}).unwrap();
                assert!(
                    eventually(|| bridge_threads() == 0),
                    "a per-call runtime outlived its call"
                );
            }
            assert_eq!(bridge.stats().started, 5);
        },
    );
}
