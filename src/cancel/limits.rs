//! What the scopes in force on a thread add up to ([`Limits`]), how they travel with a call
//! ([`InForce`]), and a blocked call's view of them ([`Watch`]).

use std::{
    cell::RefCell,
    error::Error,
    sync::{Mutex as StdMutex, PoisonError},
    task::Waker,
    time::{Duration, Instant},
};

use crate::{error::BridgeError, sync::Arc};

use super::token::{CancelToken, TokenWatch};

pub(super) type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// An interrupt check: run on a blocked caller's thread every `every`.
pub(super) struct Check {
    pub(super) every: Duration,
    pub(super) check: StdMutex<Box<dyn FnMut() -> Result<(), BoxError> + Send>>,
}

/// What the scopes in force on a thread add up to: the tightest deadline, every token, every
/// check.
pub(crate) struct Limits {
    pub(super) deadline: Option<Instant>,
    pub(super) tokens: Vec<CancelToken>,
    pub(super) checks: Vec<Arc<Check>>,
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
