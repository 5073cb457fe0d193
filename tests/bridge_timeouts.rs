//! Semantics 3 (timeouts cancel) and 4 (health-checked retirement).

mod support;

use std::{sync::mpsc, thread, time::Duration};

use loopbridge::{Bridge, BridgeError, SmolRuntime};
use support::{DropSignal, Latch, PATIENCE, bounded, pending_with, thread_name};

const SHORT: Duration = Duration::from_millis(50);

// ===== 3. Timeouts cancel =====

#[test]
fn a_timed_out_future_is_dropped_on_its_runtime() {
    bounded(|| {
        let bridge = Bridge::new();
        let (guard, dropped) = DropSignal::new();
        let err = bridge.call_timeout(pending_with(guard), SHORT).unwrap_err();
        assert!(err.is_timed_out(), "{err:?}");
        let dropped_on = dropped
            .recv_timeout(PATIENCE)
            .expect("the future was never dropped");
        assert!(
            dropped_on.starts_with("loopbridge-smol"),
            "dropped on {dropped_on}, not on the runtime"
        );
        let stats = bridge.stats();
        assert_eq!(
            (stats.timeouts, stats.retired),
            (1, 0),
            "a healthy runtime is not retired"
        );
    });
}

#[test]
fn the_deadline_holds_while_the_runtime_thread_is_blocked() {
    bounded(|| {
        let bridge = Bridge::new();
        let latch = Latch::new();
        let blocker = latch.clone();
        // Blocks the only executor thread synchronously until the latch opens, which happens
        // only after `call_timeout` has returned: the caller must enforce the deadline itself.
        let err = bridge
            .call_timeout(async move { blocker.wait() }, SHORT)
            .unwrap_err();
        assert!(err.is_timed_out());
        latch.release();
    });
}

#[test]
fn one_timeout_leaves_other_calls_in_flight_alone() {
    bounded(|| {
        let bridge = Bridge::new();
        let (go_tx, go_rx) = async_channel::bounded::<u32>(1);
        let (started_tx, started_rx) = mpsc::channel();
        let other = {
            let bridge = bridge.clone();
            thread::spawn(move || {
                bridge.call(async move {
                    started_tx.send(()).unwrap();
                    go_rx.recv().await.unwrap()
                })
            })
        };
        started_rx.recv_timeout(PATIENCE).unwrap();
        let err = bridge
            .call_timeout(futures_lite::future::pending::<()>(), SHORT)
            .unwrap_err();
        assert!(err.is_timed_out());
        go_tx.send_blocking(9).unwrap();
        assert_eq!(
            other.join().unwrap().unwrap(),
            9,
            "the other call must survive"
        );
        let stats = bridge.stats();
        assert_eq!((stats.started, stats.retired, stats.timeouts), (1, 0, 1));
    });
}

#[test]
fn spawn_timeout_drops_the_future_on_the_runtime_timer() {
    bounded(|| {
        let bridge = Bridge::new();
        let (guard, dropped) = DropSignal::new();
        let task = bridge.spawn_timeout(pending_with(guard), SHORT).unwrap();
        // Nobody waits on the caller's side: the runtime's own timer must cancel it.
        let dropped_on = dropped
            .recv_timeout(PATIENCE)
            .expect("the runtime timer never fired");
        assert!(dropped_on.starts_with("loopbridge-smol"));
        assert!(task.join().unwrap_err().is_timed_out());
        assert_eq!(bridge.stats().timeouts, 1);
    });
}

#[test]
fn join_timeout_cancels_the_task() {
    bounded(|| {
        let bridge = Bridge::new();
        let (guard, dropped) = DropSignal::new();
        let task = bridge.spawn(pending_with(guard)).unwrap();
        assert!(task.join_timeout(SHORT).unwrap_err().is_timed_out());
        dropped
            .recv_timeout(PATIENCE)
            .expect("the task's future was never dropped");
    });
}

