//! [`SmolBuilder`]: a smol runtime's threads (how many, their stack and names, hooks that run
//! on each as it starts and stops), and how it starts them: a runtime that cannot start them
//! all leaves none behind.

use std::{
    fmt, io,
    panic::{self, AssertUnwindSafe},
    sync::{Arc, atomic::AtomicBool},
    thread,
};

use concurrent_queue::ConcurrentQueue;
use event_listener::Event;

use crate::{
    job::{contain, drop_payload, panic_text},
    kit::{ThreadMark, Threads},
};

use super::{
    runtime::SmolRuntime,
    worker::{QUEUE, Shared, run},
};

/// Configures a [`SmolRuntime`]; from [`SmolRuntime::builder`].
///
/// # Examples
///
/// ```
/// use loopbridge::{Bridge, SmolRuntime};
///
/// let bridge = Bridge::with_runtime(|| {
///     SmolRuntime::builder()
///         .threads(2)
///         .stack_size(1 << 20)
///         .thread_name("loopbridge-db")
///         .on_thread_start(|| println!("a database thread starts"))
///         .build()
/// });
/// assert_eq!(bridge.call(async { 3 })?, 3);
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[derive(Clone)]
#[must_use = "a builder does nothing until `.build()` is called"]
pub struct SmolBuilder {
    threads: usize,
    stack_size: Option<usize>,
    name: String,
    on_start: Option<Hook>,
    on_stop: Option<Hook>,
}

/// A thread hook of a [`SmolBuilder`].
type Hook = Arc<dyn Fn() + Send + Sync + 'static>;

impl fmt::Debug for SmolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolBuilder")
            .field("threads", &self.threads)
            .field("stack_size", &self.stack_size)
            .field("thread_name", &self.name)
            .field("on_thread_start", &self.on_start.as_ref().map(|_| ".."))
            .field("on_thread_stop", &self.on_stop.as_ref().map(|_| ".."))
            .finish()
    }
}

impl SmolBuilder {
    /// One thread named `loopbridge-smol-N`, the default stack size, no hooks.
    pub(super) fn new() -> SmolBuilder {
        SmolBuilder {
            threads: 1,
            stack_size: None,
            name: "loopbridge-smol".into(),
            on_start: None,
            on_stop: None,
        }
    }

