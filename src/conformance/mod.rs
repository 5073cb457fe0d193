//! A conformance suite for [`BridgeRuntime`] adapters (feature `conformance`).
//!
//! Every semantic a [`Bridge`] promises, written once and run against any runtime: reuse,
//! callers from anywhere, timeouts that cancel, health-checked retirement, nested calls,
//! startup failure, panics and shutdown. loopbridge runs it on [`SmolRuntime`] with one and
//! with three threads, and `loopbridge-tokio` on each tokio flavour. Run it on your own
//! adapter, or on whichever runtimes your own tests swap between, with one line each:
//!
//! ```no_run
//! // tests/conformance.rs, with `loopbridge = { features = ["conformance"] }` in
//! // [dev-dependencies]:
//! use loopbridge::{conformance::Suite, SmolRuntime};
//!
//! loopbridge::conformance_suite!(smol_one, Suite::new(SmolRuntime::start));
//! loopbridge::conformance_suite!(smol_four, Suite::new(|| SmolRuntime::with_threads(4)).threads(4));
//! # fn main() {}
//! ```
//!
//! Each check runs under a hang guard that ends the test process after
//! [`PATIENCE`] instead of letting a deadlock hang CI. The checks only
//! count what the bridge reports and observe what futures see; counting OS threads needs a
//! test binary of its own (see [`support::bridge_threads`]).
//!
//! [`SmolRuntime`]: crate::SmolRuntime

pub mod leaks;
pub mod stress;
pub mod support;

use std::{
    any::Any,
    cell::Cell,
    collections::HashSet,
    fmt, io,
    panic::{self, AssertUnwindSafe},
    rc::Rc,
    sync::{
        Arc, Barrier,
        atomic::{AtomicBool, AtomicUsize, Ordering},
        mpsc,
    },
    thread,
    time::Duration,
};

use crate::{BoxFuture, Bridge, BridgeBuilder, BridgeError, BridgeRuntime, NestedPolicy};
use support::{
    DropSignal, Latch, PATIENCE, PanicOnDrop, SHORT, bounded, pending_with, thread_name,
};

type Factory = Arc<dyn Fn() -> io::Result<Box<dyn BridgeRuntime>> + Send + Sync>;
type Setup = Arc<dyn Fn() -> Factory + Send + Sync>;

/// A runtime factory and what the checks need to know about its runtimes.
///
/// # Examples
///
/// ```
/// use loopbridge::{conformance::Suite, SmolRuntime};
///
/// let suite = Suite::new(|| SmolRuntime::with_threads(2)).threads(2);
/// suite.reuse();
/// suite.timeouts_cancel_on_the_runtime();
/// ```
#[derive(Clone)]
pub struct Suite {
    name: &'static str,
    setup: Setup,
    threads: usize,
    owns_runtime: bool,
    local: bool,
    timer: fn(Duration) -> BoxFuture,
}

/// An async-io timer: runtime-agnostic, the default [`Suite::timer`].
fn async_io_timer(duration: Duration) -> BoxFuture {
    Box::pin(async move {
        async_io::Timer::after(duration).await;
    })
}

impl fmt::Debug for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("name", &self.name)
            .field("threads", &self.threads)
            .field("owns_runtime", &self.owns_runtime)
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

