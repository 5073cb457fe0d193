//! loom models of the bridge's synchronization: the result slot, the generation registry and
//! its retirement, and shutdown.
//!
//! Built only with `--cfg loopbridge_loom`, which makes [`crate::sync`] export loom's types:
//!
//! ```text
//! RUSTFLAGS="--cfg loopbridge_loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release --lib -p loopbridge models
//! ```
//!
//! (A cfg of the crate's own rather than the usual `--cfg loom`: that one switches tokio and
//! concurrent-queue, which the tests depend on, to loom builds of their own.)
//!
//! The runtime here, [`ModelRuntime`], is the smallest honest adapter: one loom thread that
//! runs the jobs its `spawn` queues, and drops what is left when it stops. Timers are not
//! modelled; a timeout is expressed as the cancel that follows it.

use std::{
    future::Future,
    io,
    pin::Pin,
    sync::atomic::{AtomicUsize as StdCounter, Ordering as StdOrdering},
    task::{Context, Poll, Waker},
    time::Duration,
};

use std::collections::VecDeque;

use crate::{
    Bridge, BridgeError,
    harness::job,
    job::Job,
    runtime::{BoxFuture, BridgeRuntime},
    slot::{Outcome, Slot},
    sync::{
        Arc, Condvar, Mutex, lock,
        thread::{self, JoinHandle, ThreadId},
        wait_on,
    },
    wait::wait,
};

/// How many times something happened, across a model's threads. A std atomic: loom runs one
/// thread at a time, and these counts are what a model checks, not part of the protocol.
#[derive(Clone, Default)]
struct Count(Arc<StdCounter>);

impl Count {
    fn bump(&self) {
        self.0.fetch_add(1, StdOrdering::SeqCst);
    }

    fn get(&self) -> usize {
        self.0.load(StdOrdering::SeqCst)
    }
}

/// Bumps `dropped` when dropped: one per future, one per value.
struct Tracked {
    dropped: Count,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.bump();
    }
}

/// What happened to the futures and values of one model.
#[derive(Clone, Default)]
struct Ledger {
    futures_made: Count,
    futures_dropped: Count,
    values_made: Count,
    values_dropped: Count,
}

impl Ledger {
    /// A ready future whose value is tracked too: made when the future is polled.
    fn ready(&self) -> impl Future<Output = Tracked> + Send + 'static {
        self.futures_made.bump();
        let guard = Tracked {
            dropped: self.futures_dropped.clone(),
        };
        let ledger = self.clone();
        async move {
            let _guard = guard;
            ledger.values_made.bump();
            Tracked {
                dropped: ledger.values_dropped.clone(),
            }
        }
    }

    /// Every future and every value made was dropped exactly once.
    fn assert_balanced(&self) {
        assert_eq!(
            self.futures_made.get(),
            self.futures_dropped.get(),
            "futures"
        );
        assert!(self.values_made.get() <= 1);
        assert_eq!(self.values_made.get(), self.values_dropped.get(), "values");
    }
}

/// A runtime of one loom thread that runs queued jobs in order. Like the real adapters, its
/// `shutdown` with a zero grace only tells the thread to stop, so the thread may outlive the
/// shutdown, the retirement or the bridge; the model joins it at its end.
struct ModelRuntime {
    shared: Arc<Shared>,
    worker_id: ThreadId,
    dropped: Count,
    /// Refuses every job, as a runtime whose threads died does.
    refusing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    /// Signals both new jobs (or the stop) to the thread and its exit to `shutdown`.
    changed: Condvar,
    exits: Count,
}

struct Queue {
    jobs: VecDeque<Job>,
    stopping: bool,
    exited: bool,
    /// A wedged runtime takes jobs here and never runs them, as if its thread were stuck;
    /// they are dropped only with the runtime itself.
    wedged: Option<Vec<Job>>,
}

/// How a model runtime treats the jobs it is given.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Works,
    /// Takes jobs and never runs them (see [`Queue::wedged`]).
    Wedged,
    /// Refuses every job.
    Refusing,
}

