//! The result slot shared by a caller and its job, and the wrapper that turns a future into a
//! [`Job`].

use std::{
    any::Any,
    fmt,
    future::{Future, poll_fn},
    panic::{self, AssertUnwindSafe},
    pin::pin,
    task::{Poll, Waker},
    time::Instant,
};

use pin_project_lite::pin_project;

use crate::{
    BridgeError,
    error::Abort,
    generation::{Generation, Progress, Registration},
    runtime::{BoxFuture, Job, LocalBoxFuture, LocalJob},
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
    /// Whoever waits for the outcome: a parked caller thread or an awaiting task.
    waiter: Option<Waker>,
    /// The job's waker, so that a cancellation can make the job drop its future.
    task: Option<Waker>,
    /// A detached task's registration, kept until the task ends, so that shutdown can still
    /// reach (and cancel) a task nobody waits for.
    kept: Option<Registration>,
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
}

impl Home {
    fn of(generation: &Arc<Generation>) -> Home {
        Home {
            generation: Arc::downgrade(generation),
            progress: generation.progress.clone(),
        }
    }
}

/// The rendezvous between one caller and one job.
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    /// Set once an outcome is stored: a spinning caller reads it without taking the lock.
    ready: AtomicBool,
    /// A blocking call, which registers late: its job registers it in its home the first time
    /// its future is pending (see [`register_pending`](Self::register_pending)).
    registers_late: bool,
}

impl<T> Slot<T> {
    /// A slot without a home, for a nested call.
    pub(crate) fn new() -> Arc<Slot<T>> {
        Slot::with_home(None, false)
    }

    /// A slot for a task, a local call or a probe handed to `generation`.
    pub(crate) fn on(generation: &Arc<Generation>) -> Arc<Slot<T>> {
        Slot::with_home(Some(Home::of(generation)), false)
    }

    /// A slot for a blocking call handed to `generation`, which the call's job registers in
    /// the first time its future is pending.
    pub(crate) fn late_on(generation: &Arc<Generation>) -> Arc<Slot<T>> {
        Slot::with_home(Some(Home::of(generation)), true)
    }

