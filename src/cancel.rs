//! Calls that stop when their caller says so: [`CancelToken`], and [`Scope`], the settings
//! every blocking bridge call made inside it obeys (a deadline, tokens, interrupt checks).
//!
//! A scope is kept per thread, as a stack flattened into one set of [`Limits`]: the tightest
//! deadline, every token, every check. It travels with a call into its future, the way the
//! caller's `tracing` span does (see `context`), so a blocking call made from inside the future
//! obeys its caller's scope too. A thread outside every scope pays one thread-local read per
//! call.

use std::{
    cell::RefCell,
    error::Error,
    fmt,
    sync::{
        Mutex as StdMutex, PoisonError,
        atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering},
    },
    task::Waker,
    time::{Duration, Instant},
};

use crate::{
    error::BridgeError,
    sync::{Arc, AtomicBool, Mutex, MutexGuard, Ordering, lock},
};

type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// A flag that cancels every blocking bridge call made under it, from any thread.
///
/// Cancel it from anywhere (a signal handler's thread, a UI thread, a supervisor): every call
/// blocked in a [`Scope`] that [watches](Scope::cancel_on) the token is woken at once and fails
/// with [`BridgeError::Cancelled`], its future cancelled as at a timeout; a call made after the
/// cancel fails at once, without polling its future. Cancelling is sticky and idempotent.
/// Clones share one flag.
///
/// # Examples
///
/// ```
/// use std::{thread, time::Duration};
/// use loopbridge::{Bridge, CancelToken, Scope};
///
/// let bridge = Bridge::new();
/// let token = CancelToken::new();
/// let canceller = token.clone();
/// thread::spawn(move || {
///     thread::sleep(Duration::from_millis(20));
///     canceller.cancel();
/// });
/// let err = Scope::new()
///     .cancel_on(&token)
///     .run(|| bridge.call(std::future::pending::<()>()))
///     .unwrap_err();
/// assert!(err.is_cancelled());
/// assert!(token.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct CancelToken(Arc<Token>);

struct Token {
    cancelled: AtomicBool,
    /// The calls blocked under the token: woken, each once, by the cancel.
    waiters: Mutex<Vec<(u64, Waker)>>,
}

impl Default for Token {
    fn default() -> Token {
        Token {
            cancelled: AtomicBool::new(false),
            waiters: Mutex::new(Vec::new()),
        }
    }
}

impl CancelToken {
    /// A token not cancelled yet.
    ///
    /// ```
    /// assert!(!loopbridge::CancelToken::new().is_cancelled());
    /// ```
    #[must_use]
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels the token, and wakes every call blocked under it. Harmless to repeat.
    ///
    /// ```
    /// let token = loopbridge::CancelToken::new();
    /// token.cancel();
    /// token.cancel();
    /// assert!(token.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        if self.0.cancelled.swap(true, Ordering::AcqRel) {
            return;
        }
        let waiters = std::mem::take(&mut *self.0.lock());
        for (_, waker) in waiters {
            waker.wake();
        }
    }

    /// Whether the token has been cancelled.
    ///
    /// ```
    /// let token = loopbridge::CancelToken::new();
    /// assert!(!token.is_cancelled());
    /// ```
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::Acquire)
    }

    /// Wakes `waker` when the token is cancelled, until the returned watch is dropped; wakes it
    /// at once if it already is.
    fn watch(&self, waker: &Waker) -> TokenWatch {
        static NEXT: StdAtomicU64 = StdAtomicU64::new(1);
        let id = NEXT.fetch_add(1, StdOrdering::Relaxed);
        {
            let mut waiters = self.0.lock();
            // Checked under the lock the cancel takes the waiters with: either the cancel sees
            // this waiter, or this sees the cancel.
            if !self.is_cancelled() {
                waiters.push((id, waker.clone()));
                return TokenWatch {
                    token: self.clone(),
                    id,
                };
            }
        }
        waker.wake_by_ref();
        TokenWatch {
            token: self.clone(),
            id,
        }
    }
}

impl Token {
    fn lock(&self) -> MutexGuard<'_, Vec<(u64, Waker)>> {
        lock(&self.waiters)
    }
}

impl fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A call's registration with a token; dropping it unregisters the call.
struct TokenWatch {
    token: CancelToken,
    id: u64,
}

impl Drop for TokenWatch {
    fn drop(&mut self) {
        let removed = {
            let mut waiters = self.token.0.lock();
            let at = waiters.iter().position(|(id, _)| *id == self.id);
            at.map(|at| waiters.swap_remove(at))
        };
        // A waker's drop may run foreign code: never under the lock.
        drop(removed);
    }
}

