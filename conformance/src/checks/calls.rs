//! The conformance checks of one area: Reuse, callers from anywhere, panics and start failures.

#[allow(unused_imports)]
use super::super::*;

impl Suite {
    /// **Reuse.** Consecutive calls reuse one runtime generation and its threads; a task started by
    /// one call still serves the calls after it.
    pub fn reuse(&self) {
        let suite = self.clone();
        bounded("reuse", move || {
            let bridge = suite.bridge();
            let caller = thread::current().id();
            let ids: HashSet<_> = (0..100)
                .map(|_| bridge.call(async { thread::current().id() }).unwrap())
                .collect();
            if suite.caller_driven() {
                assert_eq!(
                    ids,
                    HashSet::from([caller]),
                    "a caller-driven call is polled on its caller's thread"
                );
            } else {
                assert!(!ids.contains(&caller), "a call ran on the caller's thread");
            }
            let on_runtime: HashSet<_> = (0..100)
                .map(|_| {
                    let task = bridge.spawn(async { thread::current().id() }).unwrap();
                    task.join().unwrap()
                })
                .chain(
                    if suite.caller_driven() {
                        None
                    } else {
                        Some(ids)
                    }
                    .into_iter()
                    .flatten(),
                )
                .collect();
            assert!(
                !on_runtime.contains(&caller),
                "a task ran on the caller's thread"
            );
            assert!(
                on_runtime.len() <= suite.threads,
                "100 calls and tasks ran on {} threads; the runtime has {}: a thread per call?",
                on_runtime.len(),
                suite.threads
            );
            // A server task spawned on the runtime once, used by the calls after it.
            let (requests, incoming) =
                async_channel::unbounded::<(u32, async_channel::Sender<u32>)>();
            bridge
                .spawn(async move {
                    while let Ok((n, reply)) = incoming.recv().await {
                        let _ = reply.send(n * 2).await;
                    }
                })
                .unwrap()
                .detach();
            for n in 0..3 {
                let requests = requests.clone();
                let doubled = bridge
                    .call(async move {
                        let (tx, rx) = async_channel::bounded(1);
                        requests.send((n, tx)).await.unwrap();
                        rx.recv().await.unwrap()
                    })
                    .unwrap();
                assert_eq!(doubled, n * 2);
            }
            assert_eq!(
                bridge.stats().started,
                1,
                "one runtime generation for every call"
            );
        });
    }

    /// **Callers.** Sixteen threads call at once.
    pub fn calls_from_many_threads(&self) {
        let suite = self.clone();
        bounded("calls_from_many_threads", move || {
            let bridge = suite.bridge();
            let start = Arc::new(Barrier::new(16));
            let callers: Vec<_> = (0..16u64)
                .map(|t| {
                    let bridge = bridge.clone();
                    let start = start.clone();
                    thread::spawn(move || {
                        start.wait();
                        (0..50u64)
                            .map(|i| bridge.call(async move { t * 1000 + i }).unwrap())
                            .sum::<u64>()
                    })
                })
                .collect();
            for (t, caller) in callers.into_iter().enumerate() {
                let expected: u64 = (0..50).map(|i| t as u64 * 1000 + i).sum();
                assert_eq!(caller.join().unwrap(), expected);
            }
            assert_eq!(bridge.stats().started, 1);
        });
    }

    /// **Callers.** Calls from inside `futures_lite::future::block_on`, a tokio current_thread
    /// runtime (in `block_on` and in a task) and a tokio multi_thread runtime's tasks.
    pub fn calls_from_async_contexts(&self) {
        let suite = self.clone();
        bounded("calls_from_async_contexts", move || {
            let bridge = suite.bridge();
            let n = futures_lite::future::block_on(async { bridge.call(async { 1 }).unwrap() });
            assert_eq!(n, 1);

            let current = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let n = current.block_on(async {
                let inner = bridge.clone();
                let in_task = tokio::spawn(async move { inner.call(async { 2 }).unwrap() })
                    .await
                    .unwrap();
                bridge.call(async { 3 }).unwrap() + in_task
            });
            assert_eq!(n, 5);

            let multi = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let tasks: Vec<_> = (0..8)
                .map(|i| {
                    let bridge = bridge.clone();
                    multi.spawn(async move { bridge.call(async move { i * 2 }).unwrap() })
                })
                .collect();
            let total: i32 = multi.block_on(async {
                let mut total = 0;
                for task in tasks {
                    total += task.await.unwrap();
                }
                total
            });
            assert_eq!(total, 56);
        });
    }

    /// **Panics.** A panic is re-raised on the caller of `call`, `join` and `.await` with its
    /// payload, and the runtime survives it.
    pub fn panics_reach_the_caller(&self) {
        let suite = self.clone();
        bounded("panics_reach_the_caller", move || {
            #[derive(Debug, PartialEq)]
            struct Code(u32);

            let bridge = suite.bridge();
            let payload = panic::catch_unwind(AssertUnwindSafe(|| {
                bridge.call(async {
                    if true {
                        panic!("boom in the bridge");
                    }
                })
            }))
            .unwrap_err();
            assert_eq!(panic_message(&*payload), Some("boom in the bridge"));

            let task = bridge.spawn(async { panic::panic_any(Code(7)) }).unwrap();
            let payload = panic::catch_unwind(AssertUnwindSafe(|| task.join())).unwrap_err();
            assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)));

