//! Semantic 5: nested calls never deadlock.

mod support;

use std::time::Duration;

use loopbridge::{Bridge, NestedPolicy, SmolRuntime};
use support::{DropSignal, PATIENCE, bounded, pending_with, thread_name};

#[test]
fn a_nested_call_runs_on_a_one_off_thread() {
    bounded(|| {
        let bridge = Bridge::new();
        let inner = bridge.clone();
        let (outer, nested) = bridge
            .call(async move {
                let nested = inner.call(async { thread_name() }).unwrap();
                (thread_name(), nested)
            })
            .unwrap();
        assert!(outer.starts_with("loopbridge-smol"), "outer ran on {outer}");
        assert_eq!(nested, "loopbridge-nested");
        assert_eq!(bridge.stats().nested, 1);
        assert_eq!(bridge.stats().started, 1);
    });
}

#[test]
fn a_nested_call_can_use_timers_and_nest_again() {
    bounded(|| {
        let bridge = Bridge::new();
        let inner = bridge.clone();
        let depth = bridge
            .call(async move {
                let again = inner.clone();
                inner
                    .call(async move {
                        async_io::Timer::after(Duration::from_millis(5)).await;
                        // From the one-off thread, whose caller blocks the runtime thread.
                        again.call(async { 3 }).unwrap()
                    })
                    .unwrap()
            })
            .unwrap();
        assert_eq!(depth, 3);
        assert_eq!(bridge.stats().nested, 2);
    });
}

#[test]
fn a_nested_timeout_cancels_the_one_off_future() {
    bounded(|| {
        let bridge = Bridge::new();
        let inner = bridge.clone();
        let (guard, dropped) = DropSignal::new();
        let err = bridge
            .call(async move { inner.call_timeout(pending_with(guard), Duration::from_millis(50)) })
            .unwrap()
            .unwrap_err();
        assert!(err.is_timed_out());
        assert_eq!(dropped.recv_timeout(PATIENCE).unwrap(), "loopbridge-nested");
        let stats = bridge.stats();
        assert_eq!((stats.nested, stats.timeouts, stats.retired), (1, 1, 0));
    });
}

#[test]
fn a_cancellation_before_the_one_off_thread_runs_still_wins() {
    bounded(|| {
        let bridge = Bridge::new();
        let inner = bridge.clone();
        let (guard, dropped) = DropSignal::new();
        // A zero timeout expires before the one-off thread can poll anything.
        let err = bridge
            .call(async move { inner.call_timeout(pending_with(guard), Duration::ZERO) })
            .unwrap()
            .unwrap_err();
        assert!(err.is_timed_out());
        dropped
            .recv_timeout(PATIENCE)
            .expect("the nested future was never dropped");
    });
}

#[test]
fn the_error_policy_refuses_nested_calls() {
    bounded(|| {
        let bridge = Bridge::builder().nested(NestedPolicy::Error).build();
        let inner = bridge.clone();
        let err = bridge
            .call(async move { inner.call(async { 1 }) })
            .unwrap()
            .unwrap_err();
        assert!(err.is_nested(), "{err:?}");
        assert_eq!(bridge.stats().nested, 0);
    });
}

#[test]
fn nested_calls_are_detected_on_every_thread_of_a_multi_thread_runtime() {
    bounded(|| {
        let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let inner = bridge.clone();
                bridge
                    .spawn(async move { inner.call(async move { (i, thread_name()) }).unwrap() })
                    .unwrap()
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.join().unwrap(), (i, "loopbridge-nested".to_owned()));
        }
        assert_eq!(bridge.stats().nested, 8);
    });
}

#[test]
fn joining_a_task_on_the_bridge_is_refused_but_awaiting_works() {
    bounded(|| {
        let bridge = Bridge::new();
        let inner = bridge.clone();
        let (join, awaited) = bridge
            .call(async move {
                let join = inner.spawn(async { 1 }).unwrap().join();
                let awaited = inner.spawn(async { 2 }).unwrap().await;
                (join, awaited)
            })
            .unwrap();
        assert!(join.unwrap_err().is_nested());
        assert_eq!(awaited.unwrap(), 2);
    });
}
