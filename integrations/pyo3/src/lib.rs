//! [loopbridge] for Python extensions built with [PyO3]: a blocking call from Python into async
//! Rust code, on a persistent runtime, that releases the GIL, lets Ctrl-C through, and survives
//! `fork()` and the interpreter's exit.
//!
//! Extensions that call async Rust code (a database client, an object store, an HTTP client)
//! usually keep a tokio runtime in a static and call `block_on` with the GIL held. Their issue
//! trackers report the same failures again and again: Ctrl-C does nothing while a call is
//! blocked; other Python threads stall, or deadlock, because the GIL is held; a child of
//! `os.fork()` or `multiprocessing` hangs; the interpreter hangs or crashes at exit;
//! "Cannot start a runtime from within a runtime". This crate is the one call that avoids all
//! of them:
//!
//! ```no_run
//! use std::sync::LazyLock;
//! use std::time::Duration;
//! use loopbridge::Bridge;
//! use loopbridge_tokio::TokioRuntime;
//! use pyo3::prelude::*;
//!
//! static BRIDGE: LazyLock<Bridge> = LazyLock::new(|| {
//!     loopbridge_pyo3::bridge(Bridge::builder().runtime(TokioRuntime::current_thread))
//! });
//!
//! #[pyfunction]
//! fn fetch(py: Python<'_>, millis: u64) -> PyResult<u64> {
//!     loopbridge_pyo3::call(py, &BRIDGE, async move {
//!         tokio::time::sleep(Duration::from_millis(millis)).await;
//!         millis
//!     })
//! }
//! # fn main() {}
//! ```
//!
//! # What [`call`] takes care of
//!
//! - **The GIL is released** while the call is blocked: other Python threads run.
//! - **Ctrl-C cancels the call.** The blocked thread checks for signals every
//!   [`SIGNAL_CHECK_PERIOD`] (taking the GIL back only for the check); the exception a signal
//!   handler raises (`KeyboardInterrupt`, or the user's own) cancels the call and is returned
//!   as the call's `PyErr`. On a bridge made with [`bridge`], which confirms cancellation, the
//!   future has been dropped by then.
//! - **Errors are Python's**: a timeout is `TimeoutError`, every other bridge error a
//!   `RuntimeError` with its text, and a panic in the future pyo3's `PanicException`.
//! - **Nested calls never deadlock**: a Python callback run from a bridged future may call
//!   the extension again (a blocking call from the bridge's runtime runs on a one-off thread).
//! - **Fork**: the child of `os.fork()` or of `multiprocessing` with the `fork` start method
//!   gets a working bridge: loopbridge notices the fork and starts a fresh runtime there; nothing
//!   in the child touches the parent's threads. Use a tokio runtime for fork-heavy code:
//!   async-io's reactor, behind smol's timers and sockets, does not survive `fork()`.
//! - **Exit**: at interpreter exit (an `atexit` handler, registered on the first call) the
//!   bridges made with [`bridge`] are shut down, so their tasks in flight are cancelled while
//!   the interpreter can still drop what they hold; and a daemon thread still blocked in a call
//!   never comes back into Python, whose finalization has begun: it stays parked until the
//!   process ends, as a daemon thread blocked in C code does.
//!
//! Free-threaded CPython (3.13t) is not supported.
//!
//! # Streams and readers
//!
//! [`blocking`] runs any blocking bridge code the same way: an `iter`'s `next`, a `reader`'s
//! read. A Python iterator over a stream is a `#[pyclass]` with two methods:
//!
//! ```no_run
//! use loopbridge::BlockingStream;
//! use pyo3::prelude::*;
//!
//! type Lines = std::pin::Pin<Box<dyn futures_lite::Stream<Item = String> + Send>>;
//!
//! #[pyclass]
//! struct LineIter(BlockingStream<Lines>);
//!
//! #[pymethods]
//! impl LineIter {
//!     fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
//!         slf
//!     }
//!     fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> PyResult<Option<String>> {
//!         // `None` ends the Python iteration (StopIteration). Only the stream goes into the
//!         // GIL-free closure, not the Python reference to it.
//!         let lines = &mut slf.0;
//!         loopbridge_pyo3::blocking(py, || lines.next().transpose())
//!     }
//! }
//! # fn main() {}
//! ```
//!
//! [loopbridge]: https://docs.rs/loopbridge
//! [PyO3]: https://pyo3.rs

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::{
    any::Any,
    future::Future,
    io,
    panic::{self, AssertUnwindSafe},
    sync::{
        Mutex, Once, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use loopbridge::{Bridge, BridgeBuilder, BridgeError, Scope};
use pyo3::{
    exceptions::{PyRuntimeError, PyTimeoutError},
    panic::PanicException,
    prelude::*,
};

/// How often a blocked call checks for signals: the longest a Ctrl-C waits to be seen.
pub const SIGNAL_CHECK_PERIOD: Duration = Duration::from_millis(50);

/// How long a cancelled call waits for its future to be dropped, on a bridge made with
/// [`bridge`] (see `BridgeBuilder::confirm_cancel`).
pub const CONFIRM_GRACE: Duration = Duration::from_secs(1);

/// How long the exit handler waits for each bridge's threads.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// Set by the exit handler: from then on no thread comes back into Python from a call.
static EXITING: AtomicBool = AtomicBool::new(false);

/// The bridges shut down at exit.
static BRIDGES: Mutex<Vec<Bridge>> = Mutex::new(Vec::new());

/// Runs `future` on `bridge` and returns its output, with the GIL released while the call is
/// blocked and signals checked meanwhile (see the [crate docs](crate)).
///
/// # Errors
///
/// The exception a signal handler raised while the call was blocked (`KeyboardInterrupt`);
/// `RuntimeError` for a bridge error (a shutdown, a retirement, a runtime that failed to
/// start); `PanicException` if the future panicked.
///
/// # Examples
///
/// ```no_run
/// use loopbridge::Bridge;
/// use pyo3::prelude::*;
///
/// #[pyfunction]
/// fn answer(py: Python<'_>, bridge: PyRef<'_, MyBridge>) -> PyResult<u32> {
///     loopbridge_pyo3::call(py, &bridge.0, async { 42 })
/// }
///
/// #[pyclass]
/// struct MyBridge(Bridge);
/// # fn main() {}
/// ```
pub fn call<F>(py: Python<'_>, bridge: &Bridge, future: F) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    blocking(py, || bridge.call(future))
}

/// Like [`call`], but gives up at `timeout` with `TimeoutError`; the future is cancelled.
///
/// # Errors
///
/// `TimeoutError` at the deadline, and everything [`call`] returns.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use loopbridge::Bridge;
/// use pyo3::prelude::*;
///
/// fn slow(py: Python<'_>, bridge: &Bridge) -> PyResult<()> {
///     loopbridge_pyo3::call_timeout(py, bridge, std::future::pending(), Duration::from_secs(1))
/// }
/// ```
pub fn call_timeout<F>(
    py: Python<'_>,
    bridge: &Bridge,
    future: F,
    timeout: Duration,
) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    blocking(py, || bridge.call_timeout(future, timeout))
}

/// Runs `f`, blocking bridge code (calls, an `iter`'s `next`, a `reader`'s read), the way
/// [`call`] runs its call: with the GIL released, signals checked every
/// [`SIGNAL_CHECK_PERIOD`], and its error, or its panic, made a Python exception.
///
/// # Errors
///
/// As for [`call`]; an `io::Error` that is not a bridge's becomes Python's `OSError`.
///
/// # Examples
///
/// ```no_run
/// use std::io::Read;
/// use loopbridge::{BlockingReader, Bridge};
/// use pyo3::prelude::*;
///
/// fn read_some(py: Python<'_>, reader: &mut BlockingReader<async_io::Async<std::net::TcpStream>>) -> PyResult<Vec<u8>> {
///     let mut buf = vec![0; 4096];
///     let n = loopbridge_pyo3::blocking(py, || reader.read(&mut buf))?;
///     buf.truncate(n);
///     Ok(buf)
/// }
/// ```
pub fn blocking<T, E, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> Result<T, E> + Send,
    T: Send,
    E: IntoPyErr + Send,
{
    at_exit_once(py)?;
    let outcome = py.detach(move || {
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
            Scope::new()
                .check_every(SIGNAL_CHECK_PERIOD, check_signals)
                .run(f)
        }));
        if EXITING.load(Ordering::Acquire) {
            // The interpreter is finalizing: a thread that came back into it now would be
            // ended in the middle of Rust code. It stays here until the process ends.
            loop {
                std::thread::park();
            }
        }
        outcome
    });
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(err.into_py_err()),
        Err(payload) => Err(panic_exception(payload)),
    }
}