    fn with_home(home: Option<Home>, registers_late: bool) -> Arc<Slot<T>> {
        Arc::new(Slot {
            state: Mutex::new(State {
                outcome: None,
                taken: false,
                cancelled: false,
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
        let previous = lock(&self.state).home.replace(Home::of(generation));
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
    fn timer(&self, deadline: Instant) -> Option<BoxFuture> {
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
        wake(waiter);
        wake(task);
        drop(kept);
    }

    /// Detaches the call: nobody will take its outcome, so the job drops it where it arrives
    /// (quietly: a panic in its `Drop` has nobody to go to). Keeps the task's registration
    /// until the task ends.
    pub(crate) fn keep(&self, registration: Registration) {
        let mut state = lock(&self.state);
        state.taken = true;
        if state.outcome.is_none() && !state.cancelled {
            state.kept = Some(registration);
            return;
        }
        // Already over: let both go, outside the lock (dropping the registration takes a
        // registry lock, and an outcome's `Drop` is foreign code).
        let outcome = state.outcome.take();
        drop(state);
        drop(registration);
        drop_quietly(outcome);
    }

    /// Job side, the first time the future of a blocking call is pending: registers the call
    /// in its generation, and keeps the registration until the job ends. Its caller registers
    /// it only before parking; without this, a generation closed while the caller still spins
    /// would leave the pending future to be dropped wherever the caller finds that out, after
    /// the runtime has stopped. Registered, the call is failed by the close itself, and its
    /// job woken while the runtime still runs it, so the future is dropped there.
    ///
    /// Returns why the generation was closed, if it already was: the job then ends here.
    fn register_pending(self: &Arc<Self>) -> Result<(), Abort>
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
            return Err(generation.close_reason().unwrap_or(Abort::Retired));
        };
        let mut state = lock(&self.state);
        if state.cancelled || state.outcome.is_some() {
            // Over already: let the registration go, outside the lock.
            drop(state);
            drop(registration);
        } else {
            state.kept = Some(registration);
        }
        Ok(())
    }

    /// Replaces a failure that has not been taken yet with a more precise one.
    pub(crate) fn refine_failure(&self, err: BridgeError) {
        let mut state = lock(&self.state);
        if let Some(Outcome::Failed(_)) = state.outcome {
            state.outcome = Some(Outcome::Failed(err));
        }
    }

    /// Job side: stores the outcome and wakes the caller. An outcome nobody will take is
    /// dropped here, on the job's thread.
    fn complete(&self, outcome: Outcome<T>) {
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

    /// Job side, as each step starts: registers the job's waker and returns `true` if the job
    /// must stop. Counts the step as its home's progress.
    fn should_stop(&self, waker: &Waker) -> bool {
        let mut state = lock(&self.state);
        if let Some(home) = &state.home {
            home.progress.step_started();
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

/// A type-erased slot the bridge can fail from outside, on retirement or shutdown.
pub(crate) trait Abortable: Send + Sync {
    fn abort(&self, reason: Abort);
}

impl<T: Send> Abortable for Slot<T> {
    fn abort(&self, reason: Abort) {
        self.fail(reason.into());
    }
}

/// Wakes `waker`, if any. A waker is foreign code: a panic in it must not stop the bridge
/// from waking everyone else (shutdown fails many calls in a row), so it is swallowed.
fn wake(waker: Option<Waker>) {
    if let Some(waker) = waker {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || waker.wake()));
    }
}

/// Drops `value`, swallowing a panic from its `Drop`: nobody is there to receive it, and it
/// must not unwind into a runtime or a caller that is giving up.
pub(crate) fn drop_quietly<T>(value: T) {
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(value)));
}

/// The schedule of a task whose steps run on its slot's home (see [`Slot::schedule`]).
pub(crate) fn scheduler<T: Send + 'static>(
    slot: &Arc<Slot<T>>,
) -> impl Fn(Job) + Send + Sync + 'static {
    let slot = slot.clone();
    move |step| slot.schedule(step)
}

/// Makes `future` into a task that reports to `slot`, and returns its first [`Job`]. Every
/// later wake of the task hands a new job to `schedule`.
///
/// With a `deadline`, the task fails with [`BridgeError::TimedOut`] when its home runtime's
/// timer (made on the first step, on that runtime) fires first, and drops the future right
/// there on the runtime.
pub(crate) fn job<F, S>(
    future: F,
    slot: Arc<Slot<F::Output>>,
    deadline: Option<Instant>,
    schedule: S,
) -> Job
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Job) + Send + Sync + 'static,
{
    let (first, task) = held_job(future, slot, deadline, schedule);
    // The caller waits on the slot; the task's own handle is not needed.
    task.detach();
    first
}