impl Suite {
    /// A suite for runtimes made by `factory`, with one runtime thread.
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, SmolRuntime};
    /// let suite = Suite::new(SmolRuntime::start);
    /// # let _ = suite;
    /// ```
    pub fn new<R, F>(factory: F) -> Suite
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        let factory: Factory =
            Arc::new(move || factory().map(|r| Box::new(r) as Box<dyn BridgeRuntime>));
        Suite {
            name: "adapter",
            setup: Arc::new(move || factory.clone()),
            threads: 1,
            owns_runtime: true,
            local: false,
            timer: async_io_timer,
        }
    }

    /// A suite whose every check calls `setup` for a factory of its own, for runtimes that
    /// attach to something a check must not share with the others running beside it (an
    /// application runtime that a check wedges, say).
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, SmolRuntime};
    /// let suite = Suite::per_check(|| SmolRuntime::start);
    /// # let _ = suite;
    /// ```
    pub fn per_check<R, F, S>(setup: S) -> Suite
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
        S: Fn() -> F + Send + Sync + 'static,
    {
        Suite {
            name: "adapter",
            setup: Arc::new(move || {
                let factory = setup();
                Arc::new(move || factory().map(|r| Box::new(r) as Box<dyn BridgeRuntime>))
                    as Factory
            }),
            threads: 1,
            owns_runtime: true,
            local: false,
            timer: async_io_timer,
        }
    }

    /// Names the adapter in the reports of the leak and stress harnesses (default
    /// `"adapter"`).
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, SmolRuntime};
    /// let suite = Suite::new(SmolRuntime::start).named("smol, 1 thread");
    /// assert_eq!(suite.name(), "smol, 1 thread");
    /// ```
    pub fn named(mut self, name: &'static str) -> Suite {
        self.name = name;
        self
    }

    /// The adapter's name (see [`named`](Suite::named)).
    ///
    /// ```
    /// assert_eq!(loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start).name(), "adapter");
    /// ```
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Sets the runtime's own timer, as the leak harness's timer calls use it (default: an
    /// async-io timer, which works on any runtime). A timer whose future needs the runtime's
    /// context must be made on first poll (an `async move` block does this).
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopbridge::{BoxFuture, conformance::Suite, SmolRuntime};
    ///
    /// fn timer(duration: Duration) -> BoxFuture {
    ///     Box::pin(async move { async_io::Timer::after(duration).await; })
    /// }
    /// let suite = Suite::new(SmolRuntime::start).timer(timer);
    /// # let _ = suite;
    /// ```
    pub fn timer(mut self, timer: fn(Duration) -> BoxFuture) -> Suite {
        self.timer = timer;
        self
    }

    /// How many threads run the runtime's tasks (see [`threads`](Suite::threads)).
    pub(crate) fn thread_count(&self) -> usize {
        self.threads
    }

    /// Whether the runtime belongs to the adapter (see [`shared_runtime`](Suite::shared_runtime)).
    pub(crate) fn owns_runtime(&self) -> bool {
        self.owns_runtime
    }

    /// A timer future from the runtime's own timer (see [`timer`](Suite::timer)).
    pub(crate) fn sleep(&self, duration: Duration) -> BoxFuture {
        (self.timer)(duration)
    }

    /// Sets how many threads run the runtime's tasks: the checks block that many to wedge it
    /// (default 1).
    ///
    /// # Panics
    ///
    /// Panics if `threads` is zero.
    ///
    /// ```
    /// let suite = loopbridge::conformance::Suite::new(|| loopbridge::SmolRuntime::with_threads(2)).threads(2);
    /// # let _ = suite;
    /// ```
    pub fn threads(mut self, threads: usize) -> Suite {
        assert!(
            threads > 0,
            "a runtime needs at least one thread to run tasks"
        );
        self.threads = threads;
        self
    }

    /// Declares that the runtime is not the adapter's own (tokio's `from_handle`, say): a
    /// retired generation gets the same runtime back, so the checks do not expect a fresh one
    /// to serve calls while the old one is wedged.
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, SmolRuntime};
    /// let suite = Suite::new(SmolRuntime::start).shared_runtime();
    /// # let _ = suite;
    /// ```
    pub fn shared_runtime(mut self) -> Suite {
        self.owns_runtime = false;
        self
    }

    /// Declares that the runtime runs futures that are not `Send`
    /// ([`BridgeRuntime::supports_local`]): the checks then expect
    /// [`Bridge::call_local`] to work, and otherwise to fail with
    /// [`BridgeError::Unsupported`].
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, SmolRuntime};
    /// let suite = Suite::new(SmolRuntime::start).local_tasks();
    /// # let _ = suite;
    /// ```
    pub fn local_tasks(mut self) -> Suite {
        self.local = true;
        self
    }

    /// A builder for a bridge on a fresh factory of this suite.
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, NestedPolicy, SmolRuntime};
    /// let bridge = Suite::new(SmolRuntime::start).builder().nested(NestedPolicy::Error).build();
    /// # drop(bridge);
    /// ```
    pub fn builder(&self) -> BridgeBuilder {
        let factory = (self.setup)();
        Bridge::builder().runtime(move || factory())
    }

    /// A bridge on a fresh factory of this suite, with the default settings.
    ///
    /// ```
    /// use loopbridge::{conformance::Suite, SmolRuntime};
    /// let bridge = Suite::new(SmolRuntime::start).bridge();
    /// assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
    /// ```
    pub fn bridge(&self) -> Bridge {
        self.builder().build()
    }

    /// A bridge whose health probe waits [`PATIENCE`], for checks that time a call out on a
    /// healthy runtime and expect it kept: a loaded machine may take longer than the default
    /// 200 ms to run the probe, which must not fail the check.
    fn patient_bridge(&self) -> Bridge {
        self.builder().probe_timeout(PATIENCE).build()
    }

    /// A builder for a bridge whose first runtime has been stopped before it is handed over,
    /// so that it refuses every job, as a runtime whose threads died does; `then` runs before
    /// each later runtime is handed over, with its number (1 for the second).
    fn builder_refusing_first(
        &self,
        then: impl Fn(usize) + Send + Sync + 'static,
    ) -> BridgeBuilder {
        let factory = (self.setup)();
        let made = AtomicUsize::new(0);
        Bridge::builder().runtime(move || {
            let runtime = factory()?;
            match made.fetch_add(1, Ordering::SeqCst) {
                0 => {
                    runtime.shutdown(Duration::ZERO);
                }
                n => then(n),
            }
            Ok(runtime)
        })
    }

    /// Blocks every runtime thread of `bridge` on `latch`; returns once all are blocked.
    fn wedge(&self, bridge: &Bridge, latch: &Latch) -> Vec<crate::BridgeTask<()>> {
        support::wedge(bridge, self.threads, latch)
    }
}

