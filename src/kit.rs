//! The adapter kit: the pieces every [`BridgeRuntime`] adapter needs, so that none writes them
//! again. The smol and tokio adapters are built from it, and so can yours (the
//! `futures_pool_adapter` example is one, in about 150 lines).
//!
//! - [`ThreadMark`]: marks the threads that run a runtime's tasks, for
//!   [`is_runtime_thread`](BridgeRuntime::is_runtime_thread).
//! - [`ExitLatch`]: counts what is alive (threads, tasks) and lets a shutdown wait, within its
//!   grace, until nothing is; never longer.
//! - [`Threads`]: named threads whose exits are counted, started so that a failed spawn or a
//!   runtime that cannot be built leaves nothing behind, and joined only once they have exited.
//! - [`HotWindow`]: how long a thread that ran out of work keeps looking for more before it
//!   sleeps, so that back-to-back calls do not pay for waking a parked thread.
//!
//! # Examples
//!
//! The threads of a runtime, each running until told to stop, joined within a grace:
//!
//! ```
//! use std::{sync::{Arc, atomic::{AtomicBool, Ordering}}, thread, time::{Duration, Instant}};
//! use loopbridge::kit::{ThreadMark, Threads};
//!
//! let mark = ThreadMark::new();
//! let stop = Arc::new(AtomicBool::new(false));
//! let threads = Threads::new();
//! for n in 0..2 {
//!     let (mark, stop) = (mark, stop.clone());
//!     threads.spawn(thread::Builder::new().name(format!("my-runtime-{n}")), move || {
//!         mark.mark_current_thread();
//!         while !stop.load(Ordering::Acquire) {
//!             thread::sleep(Duration::from_millis(1));
//!         }
//!     })?;
//! }
//! assert!(!mark.is_current_thread());
//! stop.store(true, Ordering::Release);
//! assert!(threads.join(Instant::now().checked_add(Duration::from_secs(5))));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`BridgeRuntime`]: crate::BridgeRuntime
//! [`BridgeRuntime::is_runtime_thread`]: crate::BridgeRuntime::is_runtime_thread

