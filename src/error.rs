//! The error type of every bridge operation.

use std::{error::Error, fmt, io};

/// Why a bridge call, spawn or join did not produce the future's output.
///
/// A panic inside the future is not an error: it is re-raised on the thread that waits for
/// the result, with its payload intact.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loopbridge::{Bridge, BridgeError};
///
/// let bridge = Bridge::new();
/// let err = bridge
///     .call_timeout(std::future::pending::<()>(), Duration::from_millis(10))
///     .unwrap_err();
/// assert!(err.is_timed_out());
/// assert_eq!(err.to_string(), "bridge call timed out");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// The deadline passed before the future completed. The future has been cancelled: it is
    /// dropped on its runtime as soon as the runtime can run it.
    TimedOut,
    /// The bridge was shut down, before the call or while it was in flight. A future that was
    /// in flight has been cancelled.
    Shutdown,
    /// The runtime factory failed, or a thread the bridge needed could not be started. Nothing
    /// was published; the next call tries again.
    Start(io::Error),
    /// A blocking call was made from a thread of the bridge's own runtime, and the bridge is
    /// configured to refuse such calls (see [`NestedPolicy`](crate::NestedPolicy)), or
    /// [`BridgeTask::join`](crate::BridgeTask::join) was called there. Use
    /// `bridge.spawn(fut)?.await` from async code on the bridge instead.
    Nested,
    /// The task was cancelled before it completed, or its runtime dropped it without running it;
    /// or a [`CancelToken`](crate::CancelToken) of the call's [`Scope`](crate::Scope) was
    /// cancelled.
    Cancelled,
    /// The runtime running this call stopped responding, failed its health probe and was
    /// retired. The call was abandoned so that its caller does not wait on a stuck thread; the
    /// next call runs on a fresh runtime. Also the error of a [`BridgeTask`] that a forked child
    /// joins or awaits, spawned in the parent on a runtime whose threads the child does not
    /// have.
    ///
    /// [`BridgeTask`]: crate::BridgeTask
    Retired,
    /// The bridge's runtime cannot do what was asked; the text says what. For example
    /// [`Bridge::call_local`](crate::Bridge::call_local) on a runtime without local
    /// tasks, such as a multi-thread tokio runtime.
    Unsupported(&'static str),
    /// The maker of a runtime-bound value ([`Bridge::try_bind`](crate::Bridge::try_bind))
    /// failed with this error, which [`source`](Error::source) returns (the `Display` text does
    /// not repeat it, so that a report that walks the chain, as `anyhow` does, says it once).
    /// Nothing was bound: the next call that needs the value runs the maker again.
    Make(Box<dyn Error + Send + Sync + 'static>),
    /// An interrupt check of the call's [`Scope`](crate::Scope) failed with this error, which
    /// [`source`](Error::source) returns: the call was cancelled, as at a timeout.
    Interrupted(Box<dyn Error + Send + Sync + 'static>),
}

impl BridgeError {
    /// Returns `true` if the deadline passed (see [`BridgeError::TimedOut`]).
    ///
    /// ```
    /// assert!(loopbridge::BridgeError::TimedOut.is_timed_out());
    /// ```
    #[must_use]
    pub fn is_timed_out(&self) -> bool {
        matches!(self, BridgeError::TimedOut)
    }

    /// Returns `true` if the bridge is shut down (see [`BridgeError::Shutdown`]).
    ///
    /// ```
    /// assert!(loopbridge::BridgeError::Shutdown.is_shutdown());
    /// ```
    #[must_use]
    pub fn is_shutdown(&self) -> bool {
        matches!(self, BridgeError::Shutdown)
    }

    /// Returns `true` if the runtime could not be started (see [`BridgeError::Start`]).
    ///
    /// ```
    /// let err = loopbridge::BridgeError::Start(std::io::Error::other("no threads"));
    /// assert!(err.is_start());
    /// ```
    #[must_use]
    pub fn is_start(&self) -> bool {
        matches!(self, BridgeError::Start(_))
    }

    /// Returns `true` for a refused nested call (see [`BridgeError::Nested`]).
    ///
    /// ```
    /// assert!(loopbridge::BridgeError::Nested.is_nested());
    /// ```
    #[must_use]
    pub fn is_nested(&self) -> bool {
        matches!(self, BridgeError::Nested)
    }

    /// Returns `true` if the task was cancelled (see [`BridgeError::Cancelled`]).
    ///
    /// ```
    /// assert!(loopbridge::BridgeError::Cancelled.is_cancelled());
    /// ```
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        matches!(self, BridgeError::Cancelled)
    }

    /// Returns `true` if the runtime cannot do what was asked (see
    /// [`BridgeError::Unsupported`]).
    ///
    /// ```
    /// assert!(loopbridge::BridgeError::Unsupported("local tasks").is_unsupported());
    /// ```
    #[must_use]
    pub fn is_unsupported(&self) -> bool {
        matches!(self, BridgeError::Unsupported(_))
    }

    /// Returns `true` if a runtime-bound value could not be made (see [`BridgeError::Make`]).
    ///
    /// ```
    /// let err = loopbridge::BridgeError::Make("connection refused".into());
    /// assert!(err.is_make());
    /// ```
    #[must_use]
    pub fn is_make(&self) -> bool {
        matches!(self, BridgeError::Make(_))
    }

    /// The `BridgeError` inside an [`io::Error`] made from one: the errors of
    /// [`BlockingReader`](crate::BlockingReader) and [`BlockingWriter`](crate::BlockingWriter)
    /// that the bridge caused (a timeout, a shutdown), as opposed to the I/O's own.
    ///
    /// ```
    /// use std::io;
    /// use loopbridge::BridgeError;
    ///
    /// let err = io::Error::from(BridgeError::TimedOut);
    /// assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    /// assert!(BridgeError::from_io(&err).is_some_and(BridgeError::is_timed_out));
    /// assert!(BridgeError::from_io(&io::Error::other("peer reset")).is_none());
    /// ```
    #[must_use]
    pub fn from_io(err: &io::Error) -> Option<&BridgeError> {
        err.get_ref()?.downcast_ref::<BridgeError>()
    }

    /// Returns `true` if an interrupt check of the call's scope stopped it (see
    /// [`BridgeError::Interrupted`]).
    ///
    /// ```
    /// let err = loopbridge::BridgeError::Interrupted("KeyboardInterrupt".into());
    /// assert!(err.is_interrupted());
    /// ```
    #[must_use]
    pub fn is_interrupted(&self) -> bool {
        matches!(self, BridgeError::Interrupted(_))
    }

    /// Returns `true` if the call's runtime was retired (see [`BridgeError::Retired`]).
    ///
    /// ```
    /// assert!(loopbridge::BridgeError::Retired.is_retired());
    /// ```
    #[must_use]
    pub fn is_retired(&self) -> bool {
        matches!(self, BridgeError::Retired)
    }
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::TimedOut => f.write_str("bridge call timed out"),
            BridgeError::Shutdown => f.write_str("bridge is shut down"),
            BridgeError::Start(_) => f.write_str("failed to start the bridge runtime"),
            BridgeError::Nested => f.write_str(
                "blocking bridge call from the bridge's own runtime thread was refused; \
                 await `bridge.spawn(..)` instead",
            ),
            BridgeError::Cancelled => f.write_str("bridge task was cancelled before it completed"),
            BridgeError::Retired => f.write_str(
                "bridge runtime stopped responding and was retired; the call was abandoned",
            ),
            BridgeError::Unsupported(what) => {
                write!(f, "the bridge's runtime does not support {what}")
            }
            BridgeError::Make(_) => f.write_str("failed to make a runtime-bound value"),
            BridgeError::Interrupted(_) => {
                f.write_str("bridge call was interrupted by its scope's check")
            }
        }
    }
}

