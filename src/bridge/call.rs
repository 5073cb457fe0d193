//! The blocking and spawning entry points of a [`Bridge`]: `call`, `call_local`, `spawn`, each
//! with a deadline or without.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use crate::{
    cancel::{Stop, Watch},
    context::{Context, lifecycle},
    error::BridgeError,
    generation::Lane,
    harness::{held_job, job, local_job, scheduler},
    slot::Slot,
    stats::{CallCounts, Counters},
    sync::{Arc, Weak},
    task::{BridgeTask, Supervisor},
};

use super::{
    caller::{self, Driven},
    config::{Drive, NestedPolicy},
    handle::Bridge,
    inner::Inner,
    nested,
    submit::{Register, Submitted, submit},
};

impl Bridge {
    /// Runs `future` on the bridge's runtime and blocks the current thread until it completes.
    ///
    /// Works from any thread, including one that is inside another async runtime (its
    /// `block_on` would panic or hang there). Starts the runtime if it is not running.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Shutdown`] after [`shutdown`](Bridge::shutdown) or during it;
    /// [`BridgeError::Start`] if the runtime could not be started;
    /// [`BridgeError::Retired`] if the runtime was retired while the call was in flight;
    /// [`BridgeError::Nested`] for a call from the bridge's own runtime under
    /// [`NestedPolicy::Error`].
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `future` on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let n = bridge.call(async {
    ///     async_io::Timer::after(std::time::Duration::from_millis(1)).await;
    ///     5
    /// })?;
    /// assert_eq!(n, 5);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call<F>(&self, future: F) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.call_inner(future, None)
    }

    /// Like [`call`](Bridge::call), but gives up at `timeout`.
    ///
    /// At the deadline the caller gets [`BridgeError::TimedOut`] even if the runtime's thread
    /// is blocked, and the future is cancelled: it is dropped on its runtime. Then the runtime
    /// is probed, and retired if it does not respond (see the [type docs](Bridge)); that
    /// decision has been made by the time this returns, so a timed-out call can take up to the
    /// probe timeout longer than `timeout`. Other calls in flight on a healthy runtime are not
    /// disturbed.
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`], and everything [`call`](Bridge::call) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `future` on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let quick = bridge.call_timeout(async { 1 }, Duration::from_secs(5));
    /// assert_eq!(quick?, 1);
    /// let stuck = bridge.call_timeout(std::future::pending::<()>(), Duration::from_millis(10));
    /// assert!(stuck.unwrap_err().is_timed_out());
    /// assert_eq!(bridge.stats().timeouts, 1);
    /// assert_eq!(bridge.stats().retired, 0); // the runtime answered its probe
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call_timeout<F>(&self, future: F, timeout: Duration) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.call_inner(future, Some(timeout))
    }

    fn call_inner<F>(&self, future: F, timeout: Option<Duration>) -> Result<F::Output, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = &*self.inner;
        let _in_flight = CallCounts::enter(&*inner.stats);
        let (deadline, mut scope) = limits(timeout, inner)?;
        let mut generation = inner.supply.generation(deadline)?;
        let mut future = Context::capture().attach(future);
        let nested = generation.blocks_itself_here(inner.id);
        if nested {
            if inner.nested == NestedPolicy::Error {
                return Err(BridgeError::Nested);
            }
            Counters::bump(&inner.stats.nested);
            lifecycle!(
                debug,
                bridge = generation.bridge,
                generation = generation.id,
                "nested call served on a one-off thread"
            );
            let slot = Slot::new();
            let registration =
                nested::run_one_off(&inner.supply, inner.id, &generation, future, &slot)?;
            let call = Submitted {
                generation,
                registration: Some(registration),
            };
            inner.finish_call(&slot, call, deadline, None, scope)
        } else {
            if inner.drive == Drive::Caller {
                if generation.is_closed() {
                    // Retired or shut down under us: a fresh one, as `submit` would find.
                    inner.supply.unpublish(&generation);
                    generation = inner.supply.generation(deadline)?;
                }
                match caller::drive(&generation, future, deadline, scope.as_mut()) {
                    Driven::Done(outcome) => return inner.finish_driven(&generation, outcome),
                    // The runtime cannot serve it: it runs there, as `Drive::Runtime`.
                    Driven::Declined(declined) => future = declined,
                }
            }
            // Registered by its caller before it parks, or by its job once its future is
            // pending, whichever comes first.
            let slot = Slot::late_on(&generation);
            let (first, task) = held_job(future, slot.clone(), None, scheduler(&slot));
            let call = submit(
                &inner.supply,
                generation,
                first,
                &slot,
                Register::Late,
                deadline,
            )?;
            let result = inner.finish_call(&slot, call, deadline, Some(Lane::Shared), scope);
            match result {
                // Completed: the task is freed here, on the caller's thread.
                Ok(_) => drop(task),
                // Failed, and maybe still pending: dropping the handle of a pending task would
                // hand its cancelling step to the runtime from this thread, which may come
                // after the runtime stopped (a shutdown or retirement that failed the call is
                // stopping it), and the future would be dropped here. Whoever failed the call
                // woke the task, or will (see `Slot::fail_from_caller`), so that the future is
                // dropped on the runtime.
                Err(_) => task.detach(),
            }
            result
        }
    }

    /// Runs a future that is not `Send` on the bridge's runtime, and blocks until it
    /// completes.
    ///
    /// `make` is sent to one runtime thread, which calls it and polls the future it returns
    /// on that thread only, so the future may hold `Rc`s, `RefCell`s and other `!Send` state
    /// across `.await`s. Timeouts ([`call_local_timeout`](Bridge::call_local_timeout)),
    /// cancellation, panics, retirement and shutdown behave as for [`call`](Bridge::call).
    ///
    /// Supported on [`SmolRuntime`](crate::SmolRuntime) (a local executor beside the shared one, on
    /// its first thread) and on tokio's current_thread flavour (a `LocalSet`).
    ///
    /// # Errors
    ///
    /// [`BridgeError::Unsupported`] on a runtime without local tasks (tokio's multi_thread
    /// flavour, say); [`BridgeError::Nested`] when called from the bridge's own runtime, where
    /// no one-off thread can take a future that cannot move; and everything
    /// [`call`](Bridge::call) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `make` or from its future on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let len = bridge.call_local(|| async {
    ///     let log = Rc::new(RefCell::new(Vec::new()));
    ///     log.borrow_mut().push("before");
    ///     async_io::Timer::after(std::time::Duration::from_millis(1)).await;
    ///     log.borrow_mut().push("after");
    ///     let len = log.borrow().len();
    ///     len
    /// })?;
    /// assert_eq!(len, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn call_local<M, F>(&self, make: M) -> Result<F::Output, BridgeError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.call_local_inner(make, None)
    }

    /// Like [`call_local`](Bridge::call_local), but gives up at `timeout`, as
    /// [`call_timeout`](Bridge::call_timeout) does: the future is dropped on its thread and
    /// the runtime is probed.
    ///
    /// # Errors
    ///
    /// [`BridgeError::TimedOut`], and everything [`call_local`](Bridge::call_local) returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic from `make` or from its future on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{rc::Rc, time::Duration};
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let err = bridge
    ///     .call_local_timeout(
    ///         || async {
    ///             let _not_send = Rc::new(());
    ///             std::future::pending::<()>().await
    ///         },
    ///         Duration::from_millis(10),
    ///     )
    ///     .unwrap_err();
    /// assert!(err.is_timed_out());
    /// ```
    pub fn call_local_timeout<M, F>(
        &self,
        make: M,
        timeout: Duration,
    ) -> Result<F::Output, BridgeError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        self.call_local_inner(make, Some(timeout))
    }