    /// Sets the number of executor threads (default 1; at least 1).
    ///
    /// ```
    /// let runtime = loopbridge::SmolRuntime::builder().threads(2).build()?;
    /// assert_eq!(runtime.threads(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn threads(mut self, threads: usize) -> SmolBuilder {
        self.threads = threads;
        self
    }

    /// Sets the stack size of each executor thread, in bytes (default: the standard library's).
    ///
    /// ```
    /// let runtime = loopbridge::SmolRuntime::builder().stack_size(4 << 20).build()?;
    /// # drop(runtime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> SmolBuilder {
        self.stack_size = Some(bytes);
        self
    }

    /// Names the executor threads `{prefix}-0`, `{prefix}-1`, … (default: `loopbridge-smol`).
    /// The OS keeps the first 15 bytes of a thread's name.
    ///
    /// ```
    /// let runtime = loopbridge::SmolRuntime::builder().thread_name("loopbridge-db").build()?;
    /// # drop(runtime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> SmolBuilder {
        self.name = prefix.into();
        self
    }

    /// Runs `hook` on each executor thread as it starts, before it runs any step: to set a
    /// thread's priority or CPU affinity, or to register it with a profiler.
    ///
    /// [`build`](SmolBuilder::build) returns once every thread has run it. A hook that panics
    /// fails the start: `build` returns an error that says so, and the threads already
    /// started are stopped and joined.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let runtime = loopbridge::SmolRuntime::builder()
    ///     .threads(2)
    ///     .on_thread_start(move || {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()?;
    /// assert_eq!(started.load(Ordering::SeqCst), 2);
    /// # drop(runtime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_start(mut self, hook: impl Fn() + Send + Sync + 'static) -> SmolBuilder {
        self.on_start = Some(Arc::new(hook));
        self
    }

    /// Runs `hook` on each executor thread as it stops, after its last step, once the runtime
    /// is shut down (or dropped). A panic in it is contained: the thread still exits.
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    /// use loopbridge::BridgeRuntime;
    ///
    /// let (stopped, stops) = mpsc::channel();
    /// let stopped = std::sync::Mutex::new(stopped);
    /// let runtime = loopbridge::SmolRuntime::builder()
    ///     .on_thread_stop(move || {
    ///         let _ = stopped.lock().unwrap().send(());
    ///     })
    ///     .build()?;
    /// assert!(runtime.shutdown(Duration::from_secs(5)));
    /// assert!(stops.try_recv().is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_thread_stop(mut self, hook: impl Fn() + Send + Sync + 'static) -> SmolBuilder {
        self.on_stop = Some(Arc::new(hook));
        self
    }

    /// Starts the threads: builds the runtime, as every builder of the ecosystem ends (tokio's
    /// `Builder::build`, [`BridgeBuilder::build`](crate::BridgeBuilder::build)).
    ///
    /// # Errors
    ///
    /// An [`io::ErrorKind::InvalidInput`] error for zero threads, or the error of a thread that
    /// could not be spawned. On error every thread already started has been stopped and
    /// joined: nothing is left behind.
    ///
    /// ```
    /// let runtime = loopbridge::SmolRuntime::builder().build()?;
    /// # drop(runtime);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn build(self) -> io::Result<SmolRuntime> {
        if self.threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SmolRuntime needs at least one executor thread; use SmolRuntime::start() \
                 for one or SmolRuntime::with_threads(n) with n >= 1",
            ));
        }
        let (jobs, incoming) = async_channel::bounded(QUEUE);
        let (local_jobs, local_incoming) = async_channel::unbounded();
        let shared = Arc::new(Shared {
            mark: ThreadMark::new(),
            threads: self.threads,
            stopping: AtomicBool::new(false),
            jobs,
            overflow: ConcurrentQueue::unbounded(),
            overflowed: Event::new(),
            local_jobs,
        });
        let threads = Threads::new();
        for index in 0..self.threads {
            let mut builder = thread::Builder::new().name(format!("{}-{index}", self.name));
            if let Some(bytes) = self.stack_size {
                builder = builder.stack_size(bytes);
            }
            let thread_shared = shared.clone();
            let thread_jobs = incoming.clone();
            let thread_local_jobs = (index == 0).then(|| local_incoming.clone());
            let on_stop = self.on_stop.clone();
            let serve = move || {
                run(thread_shared, thread_jobs, thread_local_jobs);
                if let Some(hook) = on_stop {
                    contain("a SmolRuntime thread's on_thread_stop hook", || hook());
                }
            };
            // A start hook runs before the thread serves, and is waited for: a hook that
            // fails, fails the start.
            let on_start = self.on_start.clone();
            let (ready, reported) = std::sync::mpsc::channel();
            let spawned = threads
                .spawn(builder, move || {
                    if let Some(hook) = on_start {
                        let started = panic::catch_unwind(AssertUnwindSafe(|| hook()));
                        let failed = started.is_err();
                        let _ = ready.send(started.map_err(|payload| {
                            let err = io::Error::other(format!(
                                "a SmolRuntime thread's on_thread_start hook panicked: {}",
                                panic_text(&*payload)
                            ));
                            drop_payload(payload);
                            err
                        }));
                        if failed {
                            return;
                        }
                    }
                    serve();
                })
                .and_then(|()| match self.on_start {
                    None => Ok(()),
                    Some(_) => reported.recv().unwrap_or_else(|_| {
                        Err(io::Error::other(
                            "a SmolRuntime thread ended before it started",
                        ))
                    }),
                });
            if let Err(err) = spawned {
                shared.begin_stop();
                threads.join(None);
                return Err(err);
            }
        }
        Ok(SmolRuntime { shared, threads })
    }

    /// The old name of [`build`](SmolBuilder::build).
    ///
    /// # Errors
    ///
    /// As for [`build`](SmolBuilder::build).
    #[deprecated(note = "renamed to `build`, as other builders end")]
    pub fn start(self) -> io::Result<SmolRuntime> {
        self.build()
    }
}

impl SmolRuntime {
    /// Starts a runtime with one executor thread. This is the default runtime of
    /// [`Bridge::new`](crate::Bridge::new).
    ///
    /// # Errors
    ///
    /// The error of the thread spawn, if it failed.
    ///
    /// ```
    /// let bridge = loopbridge::Bridge::with_runtime(loopbridge::SmolRuntime::start);
    /// # drop(bridge);
    /// ```
    pub fn start() -> io::Result<SmolRuntime> {
        SmolRuntime::builder().build()
    }

    /// Starts a runtime with `threads` executor threads.
    ///
    /// # Errors
    ///
    /// An [`io::ErrorKind::InvalidInput`] error if `threads` is zero; the error of a thread
    /// spawn that failed (every thread already started is then stopped and joined).
    ///
    /// ```
    /// use loopbridge::SmolRuntime;
    ///
    /// assert_eq!(SmolRuntime::with_threads(2)?.threads(), 2);
    /// assert_eq!(SmolRuntime::with_threads(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_threads(threads: usize) -> io::Result<SmolRuntime> {
        SmolRuntime::builder().threads(threads).build()
    }

    /// A [`SmolBuilder`] with one thread and the default stack size.
    ///
    /// ```
    /// let runtime = loopbridge::SmolRuntime::builder().threads(3).build()?;
    /// assert_eq!(runtime.threads(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> SmolBuilder {
        SmolBuilder::new()
    }
}
