//! The conformance checks of one area: Health: a wedged runtime is retired, a busy one kept, a moved call finishes.

#[allow(unused_imports)]
use super::super::*;

impl Suite {
    /// **Health.** A runtime whose every thread is blocked fails its probe and is retired at once;
    /// calls still queued on it fail with `Retired`, and (for a runtime the adapter owns) the next
    /// call runs on a fresh runtime while the old one is still stuck.
    pub fn a_wedged_runtime_is_retired(&self) {
        let suite = self.clone();
        bounded("a_wedged_runtime_is_retired", move || {
            let bridge = suite.bridge();
            let first = on_the_runtime(&bridge, async { thread::current().id() });
            let latch = Latch::new();
            let wedges = suite.wedge(&bridge, &latch);
            let queued = {
                let bridge = bridge.clone();
                thread::spawn(move || bridge.call(async { 1 }))
            };
            let err = bridge
                .call_timeout(needs_the_runtime(&bridge), SHORT)
                .unwrap_err();
            assert!(err.is_timed_out());
            // Decided before `call_timeout` returned.
            let stats = bridge.stats();
            assert_eq!((stats.timeouts, stats.retired), (1, 1));
            if !suite.owns_runtime {
                // A retired generation gets the same runtime back: the queued call may sit on
                // it until the wedge is gone.
                latch.release();
            }
            let queued = queued.join().unwrap();
            assert!(
                matches!(queued, Err(BridgeError::Retired) | Ok(1)),
                "a queued call must not wait for the stuck runtime: {queued:?}"
            );
            for wedge in wedges {
                assert!(wedge.join().unwrap_err().is_retired());
            }
            if suite.owns_runtime {
                let second = on_the_runtime(&bridge, async { thread::current().id() });
                assert_ne!(
                    first, second,
                    "the next call must not run on a stuck thread"
                );
                assert_eq!(bridge.stats().started, 2);
            }
            latch.release();
            assert_eq!(bridge.call(async { 3 }).unwrap(), 3);
        });
    }

    /// **Health.** A runtime that is busy, not wedged, is kept: with a queue of blocking work three
    /// times the probe window long on every thread, a timeout's probe waits far longer than its
    /// timeout, but the runtime keeps starting steps meanwhile, so it is not retired and every
    /// queued task completes. (A wedged runtime, which starts none, is still retired: see
    /// `a_wedged_runtime_is_retired`.)
    pub fn a_busy_runtime_is_not_retired(&self) {
        /// The probe window: long enough that a loaded machine always starts a step within it.
        const PROBE: Duration = Duration::from_millis(500);
        /// Each queued task blocks its thread this long.
        const WORK: Duration = Duration::from_millis(100);
        let suite = self.clone();
        bounded("a_busy_runtime_is_not_retired", move || {
            let bridge = suite.builder().probe_timeout(PROBE).build();
            bridge.start().unwrap();
            let per_thread = 3 * PROBE.as_millis() / WORK.as_millis();
            let backlog: Vec<_> = (0..suite.threads * per_thread as usize)
                .map(|i| {
                    bridge
                        .spawn(async move {
                            thread::sleep(WORK);
                            i
                        })
                        .unwrap()
                })
                .collect();
            let (guard, dropped) = DropSignal::new();
            let err = bridge.call_timeout(pending_with(guard), SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            let stats = bridge.stats();
            assert_eq!(
                (stats.timeouts, stats.retired),
                (1, 0),
                "a busy runtime was retired as if it were wedged"
            );
            for (i, task) in backlog.into_iter().enumerate() {
                assert_eq!(task.join().unwrap(), i, "a queued task failed");
            }
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the timed-out future was never dropped");
            suite.assert_dropped_where_driven(&on, &thread_name());
            assert_eq!(bridge.stats().started, 1);
        });
    }

    /// **Health.** A call, a task and a task with a deadline that a dead runtime refuses (its
    /// threads are gone) move to a fresh runtime, and every later step of theirs runs there: their
    /// futures wake themselves, and the deadline's timer is the fresh runtime's.
    pub fn a_moved_call_runs_where_it_was_taken(&self) {
        let suite = self.clone();
        bounded("a_moved_call_runs_where_it_was_taken", move || {
            async fn yields_then(n: u32) -> u32 {
                futures_lite::future::yield_now().await;
                futures_lite::future::yield_now().await;
                n
            }
            let fresh = || {
                let bridge = suite.builder_refusing_first(|_| {}).build();
                bridge.start().unwrap();
                bridge
            };

            let bridge = fresh();
            assert_eq!(bridge.call(yields_then(1)).unwrap(), 1);
            assert_eq!((bridge.stats().started, bridge.stats().retired), (2, 0));

            let bridge = fresh();
            let task = bridge.spawn(yields_then(2)).unwrap();
            assert_eq!(task.join().unwrap(), 2);

            let bridge = fresh();
            let (guard, dropped) = DropSignal::new();
            let task = bridge.spawn_timeout(pending_with(guard), SHORT).unwrap();
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the moved task's deadline never fired");
            assert!(is_runtime_thread_name(&on), "dropped on {on}");
            let err = task.join().unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            assert_eq!(bridge.stats().started, 2);
        });
    }
}