use std::{
    cell::Cell,
    fmt, io,
    sync::{
        Arc, Condvar, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

#[cfg(doc)]
use crate::runtime::BridgeRuntime;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ===== ThreadMark =====

std::thread_local! {
    /// The mark of the runtime whose tasks this thread runs, or 0.
    static MARK: Cell<u64> = const { Cell::new(0) };
}

/// Marks the threads that run one runtime's tasks: what
/// [`BridgeRuntime::is_runtime_thread`] answers from. Each mark is unique in the process; a
/// thread carries one mark at a time. Copy it into the closures that run on the runtime's
/// threads (a thread's body, tokio's `on_thread_park`).
///
/// ```
/// let mark = loopbridge::kit::ThreadMark::new();
/// let on_it = std::thread::spawn(move || {
///     mark.mark_current_thread();
///     mark.is_current_thread()
/// });
/// assert!(on_it.join().unwrap());
/// assert!(!mark.is_current_thread());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadMark(u64);

impl ThreadMark {
    /// A mark no other runtime has.
    ///
    /// ```
    /// use loopbridge::kit::ThreadMark;
    /// assert_ne!(ThreadMark::new(), ThreadMark::new());
    /// ```
    #[allow(clippy::new_without_default)]
    pub fn new() -> ThreadMark {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ThreadMark(NEXT.fetch_add(1, Ordering::Relaxed))
    }

    /// Marks the current thread as one that runs this runtime's tasks.
    ///
    /// ```
    /// let mark = loopbridge::kit::ThreadMark::new();
    /// std::thread::spawn(move || mark.mark_current_thread()).join().unwrap();
    /// ```
    pub fn mark_current_thread(self) {
        MARK.with(|mark| mark.set(self.0));
    }

    /// Whether the current thread carries this mark.
    ///
    /// ```
    /// assert!(!loopbridge::kit::ThreadMark::new().is_current_thread());
    /// ```
    pub fn is_current_thread(self) -> bool {
        MARK.try_with(Cell::get).is_ok_and(|mark| mark == self.0)
    }
}

// ===== ExitLatch =====

/// Counts what is alive (a runtime's threads, an attached runtime's tasks) and lets a shutdown
/// wait, within its grace, until nothing is.
///
/// Each live thing holds an [`ExitGuard`] from [`enter`](ExitLatch::enter); it counts as gone
/// once the guard is dropped, however it ends, by a panic included. Clones share one count.
///
/// ```
/// use std::time::{Duration, Instant};
/// use loopbridge::kit::ExitLatch;
///
/// let latch = ExitLatch::new();
/// let guard = latch.enter();
/// let deadline = Instant::now().checked_add(Duration::from_millis(10));
/// assert!(!latch.wait(deadline), "still alive");
/// std::thread::spawn(move || drop(guard));
/// assert!(latch.wait(None));
/// ```
#[derive(Clone, Default)]
pub struct ExitLatch(Arc<(Mutex<usize>, Condvar)>);

/// One live thing counted by an [`ExitLatch`]; dropping it counts it out.
#[must_use = "the thing counts as gone as soon as its guard is dropped"]
pub struct ExitGuard(ExitLatch);

impl ExitLatch {
    /// A latch with nothing alive.
    ///
    /// ```
    /// assert_eq!(loopbridge::kit::ExitLatch::new().live(), 0);
    /// ```
    #[must_use]
    pub fn new() -> ExitLatch {
        ExitLatch::default()
    }

    /// Counts one more thing alive until the guard is dropped. In a thread's body, take it
    /// first, so that it drops last: after everything else the thread held.
    ///
    /// ```
    /// let latch = loopbridge::kit::ExitLatch::new();
    /// let guard = latch.enter();
    /// assert_eq!(latch.live(), 1);
    /// drop(guard);
    /// assert_eq!(latch.live(), 0);
    /// ```
    pub fn enter(&self) -> ExitGuard {
        *lock(&self.0.0) += 1;
        ExitGuard(self.clone())
    }

    /// How many things are alive now.
    ///
    /// ```
    /// assert_eq!(loopbridge::kit::ExitLatch::new().live(), 0);
    /// ```
    #[must_use]
    pub fn live(&self) -> usize {
        *lock(&self.0.0)
    }

    /// Waits until nothing is alive, or until `deadline` (`None`: no limit). Returns whether
    /// nothing is.
    ///
    /// ```
    /// assert!(loopbridge::kit::ExitLatch::new().wait(None));
    /// ```
    pub fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut live = lock(&self.0.0);
        while *live > 0 {
            let timeout = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::from_secs(3600),
            };
            if timeout.is_zero() {
                return false;
            }
            live = self
                .0
                .1
                .wait_timeout(live, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.0.0.0);
        *live -= 1;
        if *live == 0 {
            self.0.0.1.notify_all();
        }
    }
}

impl fmt::Debug for ExitLatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitLatch")
            .field("live", &self.live())
            .finish()
    }
}

impl fmt::Debug for ExitGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExitGuard").finish_non_exhaustive()
    }
}

// ===== Threads =====

/// A runtime's threads: spawned by name, counted out by an [`ExitLatch`] as they exit, and
/// joined by [`join`](Threads::join) only once every one of them has exited, within a
/// deadline. A thread that is stuck is never waited for beyond it, and never joined.
///
/// ```
/// use std::{thread, time::{Duration, Instant}};
/// use loopbridge::kit::Threads;
///
/// let threads = Threads::new();
/// threads.spawn(thread::Builder::new().name("quick".into()), || {})?;
/// assert!(threads.join(Instant::now().checked_add(Duration::from_secs(5))));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Default)]
pub struct Threads {
    latch: ExitLatch,
    /// Each thread, with the flag its [`Exit`] sets once nothing of the thread is left to drop.
    handles: Mutex<Vec<(JoinHandle<()>, Arc<AtomicBool>)>>,
}

/// What a thread of [`Threads`] holds until its last thread-local destructor: its flag, set
/// as it drops, and its count in the latch.
struct Exit {
    done: Arc<AtomicBool>,
    _guard: ExitGuard,
}

