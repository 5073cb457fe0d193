//! Caller-driven calls ([`Drive::Caller`](super::Drive::Caller)): the caller's thread polls
//! the future itself, inside the runtime's context ([`BridgeRuntime::enter`]), and parks
//! between polls, woken by whatever the future waits on: the runtime's reactor, its timers,
//! its tasks. The runtime keeps all of those; the call's future never leaves the caller.
//!
//! What is kept from a runtime-driven call: the deadline, the registration in the generation
//! (so that a retirement or a shutdown fails a parked caller at once), panics re-raised on the
//! caller, the stats. What is given up: a future that blocks its thread inside `poll` holds
//! its caller, past any deadline, exactly as `block_on` does.
//!
//! [`BridgeRuntime::enter`]: crate::BridgeRuntime::enter

use std::{
    future::Future,
    panic::{self, AssertUnwindSafe},
    pin::pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use crate::{
    cancel::Watch,
    error::{Abort, BridgeError},
    generation::{self, Generation},
    harness::settle,
    registry::{Abortable, Registration},
    slot::Outcome,
    spin,
    sync::{Arc, AtomicUsize, Ordering},
    wait::{Unparker, thread_unparker},
};

/// What became of a call offered to the caller's thread.
pub(crate) enum Driven<F: Future> {
    /// The caller drove it: its outcome.
    Done(Outcome<F::Output>),
    /// The runtime cannot serve caller-driven calls: the future, untouched, to hand to it.
    Declined(F),
}

/// Drives `future` to its outcome on this thread, inside `generation`'s runtime context,
/// until `deadline`; or hands it back untouched if the runtime declines (see
/// [`BridgeRuntime::enter`](crate::BridgeRuntime::enter)).
pub(crate) fn drive<F: Future>(
    generation: &Arc<Generation>,
    future: F,
    deadline: Option<Instant>,
    mut scope: Option<&mut Watch>,
) -> Driven<F> {
    let mut future = Some(future);
    let mut outcome = None;
    generation.runtime.enter(&mut || {
        if let Some(future) = future.take() {
            outcome = Some(poll_here(
                generation,
                future,
                deadline,
                scope.as_deref_mut(),
            ));
        }
    });
    match (outcome, future) {
        (Some(outcome), _) => Driven::Done(outcome),
        (None, Some(future)) => Driven::Declined(future),
        (None, None) => unreachable!("a call taken by the runtime's context reports back"),
    }
}

/// The caller's loop: poll, and park until woken, the deadline passes or the generation is
/// closed. The future is dropped here, on this thread and inside the runtime's context,
/// before the outcome is returned: cancellation is synchronous.
fn poll_here<F: Future>(
    generation: &Arc<Generation>,
    future: F,
    deadline: Option<Instant>,
    mut scope: Option<&mut Watch>,
) -> Outcome<F::Output> {
    // Code in the future that looks for the generation it runs on (a bound value's lookup)
    // finds this one.
    let _driving = generation::Driving::enter(generation);
    let (woken, waker) = thread_unparker();
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(Some(future));
    // Registered the first time the future is pending: a call that completes on its first
    // poll never touches the generation's registry.
    let mut watch: Option<Registered> = None;
    let outcome = 'call: loop {
        if let Some(reason) = watch.as_ref().and_then(Registered::aborted) {
            break Outcome::Failed(reason.into());
        }
        if let Some(stop) = scope.as_deref_mut().and_then(Watch::poll_stop) {
            break Outcome::Failed(stop.into());
        }
        let running = future.as_mut().as_pin_mut().expect("polled until it ends");
        // Wakes from here on are for this poll.
        woken.take_woken();
        match panic::catch_unwind(AssertUnwindSafe(|| running.poll(&mut cx))) {
            Ok(Poll::Ready(value)) => break Outcome::Value(value),
            Err(payload) => break Outcome::Panic(payload),
            Ok(Poll::Pending) => {}
        }
        if watch.is_none() {
            match Registered::register(generation, &woken) {
                Ok(registered) => watch = Some(registered),
                Err(reason) => break Outcome::Failed(reason.into()),
            }
            if let Some(scope) = scope.as_deref_mut() {
                scope.arm(&waker);
            }
        }
        // A wake that comes quickly (a reply from the runtime's reactor) is worth a short
        // spin, as a runtime-driven caller spins for its outcome: parking and being woken
        // costs far more.
        let started = spin::caller(|| woken.is_woken(), deadline);
        // Parks until woken, the deadline passes, the generation closes or the scope stops
        // the call; a scope's check that comes due wakes it without a poll of the future.
        while !woken.is_woken() {
            if watch.as_ref().and_then(Registered::aborted).is_some() {
                continue 'call;
            }
            if let Some(stop) = scope.as_deref_mut().and_then(Watch::poll_stop) {
                break 'call Outcome::Failed(stop.into());
            }
            let check = scope.as_deref().and_then(Watch::next_check);
            let wake_at = match (deadline, check) {
                (Some(deadline), Some(check)) => Some(deadline.min(check)),
                (deadline, check) => deadline.or(check),
            };
            match wake_at {
                None => woken.park(None),
                Some(wake_at) => {
                    let now = Instant::now();
                    if deadline.is_some_and(|deadline| now >= deadline) {
                        break 'call Outcome::Failed(BridgeError::TimedOut);
                    }
                    woken.park(Some(wake_at.saturating_duration_since(now)));
                }
            }
        }
        // A wake found before the spin read the clock was quick: it counts as no wait.
        spin::record_wait(started.map_or(Duration::ZERO, |started| started.elapsed()));
    };
    // Dropped here, before the caller hears of the outcome. A panic in its `Drop` counts as
    // the future's panic unless it already panicked.
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| future.set(None)));
    settle(Some(outcome), dropped).expect("an outcome was reached")
}

/// A caller-driven call's registration in its generation, and the signal a close sends it.
struct Registered {
    signal: Arc<Signal>,
    _registration: Registration,
}

impl Registered {
    /// Registers the call in `generation`, so that closing it fails the call and wakes its
    /// caller; or says why the generation is closed already.
    fn register(generation: &Generation, caller: &Arc<Unparker>) -> Result<Registered, Abort> {
        let signal = Arc::new(Signal {
            aborted: AtomicUsize::new(NOT_ABORTED),
            caller: caller.clone(),
        });
        match generation.register(signal.clone()) {
            Some(registration) => Ok(Registered {
                signal,
                _registration: registration,
            }),
            None => Err(generation
                .close_reason()
                .map_or(Abort::Retired, Abort::from)),
        }
    }

    fn aborted(&self) -> Option<Abort> {
        match self.signal.aborted.load(Ordering::Acquire) {
            NOT_ABORTED => None,
            SHUTDOWN => Some(Abort::Shutdown),
            RETIRED => Some(Abort::Retired),
            _ => Some(Abort::Cancelled),
        }
    }
}

const NOT_ABORTED: usize = 0;
const SHUTDOWN: usize = 1;
const RETIRED: usize = 2;
const CANCELLED: usize = 3;

/// What a generation's close reaches: the reason, and the caller to unpark.
struct Signal {
    aborted: AtomicUsize,
    caller: Arc<Unparker>,
}

impl Abortable for Signal {
    fn abort(&self, reason: Abort) {
        let code = match reason {
            Abort::Shutdown => SHUTDOWN,
            Abort::Retired => RETIRED,
            Abort::Cancelled => CANCELLED,
        };
        self.aborted.store(code, Ordering::Release);
        self.caller.unpark();
    }
}
