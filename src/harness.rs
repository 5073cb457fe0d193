//! The task harness: turns a caller's future into a task whose steps are [`Job`]s, drives it on
//! the runtime (containing its panics, honouring cancellation and a deadline), and reports its
//! outcome to the caller's [`Slot`].

use std::{
    future::{Future, poll_fn},
    panic::{self, AssertUnwindSafe},
    pin::pin,
    task::Poll,
    time::Instant,
};

use pin_project_lite::pin_project;

use crate::{
    BridgeError,
    job::{Job, LocalBoxFuture, LocalJob, contain, drop_quietly},
    registry::Abortable,
    runtime::BoxFuture,
    slot::{Outcome, Payload, Slot},
    sync::Arc,
};

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
    let future = Contained::new(future, slot.clone());
    let reporter = Reporter { slot, done: false };
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
                    let future = Contained::new(future, slot.clone());
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
        let Some(running) = future.as_mut().project().future.as_pin_mut() else {
            return Poll::Ready(None);
        };
        // The adapter's timer is made and polled inside the same containment as the future:
        // a timer that panics (tokio's, on a runtime without its time driver) is the call's
        // panic, re-raised on its caller, and never unwinds into the runtime.
        let polled = panic::catch_unwind(AssertUnwindSafe(|| {
            if let Some(deadline) = deadline.take() {
                // Made here, on the first step: by the runtime that accepted the task.
                timer = slot.timer(deadline);
            }
            match running.poll(cx) {
                Poll::Ready(value) => Some(Outcome::Value(value)),
                Poll::Pending => match timer.as_mut().map(|t| t.as_mut().poll(cx)) {
                    Some(Poll::Ready(())) => Some(Outcome::Failed(BridgeError::TimedOut)),
                    _ => None,
                },
            }
        }));
        match polled {
            Ok(Some(outcome)) => Poll::Ready(Some(outcome)),
            Err(payload) => Poll::Ready(Some(Outcome::Panic(payload))),
            Ok(None) if std::mem::take(&mut first_pending) => match slot.register_late() {
                Ok(()) => Poll::Pending,
                Err(reason) => Poll::Ready(Some(Outcome::Failed(reason.into()))),
            },
            Ok(None) => Poll::Pending,
        }
    })
    .await;
    drop(timer);
    // Drop the future here, on the runtime, before the caller hears of the outcome. A panic
    // in its `Drop` counts as the future's panic unless it already panicked.
    let dropped = panic::catch_unwind(AssertUnwindSafe(|| {
        future.as_mut().project().future.set(None)
    }));
    slot.future_gone();
    if let Some(outcome) = settle(outcome, dropped) {
        slot.complete(outcome);
    }
}

/// A call's outcome once its future has been dropped, `dropped` being how that went: a panic
/// in the future's `Drop` is the call's panic, unless the future panicked first. What is
/// discarded (an output the panic replaces, a second payload) is dropped quietly: its `Drop`
/// is the caller's code too, and must not unwind into a runtime.
pub(crate) fn settle<T>(
    outcome: Option<Outcome<T>>,
    dropped: Result<(), Payload>,
) -> Option<Outcome<T>> {
    match (outcome, dropped) {
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
        // Told once the future is gone (see `Abortable::gone`).
        owner: Arc<dyn Abortable>,
    }

    impl<F> PinnedDrop for Contained<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let mut future = this.future;
            let dropped = future.is_some();
            contain("a bridged future's Drop", || future.set(None));
            if dropped {
                this.owner.gone();
            }
        }
    }
}

impl<F> Contained<F> {
    fn new(future: F, owner: Arc<dyn Abortable>) -> Contained<F> {
        Contained {
            future: Some(future),
            owner,
        }
    }
}
