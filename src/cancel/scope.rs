//! [`Scope`]: the deadline, tokens and interrupt checks that every blocking call made inside
//! it obeys, and how scopes nest.

use std::{
    fmt,
    sync::Mutex as StdMutex,
    time::{Duration, Instant},
};

#[cfg(doc)]
use crate::error::BridgeError;
use crate::sync::Arc;

use super::{
    limits::{BoxError, Check, InForce, Limits, current},
    token::CancelToken,
};

/// Settings that every blocking bridge call made inside [`run`](Scope::run) obeys, on this
/// thread and on any bridge: a deadline, cancel tokens, and interrupt checks.
///
/// - **Which calls.** [`Bridge::call`](crate::Bridge::call) and `call_timeout` (the earlier of
///   the two deadlines wins), `call_local`, [`Bound::call`](crate::Bound::call), each `next` of
///   [`Bridge::iter`](crate::Bridge::iter), each read and write of
///   [`Bridge::reader`](crate::Bridge::reader) and [`Bridge::writer`](crate::Bridge::writer),
///   and [`BridgeTask::join`](crate::BridgeTask::join): a join the scope stops cancels the
///   task too, as dropping its handle would. [`Bridge::spawn`](crate::Bridge::spawn) is not stopped by a scope: a
///   spawned task runs on its own, and only the calls that wait for it obey the scope.
/// - **Outcomes.** A cancelled token fails the call with [`BridgeError::Cancelled`], a passed
///   deadline with [`BridgeError::TimedOut`], a failed check with
///   [`BridgeError::Interrupted`], whose `source` is the check's error. The call's future is
///   cancelled as at a timeout (see
///   [`BridgeBuilder::confirm_cancel`](crate::BridgeBuilder::confirm_cancel) to wait until it
///   is dropped). A call whose token is already cancelled, or whose deadline has already
///   passed, returns at once without polling its future.
/// - **Nesting.** Scopes nest: the tightest deadline wins, every token counts, every check
///   runs.
/// - **Travel.** The scope goes into the call's future, as the caller's `tracing` span does: a
///   blocking bridge call made from inside that future (a nested call, or a call on another
///   bridge) obeys the caller's scope too, wherever it runs.
/// - **Cost.** A call made outside every scope pays one thread-local read.
///
/// # Examples
///
/// One deadline for an operation of several calls: each gets the time that is left.
///
/// ```
/// use std::time::Duration;
/// use loopbridge::{Bridge, Scope};
///
/// let bridge = Bridge::new();
/// let outcome = Scope::new().timeout(Duration::from_millis(50)).run(|| {
///     bridge.call(async { "connected" })?;
///     bridge.call(async { "sent" })?;
///     bridge.call(std::future::pending::<()>()) // the rest of the 50 ms, then TimedOut
/// });
/// assert!(outcome.unwrap_err().is_timed_out());
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
///
/// An interrupt check, run while a call is blocked (a Python extension checks for signals
/// this way):
///
/// ```
/// use std::{sync::atomic::{AtomicBool, Ordering}, time::Duration};
/// use loopbridge::{Bridge, Scope};
///
/// static STOP: AtomicBool = AtomicBool::new(false);
///
/// let bridge = Bridge::new();
/// let err = Scope::new()
///     .check_every(Duration::from_millis(10), || {
///         STOP.store(true, Ordering::Relaxed); // a signal arrives, say
///         match STOP.load(Ordering::Relaxed) {
///             true => Err("interrupted by the user"),
///             false => Ok(()),
///         }
///     })
///     .run(|| bridge.call(std::future::pending::<()>()))
///     .unwrap_err();
/// assert!(err.is_interrupted());
/// assert_eq!(std::error::Error::source(&err).unwrap().to_string(), "interrupted by the user");
/// ```
#[must_use = "a scope does nothing until `.run(..)` is called"]
#[derive(Default)]
pub struct Scope {
    pub(super) timeout: Option<Duration>,
    pub(super) deadline: Option<Instant>,
    pub(super) tokens: Vec<CancelToken>,
    pub(super) checks: Vec<Arc<Check>>,
}

