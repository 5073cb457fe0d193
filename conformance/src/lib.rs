//! The conformance suite of [`loopbridge`]: every semantic a [`Bridge`] promises,
//! checked against any [`BridgeRuntime`] adapter.
//!
//! Reuse, callers from anywhere, timeouts that cancel, health-checked retirement, nested
//! calls, startup failure, panics, cancellation and shutdown, written once and run against
//! any runtime, in both drive modes. loopbridge runs it on [`SmolRuntime`] with one and with
//! three threads, `loopbridge-tokio` on each tokio flavour, and the `futures_pool_adapter`
//! example on a runtime loopbridge does not ship. Run it on your own adapter, or on whichever
//! runtimes your own tests swap between, with one line each:
//!
//! ```no_run
//! // tests/conformance.rs, with `loopbridge-conformance` in [dev-dependencies]:
//! use loopbridge::SmolRuntime;
//! use loopbridge_conformance::{Suite, conformance_suite};
//!
//! conformance_suite!(smol_one, Suite::new(SmolRuntime::start));
//! conformance_suite!(smol_four, Suite::new(|| SmolRuntime::with_threads(4)).threads(4));
//! # fn main() {}
//! ```
//!
//! Each check runs under a hang guard that ends the test process after [`PATIENCE`] instead
//! of letting a deadlock hang CI. The checks only count what the bridge reports and observe
//! what futures see; counting OS threads needs a test binary of its own (see
//! [`support::bridge_threads`]).
//!
//! Beside the suite:
//!
//! - [`stress`]: a seeded, randomized stress test with injected faults (wedged threads,
//!   retirements, a shutdown at a random point), whose outcomes must reconcile exactly with the
//!   bridge's stats;
//! - [`leaks`]: threads, file descriptors and live heap (a counting allocator) back to their
//!   baseline after many calls, cycles and retirements;
//! - [`support`]: what the checks are made of, for tests of your own: a latch that releases
//!   blocked futures, a hang guard ([`support::bounded`]), drop signals, and ways to wedge or
//!   retire a bridge's runtime on purpose.
//!
//! It uses loopbridge's public API only, as an adapter's own tests do.
//!
//! [`SmolRuntime`]: loopbridge::SmolRuntime

// The counting allocator of `leaks` implements `GlobalAlloc`, an unsafe trait: that module
// allows `unsafe`, and nothing else does.
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod checks;
pub mod leaks;
mod macros;
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

use loopbridge::{
    BoxFuture, Bridge, BridgeBuilder, BridgeError, BridgeRuntime, Drive, NestedPolicy,
};
use support::{
    DropSignal, Latch, PATIENCE, PanicOnDrop, SHORT, bounded, needs_the_runtime, pending_with,
    thread_name,
};

type Factory = Arc<dyn Fn() -> io::Result<Box<dyn BridgeRuntime>> + Send + Sync>;
type Setup = Arc<dyn Fn() -> Factory + Send + Sync>;

/// A runtime factory and what the checks need to know about its runtimes.
///
/// # Examples
///
/// ```
/// use loopbridge::SmolRuntime;
/// use loopbridge_conformance::Suite;
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
    drive: Drive,
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
            .field("drive", &self.drive)
            .finish_non_exhaustive()
    }
}

