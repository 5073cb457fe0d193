//! What both owned flavours share: a driver thread named `loopbridge-tokio` that builds the
//! runtime on itself, runs it until told to stop, and drops it there; stopped by dropping a
//! oneshot sender, and waited for within a grace.

use std::{
    fmt, io,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
        mpsc,
    },
    thread,
    time::Instant,
};

use loopbridge::kit::Threads;
use tokio::{runtime::Handle, sync::oneshot};

pub(crate) struct Driver {
    stopping: AtomicBool,
    /// Dropping the sender resolves the driver's stop signal.
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Threads,
}

impl Driver {
    /// Starts the driver thread running `body`, which builds the runtime, reports its handle
    /// (or the error that kept it from coming up) through `ready`, and runs it until the stop
    /// signal resolves. Returns once it has reported.
    pub(crate) fn start<B>(body: B) -> io::Result<(Driver, Handle)>
    where
        B: FnOnce(oneshot::Receiver<()>, mpsc::Sender<io::Result<Handle>>) + Send + 'static,
    {
        let (stop, stopped) = oneshot::channel();
        let thread = Threads::new();
        let handle = thread.spawn_ready(
            thread::Builder::new().name("loopbridge-tokio".into()),
            move |ready| body(stopped, ready),
        )?;
        Ok((
            Driver {
                stopping: AtomicBool::new(false),
                stop: Mutex::new(Some(stop)),
                thread,
            },
            handle,
        ))
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub(crate) fn begin_stop(&self) {
        self.stopping.store(true, Ordering::Release);
        drop(
            self.stop
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
    }

    /// Waits until the driver thread has exited (its runtime dropped), or until `deadline`.
    pub(crate) fn join(&self, deadline: Option<Instant>) -> bool {
        self.thread.join(deadline)
    }
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("stopping", &self.is_stopping())
            .field("thread", &self.thread)
            .finish()
    }
}