impl ModelRuntime {
    fn start(counts: &RuntimeCounts, mode: Mode) -> ModelRuntime {
        let wedged = mode == Mode::Wedged;
        counts.started.bump();
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                stopping: false,
                exited: false,
                wedged: wedged.then(Vec::new),
            }),
            changed: Condvar::new(),
            exits: counts.exits.clone(),
        });
        let worker_shared = shared.clone();
        let worker = thread::spawn(move || worker_shared.serve());
        let worker_id = worker.thread().id();
        counts.threads.lock().unwrap().push(worker);
        ModelRuntime {
            worker_id,
            shared,
            dropped: counts.dropped.clone(),
            refusing: mode == Mode::Refusing,
        }
    }
}

impl Shared {
    fn serve(&self) {
        loop {
            let mut queue = lock(&self.queue);
            let job = loop {
                if queue.stopping {
                    break None;
                }
                if let Some(job) = queue.jobs.pop_front() {
                    break Some(job);
                }
                queue = wait_on(&self.changed, queue);
            };
            match job {
                Some(job) => {
                    drop(queue);
                    job.run();
                }
                None => {
                    // Queued steps are dropped here, on the runtime's thread: that cancels
                    // their calls.
                    let rest = std::mem::take(&mut queue.jobs);
                    drop(queue);
                    drop(rest);
                    break;
                }
            }
        }
        self.exits.bump();
        lock(&self.queue).exited = true;
        self.changed.notify_all();
    }
}

impl BridgeRuntime for ModelRuntime {
    fn spawn(&self, job: Job) -> Result<(), Job> {
        if self.refusing {
            return Err(job);
        }
        let mut queue = lock(&self.shared.queue);
        if queue.stopping {
            return Err(job);
        }
        if let Some(held) = &mut queue.wedged {
            held.push(job);
            return Ok(());
        }
        queue.jobs.push_back(job);
        drop(queue);
        self.shared.changed.notify_all();
        Ok(())
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture {
        Box::pin(std::future::pending())
    }

    fn is_runtime_thread(&self) -> bool {
        thread::current().id() == self.worker_id
    }

    fn block_on_one_off(&self, _future: BoxFuture) -> io::Result<()> {
        Err(io::Error::other("nested calls are not modelled"))
    }

    fn enter(&self, f: &mut dyn FnMut()) -> bool {
        f();
        true
    }

    fn shutdown(&self, grace: Duration) -> bool {
        let mut queue = lock(&self.shared.queue);
        queue.stopping = true;
        self.shared.changed.notify_all();
        if self.is_runtime_thread() {
            return false;
        }
        // A zero grace only tells the thread to stop; otherwise wait for it (the model has no
        // clock, so any other grace waits for as long as it takes).
        if grace.is_zero() {
            return queue.exited;
        }
        while !queue.exited {
            queue = wait_on(&self.shared.changed, queue);
        }
        true
    }
}

impl Drop for ModelRuntime {
    fn drop(&mut self) {
        self.dropped.bump();
    }
}

impl std::fmt::Debug for ModelRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelRuntime").finish_non_exhaustive()
    }
}

/// How many runtimes a model's factory started, how many were dropped, how many threads
/// exited.
#[derive(Clone, Default)]
struct RuntimeCounts {
    started: Count,
    dropped: Count,
    exits: Count,
    /// Every runtime's thread, for the model to join at its end.
    threads: Arc<std::sync::Mutex<Vec<JoinHandle<()>>>>,
}

impl RuntimeCounts {
    fn bridge(&self) -> Bridge {
        let counts = self.clone();
        Bridge::with_runtime(move || Ok(ModelRuntime::start(&counts, Mode::Works)))
    }

    /// A bridge whose calls are polled by their callers (`Drive::Caller`).
    fn bridge_caller_driven(&self) -> Bridge {
        let counts = self.clone();
        Bridge::builder()
            .drive(crate::Drive::Caller)
            .runtime(move || Ok(ModelRuntime::start(&counts, Mode::Works)))
            .build()
    }

    /// A bridge whose first runtime is wedged (see [`Queue::wedged`]); the ones after it work.
    fn bridge_wedged_first(&self) -> Bridge {
        self.bridge_first(Mode::Wedged)
    }

    /// A bridge whose first runtime refuses every job; the ones after it work.
    fn bridge_refusing_first(&self) -> Bridge {
        self.bridge_first(Mode::Refusing)
    }

