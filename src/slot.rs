//! The result slot: the rendezvous between one caller and the task that runs its future, and
//! where the task's later steps, timer and registration go (its *home*).

use std::{
    any::Any,
    fmt, panic,
    task::{Poll, Waker},
    time::Instant,
};

use crate::{
    BridgeError,
    error::Abort,
    generation::{Generation, Lane, Progress},
    job::{Job, contain, drop_quietly},
    registry::{Abortable, Registration},
    runtime::BoxFuture,
    sync::{Arc, AtomicBool, Mutex, Ordering, Weak, lock},
};

/// A panic payload, as `catch_unwind` returns it.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

/// What a caller gets back from its slot.
pub(crate) enum Outcome<T> {
    /// The future's output.
    Value(T),
    /// The future panicked; re-raise this on the caller.
    Panic(Payload),
    /// The call failed without producing a value.
    Failed(BridgeError),
}

impl<T> Outcome<T> {
    /// Turns the outcome into the caller's result, re-raising a panic on this thread.
    pub(crate) fn into_result(self) -> Result<T, BridgeError> {
        match self {
            Outcome::Value(value) => Ok(value),
            Outcome::Panic(payload) => panic::resume_unwind(payload),
            Outcome::Failed(err) => Err(err),
        }
    }
}

struct State<T> {
    outcome: Option<Outcome<T>>,
    /// Set once the outcome has been handed to the caller.
    taken: bool,
    /// Sticky: once set, the job drops its future on its next poll, or never polls it.
    cancelled: bool,
    /// Set once the call's future has been dropped (or is known never to be made).
    gone: bool,
    /// Whoever waits for the outcome: a parked caller thread or an awaiting task.
    waiter: Option<Waker>,
    /// The job's waker, so that a cancellation can make the job drop its future.
    task: Option<Waker>,
    /// A detached task's (or a pending blocking call's) registration, kept until the task
    /// ends, so that shutdown can still reach (and cancel) a task nobody waits for; with its
    /// generation, which lives as long as the task (a per-call runtime stops when it ends).
    kept: Option<(Registration, Arc<Generation>)>,
    /// Where the call's steps run: the generation it is handed to, and, from its first step
    /// on (which only the runtime that accepted it runs), for good. `None` for a nested call,
    /// whose one-off thread schedules its steps itself.
    home: Option<Home>,
}

/// A call's generation, as its slot knows it: its later steps go there, its timer comes from
/// there, it registers there, and its steps count as that runtime's progress. Held weakly: a
/// runtime that holds a call's step until it is dropped must not keep itself alive through it.
struct Home {
    generation: Weak<Generation>,
    progress: Arc<Progress>,
    /// Which of the runtime's queues the call's steps take.
    lane: Lane,
}

impl Home {
    fn of(generation: &Arc<Generation>, lane: Lane) -> Home {
        Home {
            generation: Arc::downgrade(generation),
            progress: generation.progress.clone(),
            lane,
        }
    }
}

/// The rendezvous between one caller and one job.
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Set once an outcome is stored: a spinning caller reads it without taking the lock.
    ready: AtomicBool,
    /// A blocking call, which registers late: its caller registers it before parking, or its
    /// job the first time its future is pending (see [`register_late`](Self::register_late)),
    /// whichever comes first.
    registers_late: bool,
}

impl<T> Slot<T> {
    /// A slot without a home, for a nested call.
    pub(crate) fn new() -> Arc<Slot<T>> {
        Slot::with_home(None, false)
    }

    /// A slot for a task or a probe handed to `generation`, or for a local call or probe with
    /// [`Lane::Local`].
    pub(crate) fn on(generation: &Arc<Generation>, lane: Lane) -> Arc<Slot<T>> {
        Slot::with_home(Some(Home::of(generation, lane)), false)
    }

    /// A slot for a blocking call handed to `generation`, which the call's job registers in
    /// the first time its future is pending.
    pub(crate) fn late_on(generation: &Arc<Generation>) -> Arc<Slot<T>> {
        Slot::with_home(Some(Home::of(generation, Lane::Shared)), true)
    }

