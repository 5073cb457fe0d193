//! The conformance checks of one area: Timeouts that cancel, and deadlines that hold.

#[allow(unused_imports)]
use super::super::*;

impl Suite {
    /// **Timeouts.** A timed-out future is dropped on its runtime (a caller-driven one on its
    /// caller, before the call returns), and a healthy runtime is not retired.
    pub fn timeouts_cancel_on_the_runtime(&self) {
        let suite = self.clone();
        bounded("timeouts_cancel_on_the_runtime", move || {
            let bridge = suite.patient_bridge();
            let (guard, dropped) = DropSignal::new();
            let err = bridge.call_timeout(pending_with(guard), SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            if suite.caller_driven() {
                // Synchronous: dropped before the call returned.
                let on = dropped
                    .try_recv()
                    .expect("a caller-driven call returned before its future was dropped");
                suite.assert_dropped_where_driven(&on, &thread_name());
            } else {
                let on = dropped
                    .recv_timeout(PATIENCE)
                    .expect("the timed-out future was never dropped");
                suite.assert_dropped_where_driven(&on, &thread_name());
            }
            let stats = bridge.stats();
            assert_eq!(
                (stats.timeouts, stats.retired),
                (1, 0),
                "a healthy runtime is not retired"
            );
        });
    }

    /// **Timeouts.** The deadline holds while the future blocks its runtime thread: the caller
    /// enforces it.
    pub fn deadline_holds_while_the_runtime_is_blocked(&self) {
        let suite = self.clone();
        bounded("deadline_holds_while_the_runtime_is_blocked", move || {
            let bridge = suite.bridge();
            let latch = Latch::new();
            if suite.caller_driven() {
                // A caller-driven future that blocks would block its caller, as `block_on`
                // does: the runtime is blocked by tasks instead, and the call waits on it.
                let wedges = suite.wedge(&bridge, &latch);
                let err = bridge
                    .call_timeout(needs_the_runtime(&bridge), SHORT)
                    .unwrap_err();
                assert!(err.is_timed_out(), "{err:?}");
                latch.release();
                for wedge in wedges {
                    let _ = wedge.join();
                }
                return;
            }
            // Released only after `call_timeout` returned.
            assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
            latch.release();
        });
    }

    /// **Timeouts.** One call's timeout does not disturb another call in flight on a healthy
    /// runtime.
    pub fn a_timeout_spares_other_calls(&self) {
        let suite = self.clone();
        bounded("a_timeout_spares_other_calls", move || {
            let bridge = suite.patient_bridge();
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

    /// **Timeouts.** `spawn_timeout` cancels on the runtime's own timer; `join_timeout` and
    /// dropping a task cancel it; `detach` lets it run.
    pub fn task_deadlines_and_cancellation(&self) {
        let suite = self.clone();
        bounded("task_deadlines_and_cancellation", move || {
            let bridge = suite.patient_bridge();
            let (guard, dropped) = DropSignal::new();
            let task = bridge.spawn_timeout(pending_with(guard), SHORT).unwrap();
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the runtime's timer never cancelled the task");
            assert!(is_runtime_thread_name(&on), "dropped on {on}");
            assert!(task.join().unwrap_err().is_timed_out());

            let (guard, dropped) = DropSignal::new();
            let task = bridge.spawn(pending_with(guard)).unwrap();
            assert!(task.join_timeout(SHORT).unwrap_err().is_timed_out());
            dropped
                .recv_timeout(PATIENCE)
                .expect("join_timeout must cancel the task");

            let (guard, dropped) = DropSignal::new();
            drop(bridge.spawn(pending_with(guard)).unwrap());
            dropped
                .recv_timeout(PATIENCE)
                .expect("dropping a task must cancel it");

            let (tx, rx) = mpsc::channel();
            let (go_tx, go_rx) = async_channel::bounded::<()>(1);
            bridge
                .spawn(async move {
                    go_rx.recv().await.unwrap();
                    tx.send(()).unwrap();
                })
                .unwrap()
                .detach();
            go_tx.send_blocking(()).unwrap();
            rx.recv_timeout(PATIENCE)
                .expect("a detached task must run to completion");
            let stats = bridge.stats();
            assert_eq!((stats.timeouts, stats.retired), (2, 0));
        });
    }

    /// **Timeouts.** A call's deadline holds while the runtime that replaces a dead one starts: the
    /// call gives up at its deadline while the factory is still running, and the start goes on and
    /// serves the next call. So does a `spawn_timeout`'s, while the first runtime starts, and a
    /// per-call bridge's, while the call's own runtime starts.
    pub fn deadlines_hold_while_a_runtime_starts(&self) {
        let suite = self.clone();
        bounded("deadlines_hold_while_a_runtime_starts", move || {
            let gate = Latch::new();
            let started = Arc::new(AtomicBool::new(false));
            let (factory_gate, factory_started) = (gate.clone(), started.clone());
            let bridge = suite
                .builder_refusing_first(move |_| {
                    factory_gate.wait();
                    factory_started.store(true, Ordering::SeqCst);
                })
                .build();
            bridge.start().unwrap();
            let err = bridge.call_timeout(async { 1 }, SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            assert!(
                !started.load(Ordering::SeqCst),
                "the call waited for the factory past its deadline"
            );
            gate.release();
            assert_eq!(bridge.call(async { 2 }).unwrap(), 2);
            let stats = bridge.stats();
            assert_eq!((stats.started, stats.timeouts), (2, 1));

            // A spawn with a deadline, on a bridge whose first start takes longer.
            let gate = Latch::new();
            let factory_gate = gate.clone();
            let factory = (suite.setup)();
            let bridge = Bridge::with_runtime(move || {
                factory_gate.wait();
                factory()
            });
            let err = bridge.spawn_timeout(async { 3 }, SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            gate.release();
            assert_eq!(bridge.spawn(async { 4 }).unwrap().join().unwrap(), 4);
            assert_eq!(bridge.stats().started, 1);

            // A per-call bridge, whose every call starts a runtime: the call's deadline holds
            // while its own runtime starts. (Its factory used to run on the caller's thread,
            // past the deadline.)
            let gate = Latch::new();
            let started = Arc::new(AtomicBool::new(false));
            let (factory_gate, factory_started) = (gate.clone(), started.clone());
            let factory = (suite.setup)();
            let bridge = Bridge::per_call(move || {
                factory_gate.wait();
                factory_started.store(true, Ordering::SeqCst);
                factory()
            });
            let err = bridge.call_timeout(async { 5 }, SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            assert!(
                !started.load(Ordering::SeqCst),
                "a per-call bridge's call waited for its factory past its deadline"
            );
            gate.release();
            assert_eq!(bridge.call_timeout(async { 6 }, PATIENCE).unwrap(), 6);
        });
    }
}
