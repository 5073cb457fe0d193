//! The conformance checks of one area: Shutdown: terminal, bounded, and safe from the bridge itself.

#[allow(unused_imports)]
use super::super::*;

impl Suite {
    /// **Shutdown.** After shutdown every entry point fails with `Shutdown`, for every clone;
    /// shutting down twice is fine.
    pub fn shutdown_is_terminal(&self) {
        let suite = self.clone();
        bounded("shutdown_is_terminal", move || {
            let bridge = suite.bridge();
            let clone = bridge.clone();
            bridge.call(async {}).unwrap();
            assert!(
                bridge.shutdown_timeout(PATIENCE),
                "a free runtime stops within its grace"
            );
            assert!(clone.call(async {}).unwrap_err().is_shutdown());
            assert!(
                clone
                    .call_timeout(async {}, PATIENCE)
                    .unwrap_err()
                    .is_shutdown()
            );
            assert!(clone.spawn(async {}).unwrap_err().is_shutdown());
            assert!(clone.start().unwrap_err().is_shutdown());
            assert!(bridge.shutdown_timeout(PATIENCE));
            suite.bridge().shutdown(); // never started
            assert_eq!(
                bridge.stats().started,
                1,
                "no runtime starts after shutdown"
            );
        });
    }

    /// **Shutdown.** Calls and tasks in flight fail with `Shutdown` at once and their futures are
    /// dropped on the runtime.
    pub fn shutdown_fails_calls_in_flight(&self) {
        let suite = self.clone();
        bounded("shutdown_fails_calls_in_flight", move || {
            let bridge = suite.bridge();
            let (started_tx, started_rx) = mpsc::channel();
            let (guard, dropped) = DropSignal::new();
            let caller = {
                let bridge = bridge.clone();
                // Named, so that a future dropped on it is not taken for the runtime's.
                thread::Builder::new()
                    .name(CALLER.into())
                    .spawn(move || {
                        bridge.call(async move {
                            started_tx.send(()).unwrap();
                            pending_with(guard).await
                        })
                    })
                    .unwrap()
            };
            let (task_guard, task_dropped) = DropSignal::new();
            let task = bridge.spawn(pending_with(task_guard)).unwrap();
            started_rx.recv_timeout(PATIENCE).unwrap();

            assert!(bridge.shutdown_timeout(PATIENCE));
            assert!(caller.join().unwrap().unwrap_err().is_shutdown());
            assert!(
                futures_lite::future::block_on(task)
                    .unwrap_err()
                    .is_shutdown()
            );
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the call's future was never dropped");
            suite.assert_dropped_where_driven(&on, CALLER);
            let on = task_dropped
                .recv_timeout(PATIENCE)
                .expect("the task's future was never dropped");
            assert!(is_runtime_thread_name(&on), "dropped on {on}");
        });
    }

    /// **Shutdown.** Shutdown of a runtime whose threads are stuck returns `false` within its
    /// grace, and the stuck calls fail at once instead of waiting for it.
    pub fn shutdown_of_a_stuck_runtime_is_bounded(&self) {
        let suite = self.clone();
        bounded("shutdown_of_a_stuck_runtime_is_bounded", move || {
            let bridge = suite.bridge();
            let latch = Latch::new();
            let wedges = suite.wedge(&bridge, &latch);
            assert!(!bridge.shutdown_timeout(Duration::from_millis(100)));
            for wedge in wedges {
                assert!(wedge.join().unwrap_err().is_shutdown());
            }
            latch.release();
        });
    }

    /// **Shutdown.** Shutdown keeps its grace even when a runtime thread's thread-locals take
    /// long to drop (a cache a task left there, whose destructor blocks): it never joins a
    /// thread that has not finished, and a later shutdown sees the thread gone once it is.
    /// (Threads used to be joined without a bound once their body returned, before their
    /// thread-local destructors ran: a destructor that blocked held the shutdown, forever if
    /// it waited for the shutdown's caller.)
    pub fn shutdown_does_not_wait_for_thread_locals(&self) {
        let suite = self.clone();
        bounded("shutdown_does_not_wait_for_thread_locals", move || {
            let bridge = suite.bridge();
            let latch = Latch::new();
            let (dropping_tx, dropping) = mpsc::channel();
            let held = BlocksOnDrop {
                dropping: dropping_tx,
                released: latch.clone(),
            };
            on_the_runtime(&bridge, async move {
                HELD.with(|slot| *slot.borrow_mut() = Some(held));
            });
            // Returns within its grace, though the destructor blocks until after it returns.
            bridge.shutdown_timeout(Duration::from_millis(100));
            if suite.owns_runtime() {
                dropping
                    .recv_timeout(PATIENCE)
                    .expect("the thread-local is dropped as its runtime thread exits");
            }
            latch.release();
            if suite.owns_runtime() {
                assert!(
                    bridge.shutdown_timeout(PATIENCE),
                    "once its destructor is done, the thread exits, and a second shutdown sees it"
                );
            }
        });
    }