/// Like [`job`], but also returns the task's handle. A blocking caller holds it until it has
/// the outcome and drops it then: the task is then most often freed on the caller's thread,
/// whose allocator gets the memory back for its next call (a task freed on the runtime's
/// thread comes back to the caller's allocator by way of the other core's cache). Dropping
/// the handle of a task that has not completed cancels it, as the slot's cancel does.
pub(crate) fn held_job<F, S>(
    future: F,
    slot: Arc<Slot<F::Output>>,
    deadline: Option<Instant>,
    schedule: S,
) -> (Job, async_task::Task<()>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    S: Fn(Job) + Send + Sync + 'static,
{
    let reporter = Reporter { slot, done: false };
    let future = Contained::new(future);
    let (runnable, task) = async_task::spawn(
        async move {
            let mut reporter = reporter;
            drive(future, &reporter.slot, deadline).await;
            reporter.done = true;
        },
        move |runnable| schedule(Job::new(runnable)),
    );
    (Job::new(runnable), task)
}

/// Owns a task's slot. If the task is dropped before it reports (its runtime stopped, or never
/// ran it), this tells the caller the call was cancelled, so nobody waits for it forever.
struct Reporter<T> {
    slot: Arc<Slot<T>>,
    done: bool,
}

impl<T> Drop for Reporter<T> {
    fn drop(&mut self) {
        if !self.done {
            self.slot.fail(BridgeError::Cancelled);
        }
    }
}

/// Wraps `make` into a [`LocalJob`] that reports to `slot`: the future is made and polled on
/// the runtime thread that takes the job.
pub(crate) fn local_job<M, F>(make: M, slot: Arc<Slot<F::Output>>) -> LocalJob
where
    M: FnOnce() -> F + Send + 'static,
    F: Future + 'static,
    F::Output: Send + 'static,
{
    let owner: Arc<dyn Abortable> = slot.clone();
    LocalJob::new(
        Box::new(move || -> LocalBoxFuture {
            match panic::catch_unwind(AssertUnwindSafe(make)) {
                Ok(future) => {
                    let future = Contained::new(future);
                    Box::pin(async move { drive(future, &slot, None).await })
                }
                Err(payload) => {
                    slot.complete(Outcome::Panic(payload));
                    Box::pin(async {})
                }
            }
        }),
        owner,
    )
}

/// A job's body: polls `future` on the runtime until it completes, panics, is cancelled or
/// (with a `deadline`) times out, drops it there, and reports to `slot`.
async fn drive<F>(future: Contained<F>, slot: &Arc<Slot<F::Output>>, deadline: Option<Instant>)
where
    F: Future,
    F::Output: Send + 'static,
{
    let mut timer: Option<BoxFuture> = None;
    let mut deadline = deadline;
    let mut future = pin!(future);
    let mut first_pending = true;
    let outcome = poll_fn(|cx| {
        if slot.should_stop(cx.waker()) {
            return Poll::Ready(None);
        }
        if let Some(deadline) = deadline.take() {
            // Made here, on the first step: by the runtime that accepted the task.
            timer = slot.timer(deadline);
        }
        let Some(running) = future.as_mut().project().future.as_pin_mut() else {
            return Poll::Ready(None);
        };
        match panic::catch_unwind(AssertUnwindSafe(|| running.poll(cx))) {
            Ok(Poll::Ready(value)) => Poll::Ready(Some(Outcome::Value(value))),
            Err(payload) => Poll::Ready(Some(Outcome::Panic(payload))),
            Ok(Poll::Pending) => match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(Some(Outcome::Failed(BridgeError::TimedOut))),
                _ if std::mem::take(&mut first_pending) => match slot.register_pending() {
                    Ok(()) => Poll::Pending,
                    Err(reason) => Poll::Ready(Some(Outcome::Failed(reason.into()))),
                },
                _ => Poll::Pending,
            },
        }
    })
    .await;
    drop(timer);
    // Drop the future here, on the runtime, before the caller hears of the outcome. A panic
    // in its `Drop` counts as the future's panic unless it already panicked.
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| {
        future.as_mut().project().future.set(None)
    }));
    // What is discarded (an output the panic replaces, a second payload) is dropped quietly:
    // its `Drop` is the caller's code too, and must not unwind into the runtime.
    let outcome = match (outcome, dropped) {
        (Some(Outcome::Panic(first)), second) => {
            drop_quietly(second);
            Some(Outcome::Panic(first))
        }
        (Some(replaced), Err(payload)) => {
            drop_quietly(replaced);
            Some(Outcome::Panic(payload))
        }
        (outcome, dropped) => {
            drop_quietly(dropped);
            outcome
        }
    };
    if let Some(outcome) = outcome {
        slot.complete(outcome);
    }
}

pin_project! {
    /// Holds a caller's future from the moment it becomes a task. Whenever the task is
    /// dropped before the future ends (a cancel before its first poll, a runtime that stops
    /// with the step queued), the future is dropped here, quietly: a panic in its `Drop` has
    /// nobody to go to, and must not unwind into a runtime (async-task aborts the process on
    /// it).
    struct Contained<F> {
        #[pin]
        future: Option<F>,
    }

    impl<F> PinnedDrop for Contained<F> {
        fn drop(this: Pin<&mut Self>) {
            let mut future = this.project().future;
            let _ = panic::catch_unwind(AssertUnwindSafe(|| future.set(None)));
        }
    }
}

impl<F> Contained<F> {
    fn new(future: F) -> Contained<F> {
        Contained {
            future: Some(future),
        }
    }
}