/// Makes `builder`'s bridge ready for Python: cancellation is confirmed (a call that a signal
/// interrupts returns once its future has been dropped, or after [`CONFIRM_GRACE`]), and the
/// bridge is shut down at interpreter exit.
///
/// # Examples
///
/// ```no_run
/// use std::sync::LazyLock;
/// use loopbridge::Bridge;
/// use loopbridge_tokio::TokioRuntime;
///
/// static BRIDGE: LazyLock<Bridge> = LazyLock::new(|| {
///     loopbridge_pyo3::bridge(Bridge::builder().runtime(TokioRuntime::current_thread))
/// });
/// ```
pub fn bridge(builder: BridgeBuilder) -> Bridge {
    let bridge = builder.confirm_cancel(CONFIRM_GRACE).build();
    BRIDGES
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(bridge.clone());
    bridge
}

/// An error of blocking bridge code, as a Python exception (see [`blocking`]).
pub trait IntoPyErr {
    /// The Python exception.
    fn into_py_err(self) -> PyErr;
}

impl IntoPyErr for BridgeError {
    /// `TimeoutError` for a timeout, the exception itself for a failed signal check, and
    /// `RuntimeError` with the error's text (and its source's) for the others.
    fn into_py_err(self) -> PyErr {
        match self {
            BridgeError::TimedOut => PyTimeoutError::new_err(self.to_string()),
            BridgeError::Interrupted(err) => match err.downcast::<PyErr>() {
                Ok(raised) => *raised,
                Err(other) => PyRuntimeError::new_err(other.to_string()),
            },
            err => {
                let text = match std::error::Error::source(&err) {
                    Some(source) => format!("{err}: {source}"),
                    None => err.to_string(),
                };
                PyRuntimeError::new_err(text)
            }
        }
    }
}