    /// **Shutdown.** Shutdown from a task on the bridge schedules the stop and returns.
    pub fn shutdown_from_the_bridge_itself(&self) {
        let suite = self.clone();
        bounded("shutdown_from_the_bridge_itself", move || {
            let bridge = suite.bridge();
            let inner = bridge.clone();
            let (tx, rx) = mpsc::channel();
            bridge
                .spawn(async move { tx.send(inner.shutdown_timeout(PATIENCE)).unwrap() })
                .unwrap()
                .detach();
            let waited = rx
                .recv_timeout(PATIENCE)
                .expect("shutdown from the bridge must return");
            assert!(!waited, "it cannot have waited for its own thread");
            assert!(bridge.is_shutdown());
            assert!(bridge.call(async {}).unwrap_err().is_shutdown());
        });
    }

    /// **Shutdown.** A panic while shutdown runs, in the `Drop` of futures that shutdown cancels
    /// (one running, one detached, one still queued), is contained: shutdown completes and sees the
    /// runtime's threads exit, the calls fail with `Shutdown`, and the bridge's state is not
    /// poisoned.
    pub fn a_panic_during_shutdown_is_contained(&self) {
        let suite = self.clone();
        bounded("a_panic_during_shutdown_is_contained", move || {
            let bridge = suite.bridge();
            let mut drops = Vec::new();
            let (started_tx, started_rx) = mpsc::channel();
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let running = bridge
                .spawn(async move {
                    started_tx.send(()).unwrap();
                    pending_with(bomb).await
                })
                .unwrap();
            started_rx.recv_timeout(PATIENCE).unwrap();
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            bridge.spawn(pending_with(bomb)).unwrap().detach();
            // Queued behind every thread, wedged, so that it is still queued at the shutdown.
            let latch = Latch::new();
            let wedges = suite.wedge(&bridge, &latch);
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let queued = bridge.spawn(pending_with(bomb)).unwrap();
            // The shutdown begins while every thread is stuck (so it cannot wait for them), and
            // they are released only then: they drop the queued step as they stop.
            assert!(
                !bridge.shutdown_timeout(Duration::ZERO),
                "the threads are stuck: the shutdown cannot have seen them exit"
            );
            latch.release();
            assert!(
                bridge.shutdown_timeout(PATIENCE),
                "the runtime's threads must exit despite the panics"
            );
            for dropped in drops {
                dropped
                    .recv_timeout(PATIENCE)
                    .expect("a future in flight was never dropped");
            }
            for task in [running, queued] {
                assert!(task.join().unwrap_err().is_shutdown());
            }
            for wedge in wedges {
                assert!(wedge.join().unwrap_err().is_shutdown());
            }
            assert!(bridge.is_shutdown());
            assert!(bridge.call(async {}).unwrap_err().is_shutdown());
            assert_eq!(bridge.stats().started, 1);
            assert!(bridge.shutdown_timeout(PATIENCE), "a third shutdown too");
        });
    }

    /// **Shutdown.** Dropping the last clone shuts the bridge down: a detached task's future is
    /// dropped.
    pub fn dropping_the_last_clone_shuts_down(&self) {
        let suite = self.clone();
        bounded("dropping_the_last_clone_shuts_down", move || {
            let bridge = suite.bridge();
            let (guard, dropped) = DropSignal::new();
            bridge.spawn(pending_with(guard)).unwrap().detach();
            let clone = bridge.clone();
            drop(bridge);
            assert!(
                clone.call(async { 1 }).is_ok(),
                "a clone keeps the bridge alive"
            );
            drop(clone);
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the detached future was never dropped");
            assert!(is_runtime_thread_name(&on), "dropped on {on}");
        });
    }
}

std::thread_local! {
    /// Where [`Suite::shutdown_does_not_wait_for_thread_locals`] leaves a value on a runtime
    /// thread.
    static HELD: std::cell::RefCell<Option<BlocksOnDrop>> = const { std::cell::RefCell::new(None) };
}

/// A thread-local value whose destructor says it started, then blocks until released.
struct BlocksOnDrop {
    dropping: mpsc::Sender<()>,
    released: Latch,
}

impl Drop for BlocksOnDrop {
    fn drop(&mut self) {
        let _ = self.dropping.send(());
        self.released.wait();
    }
}