#[test]
fn dropping_a_task_cancels_it_and_detach_does_not() {
    bounded(|| {
        let bridge = Bridge::new();
        let (guard, dropped) = DropSignal::new();
        drop(bridge.spawn(pending_with(guard)).unwrap());
        dropped
            .recv_timeout(PATIENCE)
            .expect("dropping the task must cancel it");

        let (tx, rx) = mpsc::channel();
        bridge
            .spawn(async move {
                async_io::Timer::after(Duration::from_millis(20)).await;
                tx.send(thread_name()).unwrap();
            })
            .unwrap()
            .detach();
        assert!(
            rx.recv_timeout(PATIENCE)
                .unwrap()
                .starts_with("loopbridge-smol")
        );
    });
}

// ===== 4. Health-checked retirement =====

#[test]
fn a_wedged_runtime_is_retired_and_replaced() {
    bounded(|| {
        let bridge = Bridge::new();
        let first = bridge.call(async { thread::current().id() }).unwrap();
        let latch = Latch::new();
        let blocker = latch.clone();
        let err = bridge
            .call_timeout(async move { blocker.wait() }, SHORT)
            .unwrap_err();
        assert!(err.is_timed_out());
        // The decision was made before `call_timeout` returned.
        let stats = bridge.stats();
        assert_eq!((stats.timeouts, stats.retired), (1, 1));
        // The next call gets a fresh runtime while the old thread is still stuck.
        let second = bridge.call(async { thread::current().id() }).unwrap();
        assert_ne!(
            first, second,
            "the next call must not run on the stuck thread"
        );
        assert_eq!(bridge.stats().started, 2);
        latch.release();
    });
}

#[test]
fn calls_stuck_on_a_retired_runtime_fail_instead_of_waiting() {
    bounded(|| {
        let bridge = Bridge::new();
        let latch = Latch::new();
        let (blocked_tx, blocked_rx) = mpsc::channel();
        let blocker = latch.clone();
        let wedge = bridge
            .spawn(async move {
                blocked_tx.send(()).unwrap();
                blocker.wait();
            })
            .unwrap();
        blocked_rx.recv_timeout(PATIENCE).unwrap();
        // A call without a timeout, queued behind the wedge.
        let waiter = {
            let bridge = bridge.clone();
            thread::spawn(move || bridge.call(async { 1 }))
        };
        // Someone else's timeout finds the runtime wedged and retires it.
        assert!(
            bridge
                .call_timeout(async {}, SHORT)
                .unwrap_err()
                .is_timed_out()
        );
        let err = waiter.join().unwrap().unwrap_err();
        assert!(err.is_retired(), "expected Retired, got {err:?}");
        assert!(matches!(wedge.join(), Err(BridgeError::Retired)));
        latch.release();
    });
}

#[test]
fn a_runtime_with_a_free_thread_passes_its_probe() {
    bounded(|| {
        let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
        let latch = Latch::new();
        let blocker = latch.clone();
        // One of two threads is blocked: the runtime can still run the probe.
        assert!(
            bridge
                .call_timeout(async move { blocker.wait() }, SHORT)
                .unwrap_err()
                .is_timed_out()
        );
        assert_eq!(bridge.stats().retired, 0);
        latch.release();
        assert_eq!(bridge.call(async { 2 }).unwrap(), 2);
        assert_eq!(bridge.stats().started, 1);
    });
}

#[test]
fn the_probe_timeout_is_configurable() {
    bounded(|| {
        // Wedged until released after the call returned: retired under a short probe.
        let bridge = Bridge::builder()
            .probe_timeout(Duration::from_millis(100))
            .build();
        let latch = Latch::new();
        let blocker = latch.clone();
        assert!(
            bridge
                .call_timeout(async move { blocker.wait() }, SHORT)
                .unwrap_err()
                .is_timed_out()
        );
        assert_eq!(bridge.stats().retired, 1);
        latch.release();

        // Released 200 ms into the wait: a long probe sees the runtime recover and keeps it.
        let bridge = Bridge::builder().probe_timeout(PATIENCE).build();
        let latch = Latch::new();
        let blocker = latch.clone();
        let releaser = {
            let latch = latch.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(200));
                latch.release();
            })
        };
        assert!(
            bridge
                .call_timeout(async move { blocker.wait() }, SHORT)
                .unwrap_err()
                .is_timed_out()
        );
        assert_eq!(bridge.stats().retired, 0);
        releaser.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "the probe timeout must be greater than zero")]
fn a_zero_probe_timeout_is_refused() {
    let _ = Bridge::builder().probe_timeout(Duration::ZERO);
}