/// Declares a module of `#[test]`s, one per check of the conformance [`Suite`] built by
/// `$suite`.
///
/// ```no_run
/// use loopbridge::{conformance::Suite, SmolRuntime};
/// loopbridge::conformance_suite!(smol, Suite::new(SmolRuntime::start));
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance_suite {
    ($name:ident, $suite:expr) => {
        $crate::conformance_suite!(@checks $name, $suite;
            reuse,
            calls_from_many_threads,
            calls_from_async_contexts,
            panics_reach_the_caller,
            panics_in_drop_are_contained,
            timeouts_cancel_on_the_runtime,
            deadline_holds_while_the_runtime_is_blocked,
            a_timeout_spares_other_calls,
            task_deadlines_and_cancellation,
            a_wedged_runtime_is_retired,
            a_busy_runtime_is_not_retired,
            a_moved_call_runs_where_it_was_taken,
            deadlines_hold_while_a_runtime_starts,
            nested_calls_fall_back,
            nested_timeouts_cancel,
            nested_calls_can_be_refused,
            startup_failure_is_retried,
            shutdown_is_terminal,
            shutdown_fails_calls_in_flight,
            shutdown_of_a_stuck_runtime_is_bounded,
            shutdown_from_the_bridge_itself,
            a_panic_during_shutdown_is_contained,
            dropping_the_last_clone_shuts_down,
            local_futures,
        );
    };
    (@checks $name:ident, $suite:expr; $($check:ident,)*) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn suite() -> $crate::conformance::Suite {
                $suite
            }

            $(
                #[test]
                fn $check() {
                    suite().$check();
                }
            )*
        }
    };
}

fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

/// The name of a check's own caller thread, where one matters.
const CALLER: &str = "test-caller";

fn is_runtime_thread_name(name: &str) -> bool {
    name != "loopbridge-nested" && name != "test-bounded" && name != CALLER
}

// ===== The checks =====

