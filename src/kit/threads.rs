//! [`Threads`]: a runtime's named threads, counted out as they exit (thread-locals
//! destroyed) and joined only once they have. An adapter starts its threads with it so that a
//! failed spawn leaves nothing behind, and joins them in its shutdown without ever waiting past
//! the grace for a thread that is stuck.

use std::{
    fmt, io,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread::{self, JoinHandle},
    time::Instant,
};

use super::{
    exit_latch::{ExitGuard, ExitLatch},
    lock::lock,
};

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

#[cfg(all(test, not(loopbridge_loom)))]
mod tests {
    use std::{
        cell::RefCell,
        sync::{Arc, mpsc},
        thread,
        time::{Duration, Instant},
    };

    use crate::kit::lock::lock;
    use crate::kit::threads::Threads;

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
}