impl Scope {
    /// A scope with no deadline, token or check: calls inside it behave as outside.
    ///
    /// ```
    /// let n = loopbridge::Scope::new().run(|| 1);
    /// assert_eq!(n, 1);
    /// ```
    pub fn new() -> Scope {
        Scope::default()
    }

    /// A deadline `timeout` after [`run`](Scope::run) begins. `Duration::MAX` means none.
    ///
    /// ```
    /// let scope = loopbridge::Scope::new().timeout(std::time::Duration::from_secs(30));
    /// # drop(scope);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Scope {
        self.timeout = Some(timeout);
        self
    }

    /// A deadline at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let scope = loopbridge::Scope::new().deadline(Instant::now() + Duration::from_secs(30));
    /// # drop(scope);
    /// ```
    pub fn deadline(mut self, deadline: Instant) -> Scope {
        self.deadline = Some(self.deadline.map_or(deadline, |d| d.min(deadline)));
        self
    }

    /// Cancels the calls of the scope when `token` is cancelled.
    ///
    /// ```
    /// let token = loopbridge::CancelToken::new();
    /// let scope = loopbridge::Scope::new().cancel_on(&token);
    /// # drop(scope);
    /// ```
    pub fn cancel_on(mut self, token: &CancelToken) -> Scope {
        self.tokens.push(token.clone());
        self
    }

    /// Runs `check` every `every` while a call of the scope is blocked, on the blocked thread;
    /// an `Err` interrupts the call with [`BridgeError::Interrupted`], holding the error.
    ///
    /// # Panics
    ///
    /// Panics if `every` is zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let scope = loopbridge::Scope::new().check_every(Duration::from_millis(50), || Ok::<(), std::io::Error>(()));
    /// # drop(scope);
    /// ```
    pub fn check_every<F, E>(mut self, every: Duration, mut check: F) -> Scope
    where
        F: FnMut() -> Result<(), E> + Send + 'static,
        E: Into<BoxError>,
    {
        assert!(
            !every.is_zero(),
            "loopbridge: a scope's check period must be greater than zero"
        );
        self.checks.push(Arc::new(Check {
            every,
            check: StdMutex::new(Box::new(move || check().map_err(Into::into))),
        }));
        self
    }

    /// Runs `f` with the scope in force on this thread (and in the futures its calls run),
    /// inside any scope already in force, and returns what `f` returns.
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopbridge::{Bridge, Scope};
    ///
    /// let bridge = Bridge::new();
    /// let n = Scope::new().timeout(Duration::from_secs(5)).run(|| bridge.call(async { 2 }))?;
    /// assert_eq!(n, 2);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn run<R>(self, f: impl FnOnce() -> R) -> R {
        let started = Instant::now();
        let own = match (self.timeout, self.deadline) {
            (Some(timeout), deadline) => {
                let after = started.checked_add(timeout);
                match (after, deadline) {
                    (Some(after), Some(deadline)) => Some(after.min(deadline)),
                    (after, deadline) => after.or(deadline),
                }
            }
            (None, deadline) => deadline,
        };
        let parent = current();
        let limits = Limits {
            deadline: earliest(parent.as_ref().and_then(|p| p.deadline), own),
            tokens: parent
                .iter()
                .flat_map(|p| p.tokens.iter().cloned())
                .chain(self.tokens)
                .collect(),
            checks: parent
                .iter()
                .flat_map(|p| p.checks.iter().cloned())
                .chain(self.checks)
                .collect(),
        };
        let _in_force = InForce::enter(Some(Arc::new(limits)));
        f()
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("tokens", &self.tokens)
            .field("checks", &self.checks.len())
            .finish()
    }
}

/// The earlier of two deadlines, either of which may be absent.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