impl Error for BridgeError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BridgeError::Start(e) => Some(e),
            BridgeError::Make(e) | BridgeError::Interrupted(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<BridgeError> for io::Error {
    /// Converts to an [`io::Error`] that carries the `BridgeError` (see
    /// [`BridgeError::from_io`]): [`TimedOut`](BridgeError::TimedOut) becomes
    /// [`io::ErrorKind::TimedOut`], a start error keeps its original error's kind, and
    /// everything else is [`io::ErrorKind::Other`].
    ///
    /// A cancelled call is `Other` too, never [`io::ErrorKind::Interrupted`]: `read_to_end`,
    /// `read_exact`, `read_line` and `write_all` retry `Interrupted` silently, so a cancelled
    /// read or write would be made again instead of reported.
    ///
    /// ```
    /// use std::io;
    /// use loopbridge::BridgeError;
    ///
    /// assert_eq!(io::Error::from(BridgeError::TimedOut).kind(), io::ErrorKind::TimedOut);
    /// assert_eq!(io::Error::from(BridgeError::Cancelled).kind(), io::ErrorKind::Other);
    /// ```
    fn from(err: BridgeError) -> io::Error {
        let kind = match &err {
            BridgeError::TimedOut => io::ErrorKind::TimedOut,
            BridgeError::Start(e) => return io::Error::new(e.kind(), err),
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// Why a generation was closed, failing the calls in flight on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    Shutdown,
    Retired,
}

impl From<Closed> for Abort {
    fn from(closed: Closed) -> Abort {
        match closed {
            Closed::Shutdown => Abort::Shutdown,
            Closed::Retired => Abort::Retired,
        }
    }
}

impl From<Closed> for BridgeError {
    fn from(closed: Closed) -> BridgeError {
        Abort::from(closed).into()
    }
}

/// Why the bridge failed a call that was in flight; cheap to copy into many result slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Abort {
    Shutdown,
    Retired,
    Cancelled,
}

impl From<Abort> for BridgeError {
    fn from(abort: Abort) -> BridgeError {
        match abort {
            Abort::Shutdown => BridgeError::Shutdown,
            Abort::Retired => BridgeError::Retired,
            Abort::Cancelled => BridgeError::Cancelled,
        }
    }
}