impl Suite {
    /// 1. Consecutive calls reuse one runtime generation and its threads; a task started by
    ///    one call still serves the calls after it.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .reuse();
    /// ```
    pub fn reuse(&self) {
        let suite = self.clone();
        bounded("reuse", move || {
            let bridge = suite.bridge();
            let caller = thread::current().id();
            let ids: HashSet<_> = (0..100)
                .map(|_| bridge.call(async { thread::current().id() }).unwrap())
                .collect();
            assert!(!ids.contains(&caller), "a call ran on the caller's thread");
            assert!(
                ids.len() <= suite.threads,
                "100 calls ran on {} threads; the runtime has {}: a thread per call?",
                ids.len(),
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

    /// 2. Sixteen threads call at once.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .calls_from_many_threads();
    /// ```
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

    /// 2. Calls from inside `futures_lite::future::block_on`, a tokio current_thread runtime
    ///    (in `block_on` and in a task) and a tokio multi_thread runtime's tasks.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .calls_from_async_contexts();
    /// ```
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

    /// 7. A panic is re-raised on the caller of `call`, `join` and `.await` with its payload,
    ///    and the runtime survives it.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .panics_reach_the_caller();
    /// ```
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

    /// 7. A panic in the `Drop` of a timed-out future, or of an output nobody collects, stays
    ///    on the runtime: every runtime thread keeps serving, nothing is retired, and no lock
    ///    is left poisoned.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .panics_in_drop_are_contained();
    /// ```
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

            // A timed-out future, dropped on the runtime by the cancel.
            let (bomb, dropped) = PanicOnDrop::new();
            drops.push(dropped);
            let err = bridge.call_timeout(pending_with(bomb), SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");

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

            for dropped in drops {
                let on = dropped
                    .recv_timeout(PATIENCE)
                    .expect("a bomb was never dropped");
                assert!(is_runtime_thread_name(&on), "dropped on {on}");
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
            assert_eq!(
                (stats.started, stats.retired, stats.panics),
                (1, 0, 1),
                "only the call's panic is an outcome: a panic in a drop nobody waits for is \
                 nobody's"
            );
        });
    }

    /// 3. A timed-out future is dropped on its runtime, and a healthy runtime is not retired.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .timeouts_cancel_on_the_runtime();
    /// ```
    pub fn timeouts_cancel_on_the_runtime(&self) {
        let suite = self.clone();
        bounded("timeouts_cancel_on_the_runtime", move || {
            let bridge = suite.patient_bridge();
            let (guard, dropped) = DropSignal::new();
            let err = bridge.call_timeout(pending_with(guard), SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the timed-out future was never dropped");
            assert!(
                is_runtime_thread_name(&on),
                "dropped on {on}, not on the runtime"
            );
            let stats = bridge.stats();
            assert_eq!(
                (stats.timeouts, stats.retired),
                (1, 0),
                "a healthy runtime is not retired"
            );
        });
    }

    /// 3. The deadline holds while the future blocks its runtime thread: the caller enforces it.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .deadline_holds_while_the_runtime_is_blocked();
    /// ```
    pub fn deadline_holds_while_the_runtime_is_blocked(&self) {
        let suite = self.clone();
        bounded("deadline_holds_while_the_runtime_is_blocked", move || {
            let bridge = suite.bridge();
            let latch = Latch::new();
            // Released only after `call_timeout` returned.
            assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
            latch.release();
        });
    }

    /// 3. One call's timeout does not disturb another call in flight on a healthy runtime.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .a_timeout_spares_other_calls();
    /// ```
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

    /// 3. `spawn_timeout` cancels on the runtime's own timer; `join_timeout` and dropping a
    ///    task cancel it; `detach` lets it run.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .task_deadlines_and_cancellation();
    /// ```
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

    /// 4. A runtime whose every thread is blocked fails its probe and is retired at once;
    ///    calls still queued on it fail with `Retired`, and (for a runtime the adapter owns)
    ///    the next call runs on a fresh runtime while the old one is still stuck.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .a_wedged_runtime_is_retired();
    /// ```
    pub fn a_wedged_runtime_is_retired(&self) {
        let suite = self.clone();
        bounded("a_wedged_runtime_is_retired", move || {
            let bridge = suite.bridge();
            let first = bridge.call(async { thread::current().id() }).unwrap();
            let latch = Latch::new();
            let wedges = suite.wedge(&bridge, &latch);
            let queued = {
                let bridge = bridge.clone();
                thread::spawn(move || bridge.call(async { 1 }))
            };
            let err = bridge.call_timeout(async {}, SHORT).unwrap_err();
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
                let second = bridge.call(async { thread::current().id() }).unwrap();
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

    /// 4. A runtime that is busy, not wedged, is kept: with a queue of blocking work three
    ///    times the probe window long on every thread, a timeout's probe waits far longer than
    ///    its timeout, but the runtime keeps starting steps meanwhile, so it is not retired and
    ///    every queued task completes. (A wedged runtime, which starts none, is still retired:
    ///    see `a_wedged_runtime_is_retired`.)
    ///
    /// ```no_run
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .a_busy_runtime_is_not_retired();
    /// ```
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
            assert!(is_runtime_thread_name(&on), "dropped on {on}");
            assert_eq!(bridge.stats().started, 1);
        });
    }

    /// 4. A call, a task and a task with a deadline that a dead runtime refuses (its threads
    ///    are gone) move to a fresh runtime, and every later step of theirs runs there: their
    ///    futures wake themselves, and the deadline's timer is the fresh runtime's.
    ///
    /// ```no_run
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .a_moved_call_runs_where_it_was_taken();
    /// ```
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

    /// 3. A call's deadline holds while the runtime that replaces a dead one starts: the
    ///    call gives up at its deadline while the factory is still running, and the start goes
    ///    on and serves the next call. So does a `spawn_timeout`'s, while the first runtime
    ///    starts.
    ///
    /// ```no_run
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .deadlines_hold_while_a_runtime_starts();
    /// ```
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
        });
    }

    /// 5. A blocking call from the bridge's own runtime runs on a one-off thread, can use
    ///    timers there and can nest again.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .nested_calls_fall_back();
    /// ```
    pub fn nested_calls_fall_back(&self) {
        let suite = self.clone();
        bounded("nested_calls_fall_back", move || {
            let bridge = suite.bridge();
            let inner = bridge.clone();
            let (outer, nested) = bridge
                .call(async move {
                    let again = inner.clone();
                    let nested = inner
                        .call(async move {
                            // From the one-off thread, whose caller blocks a runtime thread.
                            let deeper = again.call(async { thread_name() }).unwrap();
                            (thread_name(), deeper)
                        })
                        .unwrap();
                    (thread_name(), nested)
                })
                .unwrap();
            assert!(is_runtime_thread_name(&outer), "outer call ran on {outer}");
            assert_eq!(nested.0, "loopbridge-nested");
            assert_eq!(nested.1, "loopbridge-nested");
            let stats = bridge.stats();
            assert_eq!((stats.nested, stats.started), (2, 1));

            // Joining a task from the bridge would block it on itself; awaiting is fine.
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

    /// 5. A nested call's timeout cancels its future on the one-off thread, even when the
    ///    cancellation comes before the one-off thread runs anything.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .nested_timeouts_cancel();
    /// ```
    pub fn nested_timeouts_cancel(&self) {
        let suite = self.clone();
        bounded("nested_timeouts_cancel", move || {
            let bridge = suite.bridge();
            for timeout in [SHORT, Duration::ZERO] {
                let inner = bridge.clone();
                let (guard, dropped) = DropSignal::new();
                let err = bridge
                    .call(async move { inner.call_timeout(pending_with(guard), timeout) })
                    .unwrap()
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

    /// 5. Under `NestedPolicy::Error`, a nested call fails fast with `Nested`.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .nested_calls_can_be_refused();
    /// ```
    pub fn nested_calls_can_be_refused(&self) {
        let suite = self.clone();
        bounded("nested_calls_can_be_refused", move || {
            let bridge = suite.builder().nested(NestedPolicy::Error).build();
            let inner = bridge.clone();
            let err = bridge
                .call(async move { inner.call(async { 1 }) })
                .unwrap()
                .unwrap_err();
            assert!(err.is_nested(), "{err:?}");
            assert_eq!(bridge.stats().nested, 0);
        });
    }

    /// 6. A factory error reaches the caller as `Start`, publishes nothing, and the next call
    ///    tries again.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .startup_failure_is_retried();
    /// ```
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

    /// 8. After shutdown every entry point fails with `Shutdown`, for every clone; shutting
    ///    down twice is fine.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .shutdown_is_terminal();
    /// ```
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

    /// 8. Calls and tasks in flight fail with `Shutdown` at once and their futures are dropped
    ///    on the runtime.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .shutdown_fails_calls_in_flight();
    /// ```
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
            for dropped in [dropped, task_dropped] {
                let on = dropped
                    .recv_timeout(PATIENCE)
                    .expect("a future in flight was never dropped");
                assert!(is_runtime_thread_name(&on), "dropped on {on}");
            }
        });
    }

    /// 8. Shutdown of a runtime whose threads are stuck returns `false` within its grace, and
    ///    the stuck calls fail at once instead of waiting for it.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .shutdown_of_a_stuck_runtime_is_bounded();
    /// ```
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

    /// 8. Shutdown from a task on the bridge schedules the stop and returns.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .shutdown_from_the_bridge_itself();
    /// ```
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

    /// 8. A panic while shutdown runs, in the `Drop` of futures that shutdown cancels (one
    ///    running, one detached, one still queued), is contained: shutdown completes and sees
    ///    the runtime's threads exit, the calls fail with `Shutdown`, and the bridge's state is
    ///    not poisoned.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .a_panic_during_shutdown_is_contained();
    /// ```
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

    /// 8. Dropping the last clone shuts the bridge down: a detached task's future is dropped.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .dropping_the_last_clone_shuts_down();
    /// ```
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

    /// `call_local` runs a future holding an `Rc` across an await, with the timeout, panic,
    /// nested-call and shutdown semantics of `call`; a runtime without local tasks refuses it
    /// with `Unsupported`.
    ///
    /// ```
    /// loopbridge::conformance::Suite::new(loopbridge::SmolRuntime::start)
    ///     .local_tasks()
    ///     .local_futures();
    /// ```
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
            let err = bridge
                .call(async move { inner.call_local(|| async { 1 }) })
                .unwrap()
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
