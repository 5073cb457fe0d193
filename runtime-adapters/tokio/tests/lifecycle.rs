//! Threads and runtimes of each tokio flavour: started, dropped on their own thread, joined,
//! and never the application's. Tests here count threads, so they run one at a time.

use std::{sync::mpsc, time::Duration};

use loopbridge::Bridge;
use loopbridge_conformance::support::{
    DropSignal, Latch, PATIENCE, SHORT, bounded, bridge_threads, eventually, pending_with, serial,
};
use loopbridge_tokio::TokioRuntime;

#[test]
fn owned_flavours_join_their_threads_on_shutdown() {
    let _serial = serial();
    bounded("owned flavours join", || {
        let current = Bridge::with_runtime(TokioRuntime::current_thread);
        current.call(async {}).unwrap();
        assert_eq!(bridge_threads(), 1, "one driver thread");
        assert!(current.shutdown_timeout(PATIENCE));
        assert!(eventually(|| bridge_threads() == 0));

        let multi = Bridge::with_runtime(|| TokioRuntime::multi_thread(2));
        multi.call(async {}).unwrap();
        // A new thread names itself once it runs.
        assert!(
            eventually(|| bridge_threads() >= 3),
            "a driver and two workers"
        );
        assert!(multi.shutdown_timeout(PATIENCE));
        assert!(eventually(|| bridge_threads() == 0));
    });
}

#[test]
fn a_retired_current_thread_runtime_is_dropped_on_its_own_thread() {
    let _serial = serial();
    bounded("retired runtime dropped on its thread", || {
        let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
        let (guard, dropped) = DropSignal::new();
        bridge.spawn(pending_with(guard)).unwrap().detach();
        let latch = Latch::new();
        assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
        assert_eq!(bridge.stats().retired, 1);
        bridge.call(async {}).unwrap();
        assert_eq!(bridge_threads(), 2, "the stuck driver and the fresh one");
        assert!(
            dropped.recv_timeout(Duration::from_millis(100)).is_err(),
            "nothing may drop the stuck runtime's tasks while its thread is stuck"
        );
        latch.release();
        let on = dropped
            .recv_timeout(PATIENCE)
            .expect("the retired runtime's task was never dropped");
        assert_eq!(
            on, "loopbridge-tokio",
            "the runtime must be dropped on its own thread"
        );
        assert!(
            eventually(|| bridge_threads() == 1),
            "the retired driver thread must exit"
        );
        assert!(bridge.shutdown_timeout(PATIENCE));
        assert!(eventually(|| bridge_threads() == 0));
    });
}

#[test]
fn from_handle_never_stops_the_application_runtime() {
    let _serial = serial();
    bounded("from_handle leaves the app alone", || {
        let app = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (app_tx, app_rx) = mpsc::channel();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        app.spawn(async move {
            go_rx.await.unwrap();
            app_tx.send("the application's own task finished").unwrap();
        });

        let handle = app.handle().clone();
        let bridge = Bridge::with_runtime(move || TokioRuntime::from_handle(handle.clone()));
        let (guard, dropped) = DropSignal::new();
        bridge.spawn(pending_with(guard)).unwrap().detach();
        // Retire a generation, then shut the bridge down.
        let latch = Latch::new();
        let wedges: Vec<_> = (0..2)
            .map(|_| {
                let latch = latch.clone();
                bridge.spawn(async move { latch.wait() }).unwrap()
            })
            .collect();
        let _ = bridge.call_timeout(async {}, SHORT);
        latch.release();
        drop(wedges);
        assert!(
            bridge.shutdown_timeout(PATIENCE),
            "the bridge's own tasks all stopped"
        );
        dropped
            .recv_timeout(PATIENCE)
            .expect("the bridge's pending task must be dropped");
        assert_eq!(
            bridge_threads(),
            0,
            "from_handle starts no thread of its own"
        );

        // The application's runtime and its task are untouched.
        go_tx.send(()).unwrap();
        assert_eq!(
            app_rx.recv_timeout(PATIENCE).unwrap(),
            "the application's own task finished"
        );
        assert_eq!(app.block_on(async { 5 }), 5);
        app.shutdown_timeout(PATIENCE);
    });
}

#[test]
fn zero_workers_is_a_clear_start_error() {
    let _serial = serial();
    let bridge = Bridge::with_runtime(|| TokioRuntime::multi_thread(0));
    let err = bridge.call(async {}).unwrap_err();
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("at least one worker thread"), "{source}");
    assert_eq!(bridge_threads(), 0);
}