/// An interrupt check: run on a blocked caller's thread every `every`.
struct Check {
    every: Duration,
    check: StdMutex<Box<dyn FnMut() -> Result<(), BoxError> + Send>>,
}

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
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    tokens: Vec<CancelToken>,
    checks: Vec<Arc<Check>>,
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

fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// What the scopes in force on a thread add up to: the tightest deadline, every token, every
/// check.
pub(crate) struct Limits {
    deadline: Option<Instant>,
    tokens: Vec<CancelToken>,
    checks: Vec<Arc<Check>>,
}

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// The scopes in force on this thread, or `None` outside every scope.
    static CURRENT: RefCell<Option<Arc<Limits>>> = const { RefCell::new(None) };
}

// The same for the models: loom's `thread_local!` gives each model thread its own.
#[cfg(loopbridge_loom)]
loom::thread_local! {
    static CURRENT: RefCell<Option<Arc<Limits>>> = RefCell::new(None);
}

/// The scopes in force on this thread.
pub(crate) fn current() -> Option<Arc<Limits>> {
    CURRENT
        .try_with(|current| current.borrow().clone())
        .ok()
        .flatten()
}

/// Puts `limits` in force on this thread while it lives (a future of a call made in a scope,
/// polled on another thread, carries them there).
pub(crate) struct InForce(Option<Option<Arc<Limits>>>);

impl InForce {
    pub(crate) fn enter(limits: Option<Arc<Limits>>) -> InForce {
        InForce(CURRENT.try_with(|current| current.replace(limits)).ok())
    }
}

impl Drop for InForce {
    fn drop(&mut self) {
        if let Some(previous) = self.0.take() {
            let ours = CURRENT.try_with(|current| current.replace(previous));
            drop(ours);
        }
    }
}

/// Why a scope stops a call.
pub(crate) enum Stop {
    Cancelled,
    TimedOut,
    Interrupted(BoxError),
}

impl From<Stop> for BridgeError {
    fn from(stop: Stop) -> BridgeError {
        match stop {
            Stop::Cancelled => BridgeError::Cancelled,
            Stop::TimedOut => BridgeError::TimedOut,
            Stop::Interrupted(err) => BridgeError::Interrupted(err),
        }
    }
}

/// A blocked call's view of its scope: when it must wake (the deadline, the next check), and
/// whether it must stop. Made only for a call inside a scope.
pub(crate) struct Watch {
    limits: Arc<Limits>,
    /// The next time each check is due.
    due: Vec<Instant>,
    /// The call's registrations with the scope's tokens, made when it first blocks.
    watches: Vec<TokenWatch>,
}

impl Watch {
    /// The limits a call made now obeys, if it is made in a scope.
    pub(crate) fn of_current() -> Option<Watch> {
        let limits = current()?;
        let now = Instant::now();
        let due = limits
            .checks
            .iter()
            .map(|check| now.checked_add(check.every).unwrap_or(now))
            .collect();
        Some(Watch {
            limits,
            due,
            watches: Vec::new(),
        })
    }

    /// The scope's deadline, for a call to take the earlier of it and its own.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.limits.deadline
    }

    /// Why the call must stop before it starts: a cancelled token or a passed deadline. (Checks
    /// run only while a call is blocked.)
    pub(crate) fn stopped_already(&self) -> Option<Stop> {
        if self.limits.tokens.iter().any(CancelToken::is_cancelled) {
            return Some(Stop::Cancelled);
        }
        match self.limits.deadline {
            Some(deadline) if Instant::now() >= deadline => Some(Stop::TimedOut),
            _ => None,
        }
    }

    /// Before the caller parks: registers `waker` with every token, once, so that a cancel
    /// wakes it.
    pub(crate) fn arm(&mut self, waker: &Waker) {
        if self.watches.is_empty() {
            self.watches = self
                .limits
                .tokens
                .iter()
                .map(|token| token.watch(waker))
                .collect();
        }
    }

    /// When the caller must wake next to run a check, if the scope has any.
    pub(crate) fn next_check(&self) -> Option<Instant> {
        self.due.iter().min().copied()
    }

    /// After a wake: whether the call must stop, running the checks that are due. A cancelled
    /// token comes first, then a failed check.
    pub(crate) fn poll_stop(&mut self) -> Option<Stop> {
        if self.limits.tokens.iter().any(CancelToken::is_cancelled) {
            return Some(Stop::Cancelled);
        }
        let now = Instant::now();
        for (check, due) in self.limits.checks.iter().zip(&mut self.due) {
            if now < *due {
                continue;
            }
            *due = now.checked_add(check.every).unwrap_or(now);
            let mut run = check.check.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(err) = run() {
                return Some(Stop::Interrupted(err));
            }
        }
        None
    }
}