impl Drop for Exit {
    fn drop(&mut self) {
        // Before the guard counts the thread out, so that a join that sees the count reach
        // zero finds every flag set.
        self.done.store(true, Ordering::Release);
    }
}

impl Threads {
    /// No threads yet.
    ///
    /// ```
    /// assert!(loopbridge::kit::Threads::new().all_exited());
    /// ```
    #[must_use]
    pub fn new() -> Threads {
        Threads::default()
    }

    /// Spawns a thread from `builder` (name it `loopbridge-…` or after your runtime) that
    /// runs `body`; it counts as exited once `body` has returned or unwound, everything it held
    /// has been dropped, and so have the thread's thread-locals (a cache a task left there,
    /// say), whose destructors run after `body`.
    ///
    /// # Errors
    ///
    /// The error of the spawn; nothing is counted then.
    ///
    /// ```
    /// let threads = loopbridge::kit::Threads::new();
    /// threads.spawn(std::thread::Builder::new(), || {})?;
    /// assert!(threads.join(None));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(
        &self,
        builder: thread::Builder,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<()> {
        let done = Arc::new(AtomicBool::new(false));
        let mut exit = Some(Exit {
            done: done.clone(),
            _guard: self.latch.enter(),
        });
        let handle = builder.spawn(move || {
            // Counted out by the last thread-local destructor to run (see `EXIT`), or, where
            // the thread-local cannot be had, when the body ends.
            let _ = EXIT.try_with(|slot| *slot.borrow_mut() = exit.take());
            let _unset = exit;
            body();
        })?;
        lock(&self.handles).push((handle, done));
        Ok(())
    }

    /// Spawns a thread that builds something on itself (a runtime whose threads or drivers
    /// must live there) and reports it through `ready`, then runs on; returns what it
    /// reported, once it has.
    ///
    /// # Errors
    ///
    /// The error of the spawn, or the error the thread reported; the thread has then been
    /// joined. A thread that panics before it reports is an error too.
    ///
    /// ```
    /// use std::{sync::mpsc, thread};
    /// use loopbridge::kit::Threads;
    ///
    /// let threads = Threads::new();
    /// let (stop, stopped) = mpsc::channel::<()>();
    /// let answer = threads.spawn_ready(thread::Builder::new(), move |ready| {
    ///     ready.send(Ok(42)).unwrap();
    ///     let _ = stopped.recv();
    /// })?;
    /// assert_eq!(answer, 42);
    /// drop(stop);
    /// assert!(threads.join(None));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_ready<T: Send + 'static>(
        &self,
        builder: thread::Builder,
        body: impl FnOnce(mpsc::Sender<io::Result<T>>) + Send + 'static,
    ) -> io::Result<T> {
        let (ready, reported) = mpsc::channel();
        self.spawn(builder, move || body(ready))?;
        match reported.recv() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => {
                self.join(None);
                Err(err)
            }
            Err(_) => {
                self.join(None);
                Err(io::Error::other(
                    "a runtime thread panicked before it was ready",
                ))
            }
        }
    }

    /// Whether every thread spawned so far has exited.
    ///
    /// ```
    /// assert!(loopbridge::kit::Threads::new().all_exited());
    /// ```
    pub fn all_exited(&self) -> bool {
        self.latch.live() == 0
    }

    /// Waits until every thread has exited, thread-local destructors included, or until
    /// `deadline` (`None`: no limit), and reaps the threads that have; returns whether they all
    /// have. It never blocks past `deadline`: a thread is joined only once it has finished,
    /// and one that has not (stuck in a task, or in a thread-local's destructor) is left to
    /// end by itself, and reaped by a later `join`. Never call it from one of the threads: it
    /// would wait for itself until the deadline.
    ///
    /// ```
    /// assert!(loopbridge::kit::Threads::new().join(None));
    /// ```
    pub fn join(&self, deadline: Option<Instant>) -> bool {
        let exited = self.latch.wait(deadline);
        let finished: Vec<_> = {
            let mut handles = lock(&self.handles);
            let (finished, running) = handles
                .drain(..)
                .partition(|(_, done)| done.load(Ordering::Acquire));
            *handles = running;
            finished
        };
        for (handle, _) in finished {
            let _ = handle.join();
        }
        exited
    }
}