impl Suite {
    /// A suite for runtimes made by `factory`, with one runtime thread.
    ///
    /// ```
    /// use loopbridge::SmolRuntime;
    /// use loopbridge_conformance::Suite;
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
            drive: Drive::Runtime,
            timer: async_io_timer,
        }
    }

    /// A suite whose every check calls `setup` for a factory of its own, for runtimes that
    /// attach to something a check must not share with the others running beside it (an
    /// application runtime that a check wedges, say).
    ///
    /// ```
    /// use loopbridge::SmolRuntime;
    /// use loopbridge_conformance::Suite;
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
            drive: Drive::Runtime,
            timer: async_io_timer,
        }
    }

    /// Names the adapter in the reports of the leak and stress harnesses (default
    /// `"adapter"`).
    ///
    /// ```
    /// use loopbridge::SmolRuntime;
    /// use loopbridge_conformance::Suite;
    /// let suite = Suite::new(SmolRuntime::start).named("smol, 1 thread");
    /// assert_eq!(suite.name(), "smol, 1 thread");
    /// ```
    #[must_use]
    pub fn named(mut self, name: &'static str) -> Suite {
        self.name = name;
        self
    }

    /// The adapter's name (see [`named`](Suite::named)).
    ///
    /// ```
    /// assert_eq!(loopbridge_conformance::Suite::new(loopbridge::SmolRuntime::start).name(), "adapter");
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Sets the runtime's own timer, as the leak harness's timer calls use it (default: an
    /// async-io timer, which works on any runtime). A timer whose future needs the runtime's
    /// context must be made on first poll (an `async move` block does this).
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopbridge::{BoxFuture, SmolRuntime};
    /// use loopbridge_conformance::Suite;
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
    /// let suite = loopbridge_conformance::Suite::new(|| loopbridge::SmolRuntime::with_threads(2)).threads(2);
    /// # let _ = suite;
    /// ```
    #[must_use]
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
    /// use loopbridge::SmolRuntime;
    /// use loopbridge_conformance::Suite;
    /// let suite = Suite::new(SmolRuntime::start).shared_runtime();
    /// # let _ = suite;
    /// ```
    #[must_use]
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
    /// use loopbridge::SmolRuntime;
    /// use loopbridge_conformance::Suite;
    /// let suite = Suite::new(SmolRuntime::start).local_tasks();
    /// # let _ = suite;
    /// ```
    #[must_use]
    pub fn local_tasks(mut self) -> Suite {
        self.local = true;
        self
    }

    /// Runs every check on bridges that drive their blocking calls this way (default
    /// [`Drive::Runtime`]): a suite per mode checks both. The checks expect what each mode
    /// promises, where a future is polled and dropped included.
    ///
    /// ```
    /// use loopbridge::{Drive, SmolRuntime};
    /// use loopbridge_conformance::Suite;
    /// let suite = Suite::new(SmolRuntime::start).drive(Drive::Caller);
    /// suite.reuse();
    /// ```
    pub fn drive(mut self, drive: Drive) -> Suite {
        self.drive = drive;
        self
    }

    /// Whether blocking calls are polled on their caller's thread (see [`drive`](Suite::drive)).
    pub(crate) fn caller_driven(&self) -> bool {
        self.drive == Drive::Caller
    }

    /// Checks that a blocking call's future was dropped where this suite's mode drops it: on
    /// the runtime, or on `caller`, the thread that made the call.
    pub(crate) fn assert_dropped_where_driven(&self, on: &str, caller: &str) {
        if self.caller_driven() {
            assert_eq!(
                on, caller,
                "a caller-driven call's future is dropped on its caller"
            );
        } else {
            assert!(
                is_runtime_thread_name(on),
                "dropped on {on}, not on the runtime"
            );
        }
    }

    /// A builder for a bridge on a fresh factory of this suite.
    ///
    /// ```
    /// use loopbridge::{NestedPolicy, SmolRuntime};
    /// use loopbridge_conformance::Suite;
    /// let bridge = Suite::new(SmolRuntime::start).builder().nested(NestedPolicy::Error).build();
    /// # drop(bridge);
    /// ```
    pub fn builder(&self) -> BridgeBuilder {
        let factory = (self.setup)();
        Bridge::builder()
            .runtime(move || factory())
            .drive(self.drive)
    }

    /// A bridge on a fresh factory of this suite, with the default settings.
    ///
    /// ```
    /// use loopbridge::SmolRuntime;
    /// use loopbridge_conformance::Suite;
    /// let bridge = Suite::new(SmolRuntime::start).bridge();
    /// assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
    /// ```
    #[must_use]
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
        Bridge::builder().drive(self.drive).runtime(move || {
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
    fn wedge(&self, bridge: &Bridge, latch: &Latch) -> Vec<loopbridge::BridgeTask<()>> {
        support::wedge(bridge, self.threads, latch)
    }
}

/// Runs `future` as a task on `bridge`'s runtime and returns its output: code that must run on
/// a runtime thread whatever the bridge's drive mode.
fn on_the_runtime<F>(bridge: &Bridge, future: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    bridge
        .spawn(future)
        .expect("spawn on the bridge")
        .join()
        .expect("a task on the bridge")
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