impl IntoPyErr for io::Error {
    /// The bridge's error inside it, as for [`BridgeError`]; otherwise Python's `OSError`.
    fn into_py_err(self) -> PyErr {
        if BridgeError::from_io(&self).is_some() {
            if let Some(inner) = self.into_inner() {
                if let Ok(bridge) = inner.downcast::<BridgeError>() {
                    return bridge.into_py_err();
                }
            }
            return PyRuntimeError::new_err("bridge I/O error");
        }
        PyErr::from(self)
    }
}

impl IntoPyErr for PyErr {
    fn into_py_err(self) -> PyErr {
        self
    }
}

/// The signal check of a blocked call: runs the interpreter's signal handlers, taking the GIL
/// for as long as that takes. Only the main thread runs them; on another thread, and once the
/// interpreter is exiting, this does nothing.
fn check_signals() -> PyResult<()> {
    if EXITING.load(Ordering::Acquire) {
        return Ok(());
    }
    Python::try_attach(|py| py.check_signals()).unwrap_or(Ok(()))
}

/// A panic of the future, as pyo3's `PanicException` with the panic's message.
fn panic_exception(payload: Box<dyn Any + Send>) -> PyErr {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a bridged future panicked".to_owned());
    PanicException::new_err(message)
}

/// Registers the exit handler with Python's `atexit`, once per process.
fn at_exit_once(py: Python<'_>) -> PyResult<()> {
    static REGISTERED: Once = Once::new();
    let mut result = Ok(());
    REGISTERED.call_once(|| {
        result = (|| {
            let handler = wrap_pyfunction!(loopbridge_at_exit, py)?;
            py.import("atexit")?.call_method1("register", (handler,))?;
            Ok(())
        })();
    });
    result
}

/// Run by `atexit`, while the interpreter is still whole: no thread comes back into Python
/// from a call after this, and the bridges made with [`bridge`] are shut down, so that their
/// tasks are cancelled while what they hold can still be dropped.
#[pyfunction]
fn loopbridge_at_exit(py: Python<'_>) {
    EXITING.store(true, Ordering::Release);
    let bridges = std::mem::take(&mut *BRIDGES.lock().unwrap_or_else(PoisonError::into_inner));
    py.detach(move || {
        for bridge in &bridges {
            bridge.shutdown_timeout(EXIT_GRACE);
        }
        loopbridge::shutdown_global();
    });
}
