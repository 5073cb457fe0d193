//! [`CancelToken`]: a flag that cancels the calls of every scope that watches it, and the
//! registrations of blocked calls that a cancel wakes.

use std::{
    fmt,
    sync::atomic::{AtomicU64 as StdAtomicU64, Ordering as StdOrdering},
    task::Waker,
};

use crate::sync::{Arc, AtomicBool, Mutex, MutexGuard, Ordering, lock};

/// A flag that cancels every blocking bridge call made under it, from any thread.
///
/// Cancel it from anywhere (a signal handler's thread, a UI thread, a supervisor): every call
/// blocked in a [`Scope`](crate::Scope) that [watches](crate::Scope::cancel_on) the token is woken at once and fails
/// with [`BridgeError::Cancelled`](crate::BridgeError::Cancelled), its future cancelled as at a timeout; a call made after the
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

pub(super) struct Token {
    pub(super) cancelled: AtomicBool,
    /// The calls blocked under the token: woken, each once, by the cancel.
    pub(super) waiters: Mutex<Vec<(u64, Waker)>>,
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
    pub(super) fn watch(&self, waker: &Waker) -> TokenWatch {
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
    pub(super) fn lock(&self) -> MutexGuard<'_, Vec<(u64, Waker)>> {
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
pub(super) struct TokenWatch {
    pub(super) token: CancelToken,
    pub(super) id: u64,
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