            let task = bridge.spawn(async { panic::panic_any(Code(8)) }).unwrap();
            let payload =
                panic::catch_unwind(AssertUnwindSafe(|| futures_lite::future::block_on(task)))
                    .unwrap_err();
            assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(8)));

            assert_eq!(
                bridge.call(async { 1 }).unwrap(),
                1,
                "the runtime must survive"
            );
            let stats = bridge.stats();
            assert_eq!((stats.started, stats.panics), (1, 3));
        });
    }

    /// **Panics.** A panic in the `Drop` of a timed-out future, or of an output nobody collects,
    /// stays on the runtime: every runtime thread keeps serving, nothing is retired, and no lock is
    /// left poisoned.
    pub fn panics_in_drop_are_contained(&self) {
        let suite = self.clone();
        bounded("panics_in_drop_are_contained", move || {
            let bridge = suite.patient_bridge();
            let mut drops = Vec::new();

            // A future that completes, then panics as it is dropped, and whose output panics
            // as it is dropped too: the caller gets the future's panic, and both drops stay
            // on the runtime.
            struct HoldsAndReturns {
                _held: Option<PanicOnDrop>,
                output: Option<PanicOnDrop>,
            }
            impl std::future::Future for HoldsAndReturns {
                type Output = PanicOnDrop;
                fn poll(
                    mut self: std::pin::Pin<&mut Self>,
                    _cx: &mut std::task::Context<'_>,
                ) -> std::task::Poll<PanicOnDrop> {
                    std::task::Poll::Ready(self.output.take().expect("polled once"))
                }
            }
            let (held, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let (output, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let future = HoldsAndReturns {
                _held: Some(held),
                output: Some(output),
            };
            let payload = panic::catch_unwind(AssertUnwindSafe(|| bridge.call(future)))
                .expect_err("the future's drop panicked: the call re-raises it");
            assert_eq!(
                panic_message(&*payload),
                Some("loopbridge conformance: a panic in Drop, on purpose")
            );

            // A timed-out future, dropped on the runtime by the cancel; or on its caller, where
            // the call re-raises its panic.
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let timed_out = panic::catch_unwind(AssertUnwindSafe(|| {
                bridge.call_timeout(pending_with(bomb), SHORT)
            }));
            match timed_out {
                Ok(result) => {
                    assert!(
                        !suite.caller_driven(),
                        "the drop's panic reaches the caller"
                    );
                    assert!(result.unwrap_err().is_timed_out());
                }
                Err(payload) => {
                    assert!(
                        suite.caller_driven(),
                        "a timed-out call re-raised a drop's panic"
                    );
                    assert_eq!(
                        panic_message(&*payload),
                        Some("loopbridge conformance: a panic in Drop, on purpose")
                    );
                }
            }
            // The caller-driven calls' futures are dropped here, on the caller.
            let on_caller = if suite.caller_driven() {
                drops.len()
            } else {
                0
            };

            // Outputs nobody collects, held back until nobody waits for them: a detached
            // task's, and a cancelled task's.
            let latch = Latch::new();
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let gate = latch.clone();
            bridge
                .spawn(async move {
                    gate.wait();
                    bomb
                })
                .unwrap()
                .detach();
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let gate = latch.clone();
            let task = bridge
                .spawn(async move {
                    gate.wait();
                    bomb
                })
                .unwrap();
            task.cancel();
            latch.release();
            // A detached task that had finished already: its output is dropped by `detach`,
            // quietly.
            let (bomb, dropped) = PanicOnDrop::new();
            let task = bridge.spawn(async move { bomb }).unwrap();
            while !task.is_finished() {
                thread::yield_now();
            }
            task.detach();
            assert!(dropped.try_recv().is_ok(), "dropped by the detach");

            // A future whose task is dropped before it ever runs: the runtime is stopped
            // under it. Checked in `a_panic_during_shutdown_is_contained`.

            let caller = thread_name();
            for (i, dropped) in drops.into_iter().enumerate() {
                let on = dropped
                    .recv_timeout(PATIENCE)
                    .expect("a bomb was never dropped");
                if i < on_caller {
                    assert_eq!(
                        on, caller,
                        "a caller-driven call's future is dropped on its caller"
                    );
                } else {
                    assert!(is_runtime_thread_name(&on), "dropped on {on}");
                }
            }
            // Every thread still takes work: all of them at once.
            let latch = Latch::new();
            let wedges = suite.wedge(&bridge, &latch);
            latch.release();
            for wedge in wedges {
                wedge.join().unwrap();
            }
            assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
            let stats = bridge.stats();
            let panics = if suite.caller_driven() { 2 } else { 1 };
            assert_eq!(
                (stats.started, stats.retired, stats.panics),
                (1, 0, panics),
                "only the call's panic is an outcome: a panic in a drop nobody waits for is \
                 nobody's"
            );
        });
    }

    /// **Start.** A factory error reaches the caller as `Start`, publishes nothing, and the next
    /// call tries again.
    pub fn startup_failure_is_retried(&self) {
        let factory = (self.setup)();
        bounded("startup_failure_is_retried", move || {
            let attempts = Arc::new(AtomicUsize::new(0));
            let counter = attempts.clone();
            let bridge = Bridge::with_runtime(move || {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    return Err(io::Error::other("first start fails"));
                }
                factory()
            });
            match bridge.call(async { 1 }) {
                Err(BridgeError::Start(e)) => assert_eq!(e.to_string(), "first start fails"),
                other => panic!("expected a start error, got {other:?}"),
            }
            assert_eq!(bridge.stats().started, 0, "nothing may be published");
            assert_eq!(
                bridge.call(async { 2 }).unwrap(),
                2,
                "the next call must try again"
            );
            assert_eq!(
                (attempts.load(Ordering::SeqCst), bridge.stats().started),
                (2, 1)
            );
        });
    }
}
