//! [`BridgeBuilder`], and the constructors of [`Bridge`].

use std::{
    fmt, io,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use crate::{runtime::BridgeRuntime, smol::SmolRuntime, stats::Counters, sync::Arc};

use super::{
    config::{DEFAULT_PROBE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, Drive, NestedPolicy},
    handle::Bridge,
    inner::Inner,
    supply::{Factory, Supply},
};

/// Configures a [`Bridge`] before it is built.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loopbridge::{Bridge, NestedPolicy, SmolRuntime};
///
/// let bridge = Bridge::builder()
///     .runtime(|| SmolRuntime::with_threads(2))
///     .probe_timeout(Duration::from_millis(500))
///     .shutdown_grace(Duration::from_secs(1))
///     .nested(NestedPolicy::Error)
///     .build();
/// assert_eq!(bridge.call(async { "hi" })?, "hi");
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[must_use = "a builder does nothing until `.build()` is called"]
pub struct BridgeBuilder {
    factory: Factory,
    probe_timeout: Duration,
    shutdown_grace: Duration,
    nested: NestedPolicy,
    drive: Drive,
    confirm_cancel: Option<Duration>,
    per_call: bool,
}

impl BridgeBuilder {
    /// A builder with the defaults: [`SmolRuntime::start`], a 200 ms probe, a 3 s shutdown
    /// grace, and [`NestedPolicy::Fallback`].
    ///
    /// ```
    /// let bridge = loopbridge::BridgeBuilder::new().build();
    /// assert_eq!(bridge.call(async { 1 })?, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn new() -> BridgeBuilder {
        BridgeBuilder {
            factory: boxed_factory(SmolRuntime::start),
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            nested: NestedPolicy::Fallback,
            drive: Drive::Runtime,
            confirm_cancel: None,
            per_call: false,
        }
    }

    /// Sets the factory that starts each runtime generation.
    ///
    /// The factory runs when a call needs a runtime: on the first call, and again after a
    /// generation is retired. It runs on the calling thread, except for a call with a deadline
    /// ([`Bridge::call_timeout`] and the like), which runs it on a helper thread named
    /// `loopbridge-start` and waits for it until the deadline only (the start goes on, and
    /// serves the next call). So a factory must not depend on the calling thread's context (a
    /// tokio `Handle::current()`, say): capture what it needs. An error it returns reaches the
    /// caller as [`BridgeError::Start`](crate::BridgeError::Start); the next call tries again.
    ///
    /// ```
    /// use loopbridge::{Bridge, SmolRuntime};
    /// let bridge = Bridge::builder().runtime(|| SmolRuntime::with_threads(2)).build();
    /// assert_eq!(bridge.call(async { 2 })?, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn runtime<R, F>(mut self, factory: F) -> BridgeBuilder
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        self.factory = boxed_factory(factory);
        self
    }

    /// Sets how long the health probe that follows a timeout waits for the runtime to run a
    /// no-op task before the runtime is retired (default 200 ms).
    ///
    /// # Panics
    ///
    /// Panics if `timeout` is zero: no runtime could ever pass such a probe.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder()
    ///     .probe_timeout(std::time::Duration::from_secs(1))
    ///     .build();
    /// # drop(bridge);
    /// ```
    pub fn probe_timeout(mut self, timeout: Duration) -> BridgeBuilder {
        assert!(
            !timeout.is_zero(),
            "loopbridge: the probe timeout must be greater than zero (the default is 200 ms)"
        );
        self.probe_timeout = timeout;
        self
    }

    /// Sets how long [`Bridge::shutdown`] and dropping the last clone wait for the runtime's
    /// threads to exit (default 3 s). Zero means "tell them to stop and do not wait".
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder()
    ///     .shutdown_grace(std::time::Duration::from_millis(500))
    ///     .build();
    /// bridge.call(async {})?;
    /// bridge.shutdown(); // waits at most 500 ms
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn shutdown_grace(mut self, grace: Duration) -> BridgeBuilder {
        self.shutdown_grace = grace;
        self
    }

    /// Sets what a blocking call from the bridge's own runtime does (see [`NestedPolicy`]).
    ///
    /// ```
    /// use loopbridge::{Bridge, NestedPolicy};
    /// let bridge = Bridge::builder().nested(NestedPolicy::Error).build();
    /// # drop(bridge);
    /// ```
    pub fn nested(mut self, policy: NestedPolicy) -> BridgeBuilder {
        self.nested = policy;
        self
    }

    /// Sets who polls a blocking call's future: the runtime's threads ([`Drive::Runtime`],
    /// the default) or the caller's thread ([`Drive::Caller`]). See [`Drive`] for what each
    /// promises.
    ///
    /// ```
    /// use loopbridge::{Bridge, Drive};
    ///
    /// let bridge = Bridge::builder().drive(Drive::Caller).build();
    /// assert_eq!(bridge.call(async { 1 })?, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn drive(mut self, drive: Drive) -> BridgeBuilder {
        self.drive = drive;
        self
    }

    /// Makes a call that ends in [`TimedOut`](crate::BridgeError::TimedOut),
    /// [`Cancelled`](crate::BridgeError::Cancelled) or
    /// [`Interrupted`](crate::BridgeError::Interrupted) return only once its future has been
    /// dropped, or once `grace` has passed, whichever comes first. Without it (the default) a
    /// cancelled future is dropped on its runtime soon after the call returns.
    ///
    /// Use it when the caller goes on to do something the future must not see: roll back a
    /// transaction the future was writing, reuse a file it held. A call that gives up waiting
    /// after `grace` counts in [`BridgeStats::unconfirmed_cancels`](crate::BridgeStats) and
    /// logs a warning (with the `tracing` feature). Caller-driven calls
    /// ([`Drive::Caller`]) drop their future before they return anyway.
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopbridge::Bridge;
    ///
    /// let bridge = Bridge::builder().confirm_cancel(Duration::from_secs(1)).build();
    /// let err = bridge.call_timeout(std::future::pending::<()>(), Duration::from_millis(10));
    /// assert!(err.unwrap_err().is_timed_out()); // and the future is gone by now
    /// assert_eq!(bridge.stats().unconfirmed_cancels, 0);
    /// ```
    pub fn confirm_cancel(mut self, grace: Duration) -> BridgeBuilder {
        self.confirm_cancel = Some(grace);
        self
    }

    /// Makes the bridge start a fresh runtime for every call and shut it down afterwards,
    /// instead of keeping one (see [`Bridge::per_call`]).
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder().per_call().build();
    /// bridge.call(async {})?;
    /// bridge.call(async {})?;
    /// assert_eq!(bridge.stats().started, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn per_call(mut self) -> BridgeBuilder {
        self.per_call = true;
        self
    }

    /// Builds the bridge. No runtime starts until the first call (or [`Bridge::start`]).
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder().build();
    /// assert_eq!(bridge.stats().started, 0); // nothing runs yet
    /// # drop(bridge);
    /// ```
    pub fn build(self) -> Bridge {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let stats = Arc::new(Counters::default());
        let supply = Supply::new(
            id,
            self.factory,
            self.per_call,
            self.shutdown_grace,
            stats.clone(),
        );
        Bridge {
            inner: Arc::new(Inner {
                id,
                supply,
                probe_timeout: self.probe_timeout,
                shutdown_grace: self.shutdown_grace,
                nested: self.nested,
                drive: self.drive,
                confirm_cancel: self.confirm_cancel,
                stats,
            }),
        }
    }
}