std::thread_local! {
    /// The [`Exit`] of a thread spawned by [`Threads::spawn`]. Set first thing on the
    /// thread, so its destructor is registered before any other thread-local's and runs after
    /// them all (destructors run in the reverse order of their registration, and one
    /// registered while others run goes before the rest): the thread counts as exited only
    /// once nothing of its own is left to drop, and joining it then only reaps it.
    static EXIT: std::cell::RefCell<Option<Exit>> = const { std::cell::RefCell::new(None) };
}

impl fmt::Debug for Threads {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Threads")
            .field("running", &self.latch.live())
            .finish()
    }
}

// ===== HotWindow =====

/// How long a runtime thread that ran out of work keeps looking for more before it sleeps, and
/// whether looking pays at all.
///
/// Waking a parked thread costs tens of microseconds on a small VM; handing off between two
/// running threads, well under one. So a thread that just ran a step stays hot for a short
/// window (about twice a park and wake, 50 µs by default) and picks up the next step without
/// being woken.
///
/// That pays only while steps come back to back. When they come further apart than the
/// window (one call every 100 µs, say), looking catches nothing, burns a core, and on a VM
/// even slows the wake that follows. So the window keeps score: after
/// [`GIVE_UP_AFTER`](Self::GIVE_UP_AFTER) windows in a row that caught nothing, the thread
/// sleeps as soon as it runs out of work, and only looks again on a probe, every 16th time it
/// runs out at first, then less often while probes keep missing (up to every 256th). A window
/// that catches a step restores looking at once. An idle runtime burns no CPU once the window
/// has passed.
///
/// ```
/// use loopbridge::kit::HotWindow;
///
/// let mut window = HotWindow::new();
/// window.worked();
/// assert!(window.keep_looking(), "just worked: stay hot");
/// ```
#[derive(Clone, Debug)]
pub struct HotWindow {
    window: Duration,
    spell: Spell,
    /// Windows in a row that caught nothing.
    misses: u32,
    /// Idle spells slept through without looking since the last look.
    skipped: u32,
    /// Every how many idle spells a thread that gave up looks anyway, to find out whether
    /// looking pays again.
    probe_every: u32,
}

/// Where a [`HotWindow`]'s thread stands since it last ran out of work.
#[derive(Clone, Copy, Debug)]
enum Spell {
    /// It has work, or has not looked since it had some.
    Working,
    /// It has been looking since then.
    Looking(Instant),
    /// It has stopped looking, for this idle spell.
    Sleeping,
}

impl HotWindow {
    /// A window of [`HotWindow::DEFAULT`].
    ///
    /// ```
    /// let window = loopbridge::kit::HotWindow::new();
    /// # drop(window);
    /// ```
    #[must_use]
    pub fn new() -> HotWindow {
        HotWindow::with_window(HotWindow::DEFAULT)
    }

    /// The default window: about twice the cost of waking a parked thread on a 2-vCPU VM.
    pub const DEFAULT: Duration = crate::spin::WINDOW;

    /// How many windows in a row must catch nothing before the thread stops looking.
    pub const GIVE_UP_AFTER: u32 = 2;

    /// The first probe's interval, in idle spells.
    const FIRST_PROBE: u32 = 16;

    /// The longest probe interval, in idle spells.
    const LAST_PROBE: u32 = 256;

    /// A window of `window`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let window = loopbridge::kit::HotWindow::with_window(Duration::from_micros(20));
    /// # drop(window);
    /// ```
    #[must_use]
    pub fn with_window(window: Duration) -> HotWindow {
        HotWindow {
            window,
            spell: Spell::Working,
            misses: 0,
            skipped: 0,
            probe_every: HotWindow::FIRST_PROBE,
        }
    }

    /// Notes that the thread found work (or that work arrived): the window starts again once
    /// it runs out. Work found while looking counts as a catch: looking pays.
    ///
    /// ```
    /// let mut window = loopbridge::kit::HotWindow::new();
    /// assert_eq!(window.look(|| false), Some(false));
    /// window.worked();
    /// ```
    pub fn worked(&mut self) {
        if let Spell::Looking(_) = self.spell {
            self.caught();
        }
        self.spell = Spell::Working;
    }

