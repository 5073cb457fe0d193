//! Where a bridge's runtime generations come from: one persistent generation, started once and
//! published for every call, or a fresh one per call. The only place that knows the
//! difference between the two strategies.

use std::{
    cell::Cell,
    io,
    time::{Duration, Instant},
};

use crate::{
    context::lifecycle,
    error::{BridgeError, Closed},
    fork,
    generation::Generation,
    runtime::BridgeRuntime,
    stats::Counters,
    sync::{
        Arc, AtomicU64, Condvar, Mutex, Ordering, RwLock, Weak, lock, read, wait_on,
        wait_on_timeout, write,
    },
};

/// What starts each runtime generation.
pub(crate) type Factory =
    Box<dyn Fn() -> io::Result<Box<dyn BridgeRuntime>> + Send + Sync + 'static>;

#[cfg(not(loopbridge_loom))]
std::thread_local! {
    /// While a runtime factory runs: the id of the bridge it is starting.
    static STARTING: Cell<u64> = const { Cell::new(0) };
}

// The same for the models: loom's `thread_local!` gives each model thread its own, and takes
// no `const` initializer.
#[cfg(loopbridge_loom)]
loom::thread_local! {
    static STARTING: Cell<u64> = Cell::new(0);
}

/// The generations of one bridge.
pub(crate) struct Supply {
    /// This supply, for a helper thread that starts a runtime (see `start_aside`).
    this: Weak<Supply>,
    /// The bridge's id, to tell a factory that calls its own bridge.
    bridge: u64,
    factory: Factory,
    /// A generation per call instead of one for all.
    per_call: bool,
    shutdown_grace: Duration,
    stats: Arc<Counters>,
    state: RwLock<State>,
    /// A per-call bridge's generations in flight, for shutdown to stop.
    per_call_live: Mutex<Vec<Weak<Generation>>>,
    /// Set while a caller runs the factory, so concurrent first calls start one runtime, not
    /// several; `started` wakes the others when it is done. Holds the fork count of the
    /// process it was set in (see `fork`): a start in progress in a parent process never ends
    /// in its child, where nobody runs it.
    starting: Mutex<Option<u64>>,
    started: Condvar,
    generations: AtomicU64,
}

enum State {
    /// No runtime yet, or the last one was retired (always, for a per-call bridge).
    Idle,
    Running(Arc<Generation>),
    /// Terminal. Keeps the last generation so a repeated shutdown can wait for it again.
    ShutDown(Option<Arc<Generation>>),
}

impl Supply {
    pub(crate) fn new(
        bridge: u64,
        factory: Factory,
        per_call: bool,
        shutdown_grace: Duration,
        stats: Arc<Counters>,
    ) -> Arc<Supply> {
        Arc::new_cyclic(|this| Supply {
            this: this.clone(),
            bridge,
            factory,
            per_call,
            shutdown_grace,
            stats,
            state: RwLock::new(State::Idle),
            per_call_live: Mutex::new(Vec::new()),
            starting: Mutex::new(None),
            started: Condvar::new(),
            generations: AtomicU64::new(0),
        })
    }

    pub(crate) fn per_call(&self) -> bool {
        self.per_call
    }

    /// The generation a call runs on: the published one, starting one if there is none, or a
    /// fresh one for a per-call bridge. Waiting for a start gives up at `deadline`.
    pub(crate) fn generation(
        &self,
        deadline: Option<Instant>,
    ) -> Result<Arc<Generation>, BridgeError> {
        if !self.per_call {
            match &*read(&self.state) {
                State::Running(generation) if generation.of_this_process() => {
                    return Ok(generation.clone());
                }
                State::ShutDown(_) => return Err(BridgeError::Shutdown),
                // None yet, or one inherited from a parent process, which `start` abandons.
                State::Running(_) | State::Idle => {}
            }
        }
        // A start is needed. From inside this bridge's own factory it would wait for itself.
        if STARTING.with(Cell::get) == self.bridge {
            return Err(BridgeError::Start(io::Error::other(
                "the runtime factory called into the bridge it is starting; \
                 the factory must not use its own bridge",
            )));
        }
        match self.per_call {
            true => self.start_per_call(deadline),
            false => self.start(deadline),
        }
    }