    fn bridge_first(&self, first: Mode) -> Bridge {
        let counts = self.clone();
        Bridge::with_runtime(move || {
            let mode = match counts.started.get() {
                0 => first,
                _ => Mode::Works,
            };
            Ok(ModelRuntime::start(&counts, mode))
        })
    }

    /// Every runtime started was torn down exactly once: its thread exited and it was freed.
    /// Joins the runtimes' threads first: a thread told to stop with a zero grace may still
    /// be on its way out.
    fn assert_torn_down(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap());
        for thread in threads {
            thread.join().expect("a model runtime's thread panicked");
        }
        let started = self.started.get();
        assert_eq!(self.exits.get(), started, "runtime threads exited");
        assert_eq!(self.dropped.get(), started, "runtimes freed");
    }
}

/// Runs `body` as a model, on a started bridge over a [`ModelRuntime`]; then drops the bridge
/// and checks that every runtime was torn down exactly once (joining their threads first: one
/// told to stop with a zero grace may still hold a value) and every future and value made
/// with the ledger was dropped exactly once.
fn with_bridge(body: impl Fn(&Bridge, &Ledger, &RuntimeCounts) + Send + Sync + 'static) {
    model_bridge(RuntimeCounts::bridge, body);
}

/// [`with_bridge`], on the bridge `make` builds.
fn model_bridge(
    make: fn(&RuntimeCounts) -> Bridge,
    body: impl Fn(&Bridge, &Ledger, &RuntimeCounts) + Send + Sync + 'static,
) {
    loom::model(move || {
        let counts = RuntimeCounts::default();
        let ledger = Ledger::default();
        let bridge = make(&counts);
        bridge.start().unwrap();
        body(&bridge, &ledger, &counts);
        drop(bridge);
        counts.assert_torn_down();
        ledger.assert_balanced();
    });
}

/// A one-shot signal a third thread fires, and the future that waits for it.
#[derive(Clone)]
struct Signal(Arc<Mutex<(bool, Option<Waker>)>>);

impl Signal {
    fn new() -> Signal {
        Signal(Arc::new(Mutex::new((false, None))))
    }