    /// Decides whether the idle spell that begins `now` looks.
    fn begin_spell(&mut self, now: Instant) {
        let looks = self.misses < HotWindow::GIVE_UP_AFTER || self.skipped + 1 >= self.probe_every;
        if looks {
            self.spell = Spell::Looking(now);
            self.skipped = 0;
        } else {
            self.spell = Spell::Sleeping;
            self.skipped += 1;
        }
    }

    fn caught(&mut self) {
        self.misses = 0;
        self.probe_every = HotWindow::FIRST_PROBE;
    }

    fn missed(&mut self) {
        if self.misses >= HotWindow::GIVE_UP_AFTER {
            // A probe that missed: probe less often.
            self.probe_every = (self.probe_every * 2).min(HotWindow::LAST_PROBE);
        }
        self.misses = self.misses.saturating_add(1);
        self.spell = Spell::Sleeping;
    }

    /// Where the spell stands: `Some(since)` while it should look on.
    fn looking(&mut self, now: Instant) -> Option<Instant> {
        if let Spell::Working = self.spell {
            self.begin_spell(now);
        }
        match self.spell {
            Spell::Looking(since) => Some(since),
            _ => None,
        }
    }

    /// Called when the thread finds no work: whether it should keep looking, because looking
    /// has been paying and the window since it last found some has not passed. Reads the
    /// clock while it looks.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut window = loopbridge::kit::HotWindow::with_window(Duration::ZERO);
    /// window.worked();
    /// assert!(!window.keep_looking());
    /// ```
    pub fn keep_looking(&mut self) -> bool {
        let now = Instant::now();
        let Some(since) = self.looking(now) else {
            return false;
        };
        if now - since < self.window {
            return true;
        }
        self.missed();
        false
    }

    /// Called when the thread finds no work: looks again with `found` in a short burst, until
    /// it returns `true` or [`BETWEEN_TURNS`](Self::BETWEEN_TURNS) has passed, unless the
    /// window has passed or looking does not pay, when it returns `None` (time to sleep; call
    /// [`worked`](Self::worked) when work wakes the thread). Between two bursts, let the thread's
    /// reactor turn (yield to it): a turn is a system call, far slower than a look, so a step
    /// that arrives meanwhile is picked up sooner. Reads the clock once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopbridge::kit::HotWindow;
    ///
    /// let mut window = HotWindow::new();
    /// assert_eq!(window.look(|| true), Some(true));
    /// let mut cold = HotWindow::with_window(Duration::ZERO);
    /// assert_eq!(cold.look(|| true), None);
    /// ```
    pub fn look(&mut self, found: impl Fn() -> bool) -> Option<bool> {
        let now = Instant::now();
        let since = self.looking(now)?;
        if now - since >= self.window {
            self.missed();
            return None;
        }
        let caught = crate::spin::until(&found, now, now + Self::BETWEEN_TURNS);
        if caught {
            self.caught();
            self.spell = Spell::Working;
        }
        Some(caught)
    }

    /// How long one burst of [`look`](Self::look) lasts: IO and timers wait at most this
    /// much longer than if the thread slept on its reactor.
    pub const BETWEEN_TURNS: Duration = crate::spin::BETWEEN_TURNS;
}

impl Default for HotWindow {
    fn default() -> HotWindow {
        HotWindow::new()
    }
}

#[cfg(all(test, not(loopbridge_loom)))]
mod tests {
    use std::{
        cell::RefCell,
        sync::{Arc, mpsc},
        thread,
        time::{Duration, Instant},
    };

    use super::{HotWindow, Threads, lock};

    /// A thread-local value whose destructor says it started, then waits to be released.
    struct Blocks {
        dropping: mpsc::Sender<()>,
        released: mpsc::Receiver<()>,
    }

    impl Drop for Blocks {
        fn drop(&mut self) {
            let _ = self.dropping.send(());
            let _ = self.released.recv_timeout(Duration::from_secs(30));
        }
    }

