//! The conformance checks of one area: Nested calls, and futures that are not `Send`.

#[allow(unused_imports)]
use super::super::*;

impl Suite {
    /// **Nested calls.** A blocking call from the bridge's own runtime runs on a one-off thread,
    /// can use timers there and can nest again.
    pub fn nested_calls_fall_back(&self) {
        let suite = self.clone();
        bounded("nested_calls_fall_back", move || {
            let bridge = suite.bridge();
            let inner = bridge.clone();
            // The outer call runs on the runtime, as a task: a blocking call from there is
            // nested whatever the bridge's drive mode (a caller-driven call runs on its caller).
            let (outer, nested) = on_the_runtime(&bridge, async move {
                let again = inner.clone();
                let nested = inner
                    .call(async move {
                        // From the one-off thread, whose caller blocks a runtime thread.
                        let deeper = again.call(async { thread_name() }).unwrap();
                        (thread_name(), deeper)
                    })
                    .unwrap();
                (thread_name(), nested)
            });
            assert!(is_runtime_thread_name(&outer), "outer call ran on {outer}");
            assert_eq!(nested.0, "loopbridge-nested");
            assert_eq!(nested.1, "loopbridge-nested");
            let stats = bridge.stats();
            assert_eq!((stats.nested, stats.started), (2, 1));

            // Joining a task from the bridge would block it on itself; awaiting is fine.
            let inner = bridge.clone();
            let (join, awaited) = on_the_runtime(&bridge, async move {
                let join = inner.spawn(async { 1 }).unwrap().join();
                let awaited = inner.spawn(async { 2 }).unwrap().await;
                (join, awaited)
            });
            assert!(join.unwrap_err().is_nested());
            assert_eq!(awaited.unwrap(), 2);
        });
    }

    /// **Nested calls.** A nested call's timeout cancels its future on the one-off thread, even
    /// when the cancellation comes before the one-off thread runs anything.
    pub fn nested_timeouts_cancel(&self) {
        let suite = self.clone();
        bounded("nested_timeouts_cancel", move || {
            let bridge = suite.bridge();
            for timeout in [SHORT, Duration::ZERO] {
                let inner = bridge.clone();
                let (guard, dropped) = DropSignal::new();
                let err = on_the_runtime(&bridge, async move {
                    inner.call_timeout(pending_with(guard), timeout)
                })
                .unwrap_err();
                assert!(err.is_timed_out());
                dropped
                    .recv_timeout(PATIENCE)
                    .expect("the nested future was never dropped");
            }
            let stats = bridge.stats();
            assert_eq!((stats.nested, stats.timeouts, stats.retired), (2, 2, 0));
        });
    }

    /// **Nested calls.** Under `NestedPolicy::Error`, a nested call fails fast with `Nested`.
    pub fn nested_calls_can_be_refused(&self) {
        let suite = self.clone();
        bounded("nested_calls_can_be_refused", move || {
            let bridge = suite.builder().nested(NestedPolicy::Error).build();
            let inner = bridge.clone();
            let err = on_the_runtime(&bridge, async move { inner.call(async { 1 }) }).unwrap_err();
            assert!(err.is_nested(), "{err:?}");
            assert_eq!(bridge.stats().nested, 0);
        });
    }

    /// **Local futures.** `call_local` runs a future holding an `Rc` across an await, with the
    /// timeout, panic, nested-call and shutdown semantics of `call`; a runtime without local tasks
    /// refuses it with `Unsupported`.
    pub fn local_futures(&self) {
        let suite = self.clone();
        bounded("local_futures", move || {
            let bridge = suite.bridge();
            let (tx, rx) = async_channel::bounded::<u32>(1);
            tx.send_blocking(1).unwrap();
            let counted = bridge.call_local(move || async move {
                let count = Rc::new(Cell::new(0));
                let held = count.clone();
                // An `Rc` held across a real await.
                held.set(rx.recv().await.unwrap());
                futures_lite::future::yield_now().await;
                held.set(held.get() + 1);
                (count.get(), thread_name())
            });
            if !suite.local {
                let err = counted.unwrap_err();
                assert!(err.is_unsupported(), "expected Unsupported, got {err:?}");
                assert!(err.to_string().contains("call_local"), "{err}");
                return;
            }
            let (count, ran_on) = counted.unwrap();
            assert_eq!(count, 2);
            assert!(is_runtime_thread_name(&ran_on), "ran on {ran_on}");

            let (guard, dropped) = DropSignal::new();
            let err = bridge
                .call_local_timeout(
                    move || async move {
                        let _not_send = Rc::new(());
                        pending_with(guard).await
                    },
                    SHORT,
                )
                .unwrap_err();
            assert!(err.is_timed_out());
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the local future was never dropped");
            assert_eq!(
                on, ran_on,
                "a local future is dropped on the thread that polled it"
            );

            let payload = panic::catch_unwind(AssertUnwindSafe(|| {
                bridge.call_local(|| async {
                    let _not_send = Rc::new(());
                    if true {
                        panic!("local boom");
                    }
                })
            }))
            .unwrap_err();
            assert_eq!(panic_message(&*payload), Some("local boom"));

            let inner = bridge.clone();
            let err = on_the_runtime(&bridge, async move { inner.call_local(|| async { 1 }) })
                .unwrap_err();
            assert!(err.is_nested(), "{err:?}");

            let (started_tx, started_rx) = mpsc::channel();
            let (guard, dropped) = DropSignal::new();
            let caller = {
                let bridge = bridge.clone();
                thread::spawn(move || {
                    bridge.call_local(move || async move {
                        let _not_send = Rc::new(());
                        started_tx.send(()).unwrap();
                        pending_with(guard).await
                    })
                })
            };
            started_rx.recv_timeout(PATIENCE).unwrap();
            assert!(bridge.shutdown_timeout(PATIENCE));
            assert!(caller.join().unwrap().unwrap_err().is_shutdown());
            assert_eq!(dropped.recv_timeout(PATIENCE).unwrap(), ran_on);
            assert_eq!(bridge.stats().started, 1);
        });
    }
}