    fn fire(&self) {
        let waker = {
            let mut state = lock(&self.0);
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Future for Signal {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut state = lock(&self.0);
        if state.0 {
            return Poll::Ready(7);
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A ready future made into a job on a fresh slot, and a thread that runs that job: the two
/// sides of the slot protocol, without a bridge around them.
fn ready_job_on_a_thread(ledger: &Ledger) -> (Arc<Slot<Tracked>>, JoinHandle<()>) {
    let slot = Slot::new();
    let first = job(ledger.ready(), slot.clone(), None, |_later: Job| {
        unreachable!("a ready future is never woken")
    });
    (slot, thread::spawn(move || first.run()))
}

/// The caller gives up (a timeout, or `BridgeTask::cancel`) while the runtime completes the
/// job: exactly one side ends up with the value, which is dropped exactly once, and so is the
/// future, whether it was polled or not.
#[test]
fn completion_races_cancel() {
    loom::model(|| {
        let ledger = Ledger::default();
        let (slot, runtime) = ready_job_on_a_thread(&ledger);
        let delivered = slot.cancel();
        runtime.join().unwrap();
        match delivered {
            // It completed first: the caller still gets the value (at its deadline, say).
            Some(Outcome::Value(value)) => drop(value),
            None => {}
            Some(Outcome::Panic(_)) => panic!("the future does not panic"),
            Some(Outcome::Failed(err)) => panic!("nothing failed the call, yet: {err}"),
        }
        // After giving up, nothing more is ever delivered.
        let waker = Waker::noop();
        assert!(matches!(
            slot.poll_take(waker),
            Poll::Ready(Outcome::Failed(BridgeError::Cancelled))
        ));
        drop(slot);
        ledger.assert_balanced();
    });
}

/// A caller parked on its slot is always woken: the future is woken from a third thread, its
/// next step goes through the runtime's queue, and its completion unparks the caller.
#[test]
fn no_lost_wakeup() {
    with_bridge(|bridge, _ledger, _counts| {
        let signal = Signal::new();
        let firer = signal.clone();
        let third = thread::spawn(move || firer.fire());
        assert!(matches!(bridge.call(signal), Ok(7)));
        third.join().unwrap();
    });
}

/// The slot protocol alone, with the caller parked in [`wait`]: the completion on the runtime's
/// thread always unparks it.
#[test]
fn a_parked_caller_is_woken() {
    loom::model(|| {
        let ledger = Ledger::default();
        let (slot, runtime) = ready_job_on_a_thread(&ledger);
        match wait(&slot, None, || {}) {
            Some(Outcome::Value(value)) => drop(value),
            _ => panic!("the call completes with its value"),
        }
        runtime.join().unwrap();
        drop(slot);
        ledger.assert_balanced();
    });
}

/// A call submitted while its generation is being retired always resolves, with its value or
/// `Retired`, and every runtime the bridge started is torn down exactly once.
#[test]
fn submit_races_retirement() {
    // The retired runtime's thread and the fresh one a late call starts make four threads, but
    // never more than three run at once.
    with_bridge(|bridge, ledger, _counts| {
        call_racing_retirement(bridge, ledger);
        assert_eq!(bridge.stats().retired, 1);
    });
}

/// A call on `bridge` while another thread retires its runtime: it gets its value or
/// `Retired`, nothing else.
fn call_racing_retirement(bridge: &Bridge, ledger: &Ledger) {
    let retirer = bridge.clone();
    let retire = thread::spawn(move || retirer.retire_for_model());
    match bridge.call(ledger.ready()) {
        Ok(value) => drop(value),
        Err(BridgeError::Retired) => {}
        Err(err) => panic!("a call racing retirement got {err:?}"),
    }
    retire.join().unwrap();
}

/// A call racing the retirement of a wedged runtime, which holds its step without running or
/// dropping it: the call fails with `Retired` even when the retirement lands between its
/// hand-over and its registration (a caller registers only before it parks), or it goes to
/// the fresh runtime and gets its value. Nobody is left parked.
#[test]
fn a_call_on_a_wedged_runtime_races_retirement() {
    model_bridge(
        RuntimeCounts::bridge_wedged_first,
        |bridge, ledger, _counts| call_racing_retirement(bridge, ledger),
    );
}

/// A call that a dead runtime refuses moves to a fresh one, and every later step of it runs
/// there: its future, woken from a third thread at any point (before its first poll, during
/// it, after it), gets its value. Its wake-ups used to go to the dead runtime, which dropped
/// them, and the call failed.
#[test]
fn a_moved_call_is_woken_where_it_runs() {
    model_bridge(
        RuntimeCounts::bridge_refusing_first,
        |bridge, _ledger, counts| {
            let signal = Signal::new();
            let firer = signal.clone();
            let third = thread::spawn(move || firer.fire());
            assert!(matches!(bridge.call(signal), Ok(7)));
            third.join().unwrap();
            assert_eq!(counts.started.get(), 2);
        },
    );
}

/// A call submitted while the bridge shuts down resolves with its value or `Shutdown`, and the
/// runtime is torn down exactly once.
#[test]
fn submit_races_shutdown() {
    with_bridge(|bridge, ledger, counts| {
        let stopper = bridge.clone();
        let exits = counts.exits.clone();
        let stop = thread::spawn(move || {
            assert!(stopper.shutdown_timeout(Duration::from_secs(1)));
            // "All exited" means exited by now, not eventually.
            assert_eq!(exits.get(), 1, "the runtime's thread has exited");
        });
        match bridge.call(ledger.ready()) {
            Ok(value) => drop(value),
            Err(BridgeError::Shutdown) => {}
            Err(err) => panic!("a call racing shutdown got {err:?}"),
        }
        stop.join().unwrap();
        assert!(matches!(bridge.call(async {}), Err(BridgeError::Shutdown)));
    });
}

/// A future that is never ready, and records whether it was polled and on which thread it was
/// dropped. A std mutex: what a model checks, not part of the protocol.
struct Stuck(Arc<std::sync::Mutex<(bool, Option<ThreadId>)>>);

impl Future for Stuck {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0.lock().unwrap().0 = true;
        Poll::Pending
    }
}

impl Drop for Stuck {
    fn drop(&mut self) {
        self.0.lock().unwrap().1 = Some(thread::current().id());
    }
}

/// A call whose future is pending when the bridge shuts down fails with `Shutdown`, and a
/// future the runtime polled is dropped on the runtime's thread, even when the shutdown lands
/// before the caller registers the call (a caller registers only before it parks).
#[test]
fn a_pending_call_races_shutdown() {
    with_bridge(|bridge, _ledger, counts| {
        let stopper = bridge.clone();
        let stop = thread::spawn(move || {
            assert!(stopper.shutdown_timeout(Duration::from_secs(1)));
        });
        let seen = Arc::new(std::sync::Mutex::new((false, None)));
        match bridge.call(Stuck(seen.clone())) {
            Err(BridgeError::Shutdown) => {}
            other => panic!("a pending call racing shutdown got {other:?}"),
        }
        stop.join().unwrap();
        let runtime_thread = counts.threads.lock().unwrap()[0].thread().id();
        let (polled, dropped_on) = *seen.lock().unwrap();
        assert!(dropped_on.is_some(), "the future was dropped");
        if polled {
            assert_eq!(
                dropped_on,
                Some(runtime_thread),
                "dropped on the runtime's thread"
            );
        }
    });
}

/// A shutdown racing the retirement of the runtime it shuts down returns only once the task in
/// flight there has failed, with `Shutdown` or `Retired`, whichever closed the runtime first.
/// (The retirement used to unpublish the runtime before it failed the calls on it: a shutdown
/// in between found nothing to close and returned at once, before the task had failed.)
#[test]
fn shutdown_races_retirement() {
    with_bridge(|bridge, _ledger, _counts| {
        let task = bridge
            .spawn(Stuck(Arc::new(std::sync::Mutex::new((false, None)))))
            .unwrap();
        let retirer = bridge.clone();
        let retire = thread::spawn(move || retirer.retire_for_model());
        bridge.shutdown_timeout(Duration::from_secs(1));
        assert!(
            task.is_finished(),
            "the shutdown returned before the task in flight had failed"
        );
        retire.join().unwrap();
        match task.join() {
            Err(BridgeError::Shutdown | BridgeError::Retired) => {}
            other => panic!("a task racing shutdown and retirement got {other:?}"),
        }
    });
}

/// Two shutdowns at once, then the last clone dropped: one teardown, and both shutdowns see
/// the runtime's thread exit.
#[test]
fn shutdown_twice_then_drop() {
    with_bridge(|bridge, _ledger, counts| {
        let other = bridge.clone();
        let exits = counts.exits.clone();
        let second = thread::spawn(move || {
            assert!(other.shutdown_timeout(Duration::from_secs(1)));
            assert_eq!(exits.get(), 1, "the runtime's thread has exited");
            drop(other);
        });
        assert!(bridge.shutdown_timeout(Duration::from_secs(1)));
        assert_eq!(counts.exits.get(), 1, "the runtime's thread has exited");
        second.join().unwrap();
        assert!(bridge.is_shutdown());
        assert_eq!(counts.started.get(), 1);
    });
}

/// A task detached while the bridge shuts down: its future and value are dropped exactly once,
/// wherever the race leaves them, and its registration does not keep anything alive.
#[test]
fn detached_task_races_shutdown() {
    with_bridge(|bridge, ledger, _counts| {
        let stopper = bridge.clone();
        let stop = thread::spawn(move || stopper.shutdown_timeout(Duration::from_secs(1)));
        match bridge.spawn(ledger.ready()) {
            Ok(task) => task.detach(),
            Err(err) => assert!(err.is_shutdown(), "{err:?}"),
        }
        assert!(stop.join().unwrap());
    });
}

/// A task detached as it completes, with no shutdown to clean up after it: once it has run,
/// nothing is left registered in flight on its generation (a registration kept after the task
/// ended would keep the generation, and with it the runtime, alive for good).
#[test]
fn a_detached_task_leaves_nothing_in_flight() {
    with_bridge(|bridge, ledger, _counts| {
        bridge.spawn(ledger.ready()).unwrap().detach();
        // The runtime runs its jobs in order: once this call is back, the detached task's
        // step has run to its end.
        assert!(matches!(bridge.call(async {}), Ok(())));
        assert_eq!(bridge.in_flight_for_model(), 0);
    });
}

/// A caller-driven call parks its caller between polls, and a wake from a third thread, at any
/// point (before the first poll, during it, between the poll and the park), always unparks it:
/// the call gets its value, polled on the caller's thread.
#[test]
fn a_caller_driven_call_is_woken() {
    model_bridge(
        RuntimeCounts::bridge_caller_driven,
        |bridge, _ledger, _counts| {
            let signal = Signal::new();
            let firer = signal.clone();
            let third = thread::spawn(move || firer.fire());
            let caller = thread::current().id();
            let polled_on = bridge.call(async move {
                let value = signal.await;
                (value, thread::current().id())
            });
            assert!(matches!(polled_on, Ok((7, on)) if on == caller));
            third.join().unwrap();
        },
    );
}

/// A caller-driven call parked on a future that is never ready, while the bridge shuts down:
/// the close wakes the caller wherever it is (not yet registered, registered, parked), the
/// call fails with `Shutdown`, and its future is dropped exactly once, on the caller's thread,
/// before the call returns.
#[test]
fn shutdown_races_a_caller_driven_call() {
    model_bridge(
        RuntimeCounts::bridge_caller_driven,
        |bridge, _ledger, _counts| {
            let stopper = bridge.clone();
            let stop = thread::spawn(move || stopper.shutdown_timeout(Duration::from_secs(1)));
            let seen = Arc::new(std::sync::Mutex::new((false, None)));
            match bridge.call(Stuck(seen.clone())) {
                // Shut down before the call found its runtime: nothing was polled.
                Err(BridgeError::Shutdown) => {}
                other => panic!("a caller-driven call racing shutdown got {other:?}"),
            }
            let (polled, dropped_on) = *seen.lock().unwrap();
            assert_eq!(
                dropped_on,
                Some(thread::current().id()),
                "dropped on the caller, already"
            );
            let _ = polled;
            assert!(stop.join().unwrap());
        },
    );
}

/// The future of a caller-driven call is woken from a third thread while the bridge shuts
/// down: the cancel and the wake race, and exactly one wins. The call gets its value or
/// `Shutdown`, never hangs, and its future is dropped once, on the caller.
#[test]
fn a_caller_driven_cancel_races_a_wake() {
    model_bridge(
        RuntimeCounts::bridge_caller_driven,
        |bridge, ledger, _counts| {
            let signal = Signal::new();
            let firer = signal.clone();
            let third = thread::spawn(move || firer.fire());
            let stopper = bridge.clone();
            let stop = thread::spawn(move || stopper.shutdown_timeout(Duration::from_secs(1)));
            let guard = ledger.ready();
            let caller = thread::current().id();
            let dropped_on = Arc::new(std::sync::Mutex::new(None));
            let on = dropped_on.clone();
            let outcome = bridge.call(async move {
                let _tracked = guard.await;
                let _drop = OnDrop(move || *on.lock().unwrap() = Some(thread::current().id()));
                signal.await
            });
            match outcome {
                Ok(7) | Err(BridgeError::Shutdown) => {}
                other => panic!("a woken call racing shutdown got {other:?}"),
            }
            if let Some(on) = *dropped_on.lock().unwrap() {
                assert_eq!(on, caller, "dropped on the caller");
            }
            third.join().unwrap();
            assert!(stop.join().unwrap());
        },
    );
}

/// Runs its closure when dropped.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// A cancel token fired from a third thread races a call's outcome, in both drive modes:
/// exactly one wins (the value, or `Cancelled`), the value is delivered or dropped exactly
/// once, and so is the future.
#[test]
fn a_cancel_races_the_outcome() {
    cancel_races_the_outcome(RuntimeCounts::bridge);
}

/// [`a_cancel_races_the_outcome`], caller-driven.
#[test]
fn a_cancel_races_a_caller_driven_outcome() {
    cancel_races_the_outcome(RuntimeCounts::bridge_caller_driven);
}

fn cancel_races_the_outcome(make: fn(&RuntimeCounts) -> Bridge) {
    {
        model_bridge(make, |bridge, ledger, _counts| {
            let token = crate::CancelToken::new();
            let canceller = token.clone();
            let third = thread::spawn(move || canceller.cancel());
            let outcome = crate::Scope::new()
                .cancel_on(&token)
                .run(|| bridge.call(ledger.ready()));
            match outcome {
                Ok(value) => drop(value),
                Err(BridgeError::Cancelled) => {}
                Err(err) => panic!("a call racing a cancel got {err:?}"),
            }
            third.join().unwrap();
        });
    }
}