    /// The published generation, if any (for `Debug` and the models).
    pub(crate) fn current(&self) -> Option<Arc<Generation>> {
        match &*read(&self.state) {
            State::Running(generation) => Some(generation.clone()),
            _ => None,
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        matches!(*read(&self.state), State::ShutDown(_))
    }

    /// The error for a call that found its generation closed.
    pub(crate) fn closed_error(&self) -> BridgeError {
        match self.is_shutdown() {
            true => BridgeError::Shutdown,
            false => BridgeError::Retired,
        }
    }

    /// Starts and publishes a generation, or waits for another caller's start; gives up at
    /// `deadline`. Nothing is published unless the factory succeeded.
    ///
    /// Without a deadline the factory runs on this thread. With one, it runs on a helper
    /// thread that this one waits for until the deadline: a caller cannot give up on a
    /// factory running on its own stack. A start the caller gave up on goes on, and publishes
    /// its runtime for the calls after.
    fn start(&self, deadline: Option<Instant>) -> Result<Arc<Generation>, BridgeError> {
        self.abandon_inherited();
        let mut starting = lock(&self.starting);
        loop {
            match &*read(&self.state) {
                State::Running(generation) => return Ok(generation.clone()),
                State::ShutDown(_) => return Err(BridgeError::Shutdown),
                State::Idle => {}
            }
            if starting.is_none_or(|epoch| epoch != fork::current()) {
                *starting = Some(fork::current());
                drop(starting);
                return match deadline {
                    None => self.start_here(),
                    Some(deadline) => self.start_aside(deadline),
                };
            }
            // Another caller is running the factory: wait for it, within our deadline.
            starting = match deadline {
                None => wait_on(&self.started, starting),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        Counters::bump(&self.stats.timeouts);
                        return Err(BridgeError::TimedOut);
                    }
                    wait_on_timeout(&self.started, starting, deadline - now)
                }
            };
        }
    }

    /// Runs the factory on this thread and publishes its runtime, for a caller that set the
    /// `starting` flag; clears the flag and wakes the waiters however it ends.
    fn start_here(&self) -> Result<Arc<Generation>, BridgeError> {
        let _done = CallOnDrop(|| {
            *lock(&self.starting) = None;
            self.started.notify_all();
        });
        let generation = self.run_factory()?;
        let mut state = write(&self.state);
        if let State::Idle = *state {
            *state = State::Running(generation.clone());
            drop(state);
            Counters::bump(&self.stats.started);
            lifecycle!(
                info,
                bridge = self.bridge,
                generation = generation.id,
                runtime = ?generation.runtime,
                "bridge runtime started"
            );
            return Ok(generation);
        }
        // Shut down while the factory ran: the new runtime never serves a call.
        drop(state);
        generation.close(Closed::Shutdown);
        generation.runtime.shutdown(self.shutdown_grace);
        Err(BridgeError::Shutdown)
    }

    /// [`start_here`](Self::start_here) on a helper thread named `loopbridge-start`, waited
    /// for until `deadline`. A panic in the factory is re-raised here, as if it had run here.
    fn start_aside(&self, deadline: Instant) -> Result<Arc<Generation>, BridgeError> {
        let not_started = |err: BridgeError| {
            *lock(&self.starting) = None;
            self.started.notify_all();
            Err(err)
        };
        // Held by the helper for the start's length.
        let Some(supply) = self.this.upgrade() else {
            return not_started(BridgeError::Shutdown);
        };
        let (done, outcome) = std::sync::mpsc::channel();
        let helper = std::thread::Builder::new()
            .name("loopbridge-start".into())
            .spawn(move || {
                let _ = done.send(supply.start_here());
            });
        match helper {
            Ok(helper) => self.wait_for_start(helper, &outcome, deadline),
            Err(err) => not_started(BridgeError::Start(err)),
        }
    }

    /// Waits for a start on a helper thread until `deadline`; re-raises a panic of the
    /// factory, as if it had run here. A start given up on goes on without its caller.
    fn wait_for_start(
        &self,
        helper: std::thread::JoinHandle<()>,
        outcome: &std::sync::mpsc::Receiver<Result<Arc<Generation>, BridgeError>>,
        deadline: Instant,
    ) -> Result<Arc<Generation>, BridgeError> {
        match outcome.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(started) => started,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                lifecycle!(
                    debug,
                    bridge = self.bridge,
                    "a call's deadline passed while its runtime started; the start goes on"
                );
                Counters::bump(&self.stats.timeouts);
                Err(BridgeError::TimedOut)
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match helper.join() {
                Err(payload) => std::panic::resume_unwind(payload),
                Ok(()) => unreachable!("the helper reports before it ends"),
            },
        }
    }

    /// Runs the factory, marking this thread as starting the bridge meanwhile (see
    /// [`generation`](Self::generation)). The generation remembers the process's fork count
    /// from before the factory ran (see `fork`).
    fn run_factory(&self) -> Result<Arc<Generation>, BridgeError> {
        let epoch = fork::epoch();
        let previous = STARTING.with(|id| id.replace(self.bridge));
        let _restore = CallOnDrop(move || STARTING.with(|id| id.set(previous)));
        let runtime = (self.factory)().map_err(BridgeError::Start)?;
        let id = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Generation::new(self.bridge, id, epoch, runtime))
    }

    /// Unpublishes a generation inherited from a parent process, whose runtime has no threads
    /// in this one, and abandons it (see [`abandon`]).
    fn abandon_inherited(&self) {
        let inherited = {
            let mut state = write(&self.state);
            match &*state {
                State::Running(generation) if !generation.of_this_process() => {
                    match std::mem::replace(&mut *state, State::Idle) {
                        State::Running(generation) => Some(generation),
                        _ => None,
                    }
                }
                _ => None,
            }
        };
        if let Some(generation) = inherited {
            abandon(&generation);
        }
    }

    /// Starts a runtime for one call of a per-call bridge. It is never published; shutdown
    /// finds it through `per_call_live`. With a `deadline`, the factory runs on a helper thread
    /// waited for until then, as for a persistent bridge: every wait of a call keeps its
    /// deadline, a factory that hangs included.
    fn start_per_call(&self, deadline: Option<Instant>) -> Result<Arc<Generation>, BridgeError> {
        if self.is_shutdown() {
            return Err(BridgeError::Shutdown);
        }
        let generation = match deadline {
            None => self.run_factory()?,
            Some(deadline) => self.run_factory_aside(deadline)?,
        };
        {
            let mut live = lock(&self.per_call_live);
            // Checked under the list lock, which shutdown takes after marking the state: either
            // shutdown sees this generation, or this sees the shutdown.
            if !self.is_shutdown() {
                live.retain(|weak| weak.strong_count() > 0);
                live.push(Arc::downgrade(&generation));
                drop(live);
                Counters::bump(&self.stats.started);
                return Ok(generation);
            }
        }
        generation.close(Closed::Shutdown);
        generation.runtime.shutdown(self.shutdown_grace);
        Err(BridgeError::Shutdown)
    }

    /// [`run_factory`](Self::run_factory) on a helper thread named `loopbridge-start`, waited
    /// for until `deadline`, for one call of a per-call bridge. A runtime that comes up after
    /// its caller gave up serves nobody: the helper shuts it down.
    fn run_factory_aside(&self, deadline: Instant) -> Result<Arc<Generation>, BridgeError> {
        // Held by the helper for the start's length.
        let Some(supply) = self.this.upgrade() else {
            return Err(BridgeError::Shutdown);
        };
        let (done, outcome) = std::sync::mpsc::channel();
        let helper = std::thread::Builder::new()
            .name("loopbridge-start".into())
            .spawn(move || {
                if let Err(std::sync::mpsc::SendError(Ok(generation))) =
                    done.send(supply.run_factory())
                {
                    generation.close(Closed::Shutdown);
                    generation.runtime.shutdown(supply.shutdown_grace);
                }
            })
            .map_err(BridgeError::Start)?;
        self.wait_for_start(helper, &outcome, deadline)
    }

    /// After a call that got its outcome: a per-call bridge shuts the call's runtime down.
    pub(crate) fn finished(&self, generation: &Generation) {
        if self.per_call {
            generation.close(Closed::Shutdown);
            generation.runtime.shutdown(self.shutdown_grace);
        }
    }

    /// After a call timed out: returns whether its runtime is worth a health probe. A per-call
    /// runtime is discarded instead, without waiting for it: if it is stuck, nobody waits.
    pub(crate) fn timed_out(&self, generation: &Generation) -> bool {
        if self.per_call {
            generation.close(Closed::Shutdown);
            generation.runtime.shutdown(Duration::ZERO);
            return false;
        }
        true
    }

    /// Takes `generation` out of service: fails its calls in flight with
    /// [`BridgeError::Retired`], unpublishes it, and tells its runtime to stop without waiting
    /// for it. `by_probe` says whether a failed health probe retired it (counted), or a runtime
    /// that refused work (not counted).
    ///
    /// Closed before it is unpublished: a shutdown that comes in between still finds it
    /// published, and its own close of it returns only once this one has failed every call
    /// (see `Registry::close`), so the shutdown never returns before the calls in flight have
    /// failed. (Unpublished first, it would find nothing to close and return at once.) A call
    /// that finds it published but closed meanwhile moves to a fresh generation, as from any
    /// closed one (see `submit`).
    pub(crate) fn retire(&self, generation: &Arc<Generation>, by_probe: bool) {
        let closed = generation.close(Closed::Retired);
        self.unpublish(generation);
        if closed {
            if by_probe {
                Counters::bump(&self.stats.retired);
            }
            lifecycle!(
                warn,
                bridge = generation.bridge,
                generation = generation.id,
                by_probe,
                "bridge runtime retired: it stopped running tasks; the next call starts a fresh one"
            );
            generation.runtime.shutdown(Duration::ZERO);
        }
    }

    /// Takes `generation` off publication, if it is the published one.
    pub(crate) fn unpublish(&self, generation: &Arc<Generation>) {
        let mut state = write(&self.state);
        if let State::Running(current) = &*state {
            if Arc::ptr_eq(current, generation) {
                *state = State::Idle;
            }
        }
    }

    /// Marks the supply shut down for good, then closes every generation and stops its
    /// runtime, waiting up to `grace` in all; returns whether every runtime thread exited.
    pub(crate) fn shutdown(&self, grace: Duration) -> bool {
        let generation = {
            let mut state = write(&self.state);
            let generation = match &*state {
                State::Running(generation) => Some(generation.clone()),
                State::ShutDown(generation) => generation.clone(),
                State::Idle => None,
            };
            *state = State::ShutDown(generation.clone());
            generation
        };
        let per_call: Vec<_> = lock(&self.per_call_live)
            .drain(..)
            .filter_map(|weak| weak.upgrade())
            .collect();
        let started = Instant::now();
        let deadline = started.checked_add(grace);
        let mut all_exited = true;
        for generation in generation.iter().chain(&per_call) {
            if !generation.of_this_process() {
                // Its threads are in a parent process: nothing here to stop or wait for.
                abandon(generation);
                continue;
            }
            generation.close(Closed::Shutdown);
            let left = deadline.map_or(grace, |d| d.saturating_duration_since(Instant::now()));
            all_exited &= generation.runtime.shutdown(left);
        }
        lifecycle!(
            info,
            bridge = self.bridge,
            took = ?started.elapsed(),
            all_exited,
            "bridge shut down{}",
            if all_exited { "" } else { "; stuck threads were left to exit by themselves" }
        );
        all_exited
    }
}

/// Abandons a generation inherited from a parent process through `fork()`: its runtime's
/// threads do not exist here, so it is never closed, stopped or dropped, which would signal
/// or wait for threads that are not there. Everything it holds is leaked instead: the calls
/// and tasks that were in flight on it in the parent (their futures included), its queues and
/// its runtime value.
fn abandon(generation: &Arc<Generation>) {
    lifecycle!(
        warn,
        bridge = generation.bridge,
        generation = generation.id,
        "bridge runtime inherited from a parent process (fork): abandoned and leaked; \
         the next call starts a fresh one"
    );
    std::mem::forget(generation.clone());
}

/// Runs a closure when dropped, on every exit path, unwinding included.
struct CallOnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for CallOnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