impl Default for BridgeBuilder {
    fn default() -> BridgeBuilder {
        BridgeBuilder::new()
    }
}

impl fmt::Debug for BridgeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BridgeBuilder")
            .field("probe_timeout", &self.probe_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("nested", &self.nested)
            .field("drive", &self.drive)
            .field("confirm_cancel", &self.confirm_cancel)
            .field("per_call", &self.per_call)
            .finish_non_exhaustive()
    }
}

fn boxed_factory<R, F>(factory: F) -> Factory
where
    R: BridgeRuntime,
    F: Fn() -> io::Result<R> + Send + Sync + 'static,
{
    Box::new(move || factory().map(|runtime| Box::new(runtime) as Box<dyn BridgeRuntime>))
}

impl Bridge {
    /// A bridge on the default runtime: a [`SmolRuntime`] with one executor thread, started
    /// on the first call.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// assert_eq!(bridge.call(async { 7 })?, 7);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    #[must_use]
    pub fn new() -> Bridge {
        BridgeBuilder::new().build()
    }

    /// A bridge whose runtimes come from `factory`, with the default settings.
    ///
    /// `factory` is called on the first call and again whenever the health check retires a
    /// runtime. Any [`BridgeRuntime`] will do, including a `Box<dyn BridgeRuntime>`.
    ///
    /// ```
    /// use loopbridge::{Bridge, SmolRuntime};
    ///
    /// let one = Bridge::with_runtime(SmolRuntime::start);
    /// let two = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
    /// assert_eq!(one.call(async { 1 })? + two.call(async { 2 })?, 3);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn with_runtime<R, F>(factory: F) -> Bridge
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        BridgeBuilder::new().runtime(factory).build()
    }

    /// A bridge that starts a fresh runtime from `factory` for every call and shuts it down
    /// after the call: the per-call-runtime strategy behind the same API, so that code can be
    /// switched between the two strategies and the two compared.
    ///
    /// Nothing outlives a call: a client or connection made in one call is bound to a runtime
    /// that is gone by the next. That is the cost this crate exists to avoid; the `compare`
    /// example measures it. The factory runs on the calling thread as part of each call; a
    /// call with a deadline runs it on a helper thread named `loopbridge-start` and keeps its
    /// deadline, as on a persistent bridge (a runtime that comes up after the caller gave up
    /// is shut down at once).
    ///
    /// ```
    /// use loopbridge::{Bridge, SmolRuntime};
    ///
    /// let bridge = Bridge::per_call(SmolRuntime::start);
    /// assert_eq!(bridge.call(async { 1 })?, 1);
    /// assert_eq!(bridge.call(async { 2 })?, 2);
    /// assert_eq!(bridge.stats().started, 2); // a runtime per call
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn per_call<R, F>(factory: F) -> Bridge
    where
        R: BridgeRuntime,
        F: Fn() -> io::Result<R> + Send + Sync + 'static,
    {
        BridgeBuilder::new().runtime(factory).per_call().build()
    }

    /// A [`BridgeBuilder`], to set the runtime, probe timeout, shutdown grace or nested-call
    /// policy.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::builder().build();
    /// # drop(bridge);
    /// ```
    pub fn builder() -> BridgeBuilder {
        BridgeBuilder::new()
    }
}

impl Default for Bridge {
    fn default() -> Bridge {
        Bridge::new()
    }
}