    std::thread_local! {
        static SLOW: RefCell<Option<Blocks>> = const { RefCell::new(None) };
    }

    /// A thread whose thread-local destructor still runs has not exited: `join` says so at its
    /// deadline instead of blocking on it, and reaps the thread once it is done. (It used to
    /// count a thread out when its body returned, then join it without a bound: a destructor
    /// that blocked held every shutdown past its grace.)
    #[test]
    fn join_never_waits_for_a_thread_locals_destructor() {
        let threads = Arc::new(Threads::new());
        let (release, released) = mpsc::channel();
        let (dropping_tx, dropping) = mpsc::channel();
        threads
            .spawn(
                thread::Builder::new().name("kit-slow-tls".into()),
                move || {
                    let blocks = Blocks {
                        dropping: dropping_tx,
                        released,
                    };
                    SLOW.with(|slot| *slot.borrow_mut() = Some(blocks));
                },
            )
            .unwrap();
        dropping
            .recv_timeout(Duration::from_secs(10))
            .expect("the body returned and the destructor began");
        // On a thread of its own, so that a join that blocks fails the test instead of
        // hanging it.
        let (joined_tx, joined) = mpsc::channel();
        let joiner = threads.clone();
        thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_millis(50);
            let _ = joined_tx.send((joiner.join(Some(deadline)), joiner.all_exited()));
        });
        let outcome = joined.recv_timeout(Duration::from_secs(10));
        release.send(()).unwrap();
        let (exited, all_exited) = outcome.expect("join blocked past its deadline");
        assert!(
            !exited,
            "the thread's destructor still runs: it has not exited"
        );
        assert!(!all_exited);
        assert!(threads.join(Some(Instant::now() + Duration::from_secs(10))));
        assert!(lock(&threads.handles).is_empty(), "the thread was reaped");
    }

    /// Spells in which the window passes without catching anything.
    fn miss(window: &mut HotWindow, how_long: Duration) {
        window.worked();
        assert_eq!(
            window.look(|| false),
            Some(false),
            "a window that pays looks"
        );
        thread::sleep(how_long * 2);
        assert_eq!(window.look(|| false), None, "the window has passed");
    }

    /// When looking keeps catching nothing (calls further apart than the window), the thread
    /// stops looking, and sleeps as soon as it runs out of work. (Before, it looked for the
    /// whole window after every step, however long the gaps.)
    #[test]
    fn a_window_that_catches_nothing_stops_looking() {
        let how_long = Duration::from_millis(1);
        let mut window = HotWindow::with_window(how_long);
        for _ in 0..HotWindow::GIVE_UP_AFTER {
            miss(&mut window, how_long);
        }
        window.worked();
        assert_eq!(window.look(|| true), None, "gave up: sleeps at once");
        window.worked();
        assert!(!window.keep_looking(), "gave up: sleeps at once");
    }

    /// A window that gave up probes now and then, less often while its probes miss, and a
    /// probe that catches a step restores looking at once.
    #[test]
    fn a_probe_that_catches_restores_looking() {
        let how_long = Duration::from_millis(1);
        let mut window = HotWindow::with_window(how_long);
        for _ in 0..HotWindow::GIVE_UP_AFTER {
            miss(&mut window, how_long);
        }
        // Spells until a probe (the thread looks, and finds what `found` says).
        let until_probe = |window: &mut HotWindow, found: bool| {
            let mut spells = 1;
            loop {
                window.worked();
                if let Some(caught) = window.look(|| found) {
                    assert_eq!(caught, found);
                    return spells;
                }
                spells += 1;
            }
        };
        assert_eq!(until_probe(&mut window, false), HotWindow::FIRST_PROBE);
        // That probe misses: the next comes half as often, and catches a step.
        thread::sleep(how_long * 2);
        assert_eq!(window.look(|| false), None);
        assert_eq!(until_probe(&mut window, true), 2 * HotWindow::FIRST_PROBE);
        // Looking pays again.
        for _ in 0..3 {
            window.worked();
            assert_eq!(
                window.look(|| true),
                Some(true),
                "looks again after every step"
            );
        }
    }
}