    fn call_local_inner<M, F>(
        &self,
        make: M,
        timeout: Option<Duration>,
    ) -> Result<F::Output, BridgeError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let inner = &*self.inner;
        let _in_flight = CallCounts::enter(&*inner.stats);
        let (deadline, scope) = limits(timeout, inner)?;
        let generation = inner.supply.generation(deadline)?;
        if generation.blocks_itself_here(inner.id) {
            return Err(BridgeError::Nested);
        }
        if !generation.runtime.supports_local() {
            return Err(BridgeError::Unsupported(
                "futures that are not Send (`call_local`); use SmolRuntime or tokio's \
                 current_thread flavour",
            ));
        }
        let slot = Slot::on(&generation, Lane::Local);
        let context = Context::capture();
        let job = local_job(move || context.attach(make()), slot.clone());
        let call = submit(
            &inner.supply,
            generation,
            job,
            &slot,
            Register::Late,
            deadline,
        )?;
        inner.finish_call(&slot, call, deadline, Some(Lane::Local), scope)
    }

    /// Spawns `future` on the bridge's runtime and returns a [`BridgeTask`] for its result,
    /// without blocking.
    ///
    /// Join the task from sync code with [`BridgeTask::join`], or `.await` it from any async
    /// runtime. Dropping the task cancels the future; [`BridgeTask::detach`] lets it run.
    /// Spawning from the bridge's own runtime is fine.
    ///
    /// # Errors
    ///
    /// [`BridgeError::Shutdown`] after shutdown; [`BridgeError::Start`] if the runtime could
    /// not be started.
    ///
    /// # Examples
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn(async { 40 + 2 })?;
    /// // ... do other work ...
    /// assert_eq!(task.join()?, 42);
    ///
    /// // Or await it, from any runtime:
    /// let v = futures_lite::future::block_on(async { bridge.spawn(async { 1 })?.await })?;
    /// assert_eq!(v, 1);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn spawn<F>(&self, future: F) -> Result<BridgeTask<F::Output>, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, None)
    }

    /// Like [`spawn`](Bridge::spawn), with a deadline enforced on the runtime by its own
    /// timer: when `timeout` passes, the future is dropped there and the task resolves to
    /// [`BridgeError::TimedOut`]. Useful when the task is awaited rather than joined.
    ///
    /// # Errors
    ///
    /// As for [`spawn`](Bridge::spawn), and [`BridgeError::TimedOut`] if the deadline passes
    /// while the spawn waits for a runtime to start.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let bridge = loopbridge::Bridge::new();
    /// let task = bridge.spawn_timeout(std::future::pending::<()>(), Duration::from_millis(10))?;
    /// assert!(futures_lite::future::block_on(task).unwrap_err().is_timed_out());
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn spawn_timeout<F>(
        &self,
        future: F,
        timeout: Duration,
    ) -> Result<BridgeTask<F::Output>, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_inner(future, Some(timeout))
    }

    fn spawn_inner<F>(
        &self,
        future: F,
        timeout: Option<Duration>,
    ) -> Result<BridgeTask<F::Output>, BridgeError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let inner = &*self.inner;
        // An `Instant` overflow means a deadline too far to matter: no timer.
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        // A runtime that needs starting first is waited for until the deadline at most.
        let in_flight = CallCounts::enter(inner.stats.clone());
        let generation = inner.supply.generation(deadline)?;
        let slot = Slot::on(&generation, Lane::Shared);
        // Counted out when the future goes: it completed, or it was dropped on its runtime.
        let future = async move {
            let _in_flight = in_flight;
            future.await
        };
        let future = Context::capture().attach(future);
        let job = job(future, slot.clone(), deadline, scheduler(&slot));
        let Submitted {
            generation,
            registration,
        } = submit(
            &inner.supply,
            generation,
            job,
            &slot,
            Register::Now,
            deadline,
        )?;
        let supervisor: Weak<dyn Supervisor> = Arc::downgrade(&self.inner) as _;
        // A per-call runtime lives as long as its task, detached or not: the task holds its
        // generation (see `BridgeTask::detach`), and lets it go (and stop) when it ends.
        Ok(BridgeTask::new(
            slot,
            registration.expect("a call registered now has a registration"),
            generation,
            supervisor,
            inner.id,
            inner.stats.clone(),
        ))
    }
}

/// A blocking call's deadline, the earlier of its own (`timeout` from now) and its scope's, and
/// the scope it obeys, if it is made in one; or why the scope stops it before it starts (a
/// cancelled token, a passed deadline), without a poll.
fn limits(
    timeout: Option<Duration>,
    inner: &Inner,
) -> Result<(Option<Instant>, Option<Watch>), BridgeError> {
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    let Some(scope) = Watch::of_current() else {
        return Ok((deadline, None));
    };
    if let Some(stop) = scope.stopped_already() {
        if let Stop::TimedOut = stop {
            Counters::bump(&inner.stats.timeouts);
        }
        return Err(stop.into());
    }
    let deadline = match (deadline, scope.deadline()) {
        (Some(own), Some(scoped)) => Some(own.min(scoped)),
        (own, scoped) => own.or(scoped),
    };
    Ok((deadline, Some(scope)))
}