    fn with_home(home: Option<Home>, registers_late: bool) -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new(State {
                outcome: None,
                taken: false,
                cancelled: false,
                gone: false,
                waiter: None,
                task: None,
                kept: None,
                home,
            }),
            ready: AtomicBool::new(false),
            registers_late,
        })
    }

    /// Moves the call to `generation` before its job is handed there, because the one before
    /// refused it (its threads are gone) or closed. Called only before the job's first step,
    /// which only the runtime that accepts the job runs: from then on the home is fixed.
    pub(crate) fn move_to(&self, generation: &Arc<Generation>) {
        let mut state = lock(&self.state);
        let lane = state.home.as_ref().map_or(Lane::Shared, |home| home.lane);
        let previous = state.home.replace(Home::of(generation, lane));
        drop(state);
        drop(previous);
    }

    /// The call's generation, while it exists.
    fn home(&self) -> Option<Arc<Generation>> {
        lock(&self.state)
            .home
            .as_ref()
            .and_then(|home| home.generation.upgrade())
    }

    /// Sends a later step of the call's task to its home's runtime. A step the runtime
    /// refuses (it stopped), or that finds it gone, is dropped here, which cancels the call.
    pub(crate) fn schedule(&self, step: Job) {
        match self.home() {
            Some(home) if home.of_this_process() => drop(home.runtime.spawn(step)),
            // A runtime of a parent process, abandoned (see `fork`): its queues are never
            // drained here, and a push would wake threads that are not there. The step is
            // leaked with the rest of what that runtime held.
            Some(_inherited) => std::mem::forget(step),
            None => drop(step),
        }
    }

    /// The runtime timer of the call's home, firing at `deadline`.
    pub(crate) fn timer(&self, deadline: Instant) -> Option<BoxFuture> {
        let home = self.home()?;
        Some(
            home.runtime
                .sleep(deadline.saturating_duration_since(Instant::now())),
        )
    }

    /// Returns `true` once an outcome has been stored (it may have been taken since). Cheap
    /// enough to spin on.
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Caller side: takes the outcome if there is one, or registers `waker` to be woken when
    /// there is.
    pub(crate) fn poll_take(&self, waker: &Waker) -> Poll<Outcome<T>> {
        let mut state = lock(&self.state);
        match state.outcome.take() {
            Some(outcome) => {
                state.taken = true;
                Poll::Ready(outcome)
            }
            None if state.taken => Poll::Ready(Outcome::Failed(BridgeError::Cancelled)),
            None => {
                let replaced = register(&mut state.waiter, waker);
                drop(state);
                // A waker's drop may run arbitrary code: never under the lock.
                drop(replaced);
                Poll::Pending
            }
        }
    }

    /// Returns `true` once an outcome is there to take (or was taken).
    pub(crate) fn is_finished(&self) -> bool {
        let state = lock(&self.state);
        state.outcome.is_some() || state.taken
    }

    /// Caller side: gives up on the call. The job drops its future on its next poll.
    ///
    /// Returns an outcome that arrived before the caller gave up (at its deadline, say), so
    /// that a value or a panic is not lost; the caller decides what to do with it.
    #[must_use = "an outcome that arrived meanwhile must be delivered or dropped"]
    pub(crate) fn cancel(&self) -> Option<Outcome<T>> {
        let (task, waiter, outcome, kept) = {
            let mut state = lock(&self.state);
            state.cancelled = true;
            state.taken = true;
            (
                state.task.take(),
                state.waiter.take(),
                state.outcome.take(),
                state.kept.take(),
            )
        };
        drop(waiter);
        wake(task);
        // Nobody waits any more: the job's registration goes (the job drops the future on
        // its next poll all the same).
        drop(kept);
        outcome
    }

    /// Fails the call with `err` unless it already has an outcome or was cancelled, and makes
    /// the job drop its future.
    pub(crate) fn fail(&self, err: BridgeError) {
        let (waiter, task, kept) = {
            let mut state = lock(&self.state);
            state.cancelled = true;
            if state.outcome.is_none() && !state.taken {
                state.outcome = Some(Outcome::Failed(err));
                self.ready.store(true, Ordering::Release);
            }
            (state.waiter.take(), state.task.take(), state.kept.take())
        };
        // The task first: its cancelling step is handed to the runtime from this thread,
        // before the caller (woken next) can go on to anything else.
        wake(task);
        wake(waiter);
        drop(kept);
    }

    /// Caller side, for a blocking call that finds its generation closed as it registers:
    /// fails the call, but leaves its task to whoever closed the generation. That thread
    /// wakes the task (its job registered the call) before it stops the runtime, so the
    /// future is dropped there; or the job, if it had not registered yet, finds the
    /// generation closed and ends on the runtime by itself. Woken from here instead, the
    /// cancelling step could reach the runtime only after it stopped, and be dropped on this
    /// thread.
    pub(crate) fn fail_from_caller(&self, err: BridgeError) {
        let mut state = lock(&self.state);
        state.cancelled = true;
        if state.outcome.is_none() && !state.taken {
            state.outcome = Some(Outcome::Failed(err));
            self.ready.store(true, Ordering::Release);
        }
    }

    /// Detaches the call: nobody will take its outcome, so the job drops it where it arrives
    /// (quietly: a panic in its `Drop` has nobody to go to). Keeps the task's registration
    /// until the task ends.
    pub(crate) fn keep(&self, registration: Registration, generation: Arc<Generation>) {
        let mut state = lock(&self.state);
        state.taken = true;
        if state.outcome.is_none() && !state.cancelled {
            state.kept = Some((registration, generation));
            return;
        }
        // Already over: let both go, outside the lock (dropping the registration takes a
        // registry lock, and an outcome's `Drop` is foreign code).
        let outcome = state.outcome.take();
        drop(state);
        drop(registration);
        drop_quietly(outcome);
    }

    /// The job's side of a late registration (the caller's is `bridge::submit::register_late`):
    /// the first time the future of a blocking call is pending, registers the call
    /// in its generation, and keeps the registration until the job ends. Its caller registers
    /// it only before parking; without this, a generation closed while the caller still spins
    /// would leave the pending future to be dropped wherever the caller finds that out, after
    /// the runtime has stopped. Registered, the call is failed by the close itself, and its
    /// job woken while the runtime still runs it, so the future is dropped there.
    ///
    /// Returns why the generation was closed, if it already was, or that the call is over: the
    /// job then ends here.
    pub(crate) fn register_late(self: &Arc<Self>) -> Result<(), Abort>
    where
        T: Send + 'static,
    {
        if !self.registers_late {
            return Ok(());
        }
        let Some(generation) = self.home() else {
            return Ok(());
        };
        let Some(registration) = generation.register(self.clone()) else {
            return Err(generation
                .close_reason()
                .map_or(Abort::Retired, Abort::from));
        };
        let mut state = lock(&self.state);
        if state.cancelled || state.outcome.is_some() {
            // Over already (its caller failed it, finding the generation closed as it
            // registered): let the registration go, outside the lock, and end the job in this
            // step, here on the runtime. Left pending, with the registration gone, nothing
            // would wake it before the runtime stops, and the caller's handle would hand the
            // future to a stopped runtime, which drops it on the caller's thread.
            drop(state);
            drop(registration);
            return Err(Abort::Cancelled);
        }
        state.kept = Some((registration, generation));
        Ok(())
    }

    /// Job side: stores the outcome and wakes the caller. An outcome nobody will take is
    /// dropped here, on the job's thread.
    pub(crate) fn complete(&self, outcome: Outcome<T>) {
        let (waiter, unwanted, kept, task) = {
            let mut state = lock(&self.state);
            let kept = state.kept.take();
            // The job's own waker is of no use any more. Dropped here, on the job's thread, it
            // may free the task there rather than on the caller's.
            let task = state.task.take();
            if state.outcome.is_some() || state.taken || state.cancelled {
                (None, Some(outcome), kept, task)
            } else {
                state.outcome = Some(outcome);
                self.ready.store(true, Ordering::Release);
                (state.waiter.take(), None, kept, task)
            }
        };
        wake(waiter);
        drop_quietly(unwanted);
        drop(kept);
        drop(task);
    }

    /// Job side: the call's future has been dropped. Wakes a caller that cancelled the call
    /// and waits to see it gone (see [`poll_gone`](Self::poll_gone)); a call that was not
    /// cancelled has nobody waiting for this, and wakes nobody.
    pub(crate) fn future_gone(&self) {
        let waiter = {
            let mut state = lock(&self.state);
            state.gone = true;
            match state.cancelled {
                true => state.waiter.take(),
                false => None,
            }
        };
        wake(waiter);
    }

    /// Caller side, after cancelling: whether the call's future is gone yet; if not, `waker`
    /// is woken when it is.
    pub(crate) fn poll_gone(&self, waker: &Waker) -> bool {
        let mut state = lock(&self.state);
        if state.gone {
            return true;
        }
        let replaced = register(&mut state.waiter, waker);
        drop(state);
        drop(replaced);
        false
    }

    /// Job side, as each step starts: registers the job's waker and returns `true` if the job
    /// must stop. Counts the step as its home's progress.
    pub(crate) fn should_stop(&self, waker: &Waker) -> bool {
        let mut state = lock(&self.state);
        if let Some(home) = &state.home {
            home.progress.step_started(home.lane);
        }
        if state.cancelled {
            return true;
        }
        let replaced = register(&mut state.task, waker);
        drop(state);
        drop(replaced);
        false
    }
}

/// Stores `waker` in `slot` unless it would wake the same task; returns the waker it replaced.
fn register(slot: &mut Option<Waker>, waker: &Waker) -> Option<Waker> {
    match slot {
        Some(current) if current.will_wake(waker) => None,
        _ => slot.replace(waker.clone()),
    }
}

impl<T> fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Slot")
            .field("finished", &(state.outcome.is_some() || state.taken))
            .field("cancelled", &state.cancelled)
            .finish()
    }
}

impl<T: Send> Abortable for Slot<T> {
    fn abort(&self, reason: Abort) {
        self.fail(reason.into());
    }

    fn gone(&self) {
        self.future_gone();
    }
}

/// Wakes `waker`, if any. A waker is foreign code: a panic in it must not stop the bridge
/// from waking everyone else (shutdown fails many calls in a row), so it is swallowed.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        contain("a waker", move || waker.wake());
    }
}
