//! Operations, what each returned, and the state a round's callers and controller share.

use std::{
    any::Any,
    fmt,
    panic::{self, AssertUnwindSafe},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use loopbridge::BridgeError;

use crate::support::Latch;

use super::{ledger::*, profile::*};

/// The future an operation runs. Every kind outputs its own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Kind {
    Ready,
    /// An `async_io` timer of this long, then the id.
    Timer(Duration),
    /// `std::future::pending`: never completes.
    Pending,
    /// Panics with [`StressPanic`], after a timer if any.
    Panic(Option<Duration>),
    /// Blocks its runtime thread on a latch until the controller releases it.
    Blocker,
}

impl Kind {
    /// Whether the future completes (or panics) by itself.
    pub(super) fn finite(self) -> bool {
        !matches!(self, Kind::Pending)
    }

    pub(super) fn can_complete(self) -> bool {
        matches!(self, Kind::Ready | Kind::Timer(_) | Kind::Blocker)
    }

    pub(super) fn can_panic(self) -> bool {
        matches!(self, Kind::Panic(_))
    }
}

/// What a caller (or the controller) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// `call` (ready futures only).
    Call,
    CallTimeout(Duration),
    /// `spawn` or `spawn_timeout`, then an action on the task.
    Spawn {
        timeout: Option<Duration>,
        then: Then,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Then {
    Join,
    JoinTimeout(Duration),
    /// `futures_lite::future::block_on(task)`: the `Future` impl of `BridgeTask`.
    Await,
    Cancel,
    Drop,
    Detach,
}

/// How an operation ended.
#[derive(Debug)]
pub(super) enum Got {
    Value(usize),
    /// A panic re-raised on the caller: the id in a [`StressPanic`] payload, or the text of a
    /// foreign payload.
    Panic(Result<usize, String>),
    Err(BridgeError),
    /// `spawn` itself failed.
    SpawnErr(BridgeError),
    /// Cancelled, dropped or detached: no result to see, by design.
    Released,
}

impl Got {
    pub(super) fn label(&self) -> String {
        match self {
            Got::Value(_) => "value".into(),
            Got::Panic(_) => "panic".into(),
            Got::Err(e) => format!("err:{}", error_label(e)),
            Got::SpawnErr(e) => format!("spawn_err:{}", error_label(e)),
            Got::Released => "released".into(),
        }
    }
}

pub(super) fn error_label(e: &BridgeError) -> &'static str {
    match e {
        BridgeError::TimedOut => "timed_out",
        BridgeError::Shutdown => "shutdown",
        BridgeError::Start(_) => "start",
        BridgeError::Nested => "nested",
        BridgeError::Cancelled => "cancelled",
        BridgeError::Retired => "retired",
        BridgeError::Unsupported(_) => "unsupported",
        BridgeError::Make(_) => "make",
        BridgeError::Interrupted(_) => "interrupted",
        // `BridgeError` is non-exhaustive: a kind added later is reported as unexpected by
        // the checks that compare labels.
        _ => "other",
    }
}

/// One operation's record.
pub(super) struct Record {
    pub(super) who: Who,
    pub(super) index: usize,
    pub(super) op: Op,
    pub(super) kind: Kind,
    pub(super) id: usize,
    /// Whether the bridge's shutdown had returned when the operation began.
    pub(super) after_shutdown: bool,
    /// How long the spawn took (spawn operations only).
    pub(super) spawn_elapsed: Duration,
    /// How long the blocking part took: the call, or the join or await.
    pub(super) elapsed: Duration,
    /// How long after the spawn returned its task's join or await ended.
    pub(super) since_spawn: Duration,
    pub(super) ended: Instant,
    pub(super) got: Got,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Who {
    Caller(usize),
    Controller,
    Shutter,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::Caller(i) => write!(f, "caller {i}"),
            Who::Controller => f.write_str("controller"),
            Who::Shutter => f.write_str("shutter"),
        }
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} op #{} {:?} of {:?} (future {}){}: {:?} after {:?}",
            self.who,
            self.index,
            self.op,
            self.kind,
            self.id,
            if self.after_shutdown {
                " after shutdown"
            } else {
                ""
            },
            self.got,
            self.elapsed
        )
    }
}

// ===== shared state of a round =====

pub(super) struct Round {
    pub(super) ledger: Arc<Ledger>,
    /// The latch that the callers' blockers wait on now; the controller swaps it.
    pub(super) latch: Mutex<Latch>,
    /// Every latch ever handed out, to release them all at the end.
    pub(super) latches: Mutex<Vec<Latch>>,
    /// Operations finished by all callers.
    pub(super) progress: AtomicUsize,
    pub(super) callers_done: AtomicUsize,
    pub(super) shutdown_began: Mutex<Option<Instant>>,
    pub(super) shutdown_returned: AtomicBool,
    /// What each caller is doing now, for the hang report.
    pub(super) doing: Vec<Mutex<String>>,
    /// What the round is doing now, for the hang report.
    pub(super) phase: Mutex<&'static str>,
}

impl Round {
    pub(super) fn new(callers: usize, ledger: Arc<Ledger>) -> Round {
        let first = Latch::with_patience(BLOCKER_SAFETY);
        Round {
            ledger,
            latch: Mutex::new(first.clone()),
            latches: Mutex::new(vec![first]),
            progress: AtomicUsize::new(0),
            callers_done: AtomicUsize::new(0),
            shutdown_began: Mutex::new(None),
            shutdown_returned: AtomicBool::new(false),
            doing: (0..callers).map(|_| Mutex::new(String::new())).collect(),
            phase: Mutex::new("starting"),
        }
    }

    pub(super) fn current_latch(&self) -> Latch {
        lock(&self.latch).clone()
    }

    /// Releases the current latch and puts a fresh one in its place.
    pub(super) fn rotate_latch(&self) {
        let fresh = Latch::with_patience(BLOCKER_SAFETY);
        lock(&self.latches).push(fresh.clone());
        let old = std::mem::replace(&mut *lock(&self.latch), fresh);
        old.release();
    }

    pub(super) fn new_latch(&self) -> Latch {
        let latch = Latch::with_patience(BLOCKER_SAFETY);
        lock(&self.latches).push(latch.clone());
        latch
    }

    pub(super) fn release_all(&self) {
        for latch in lock(&self.latches).iter() {
            latch.release();
        }
    }

    /// A future that blocks its runtime thread on `latch`, counting itself in `entered` first.
    pub(super) fn blocker(
        &self,
        latch: &Latch,
        entered: Option<Arc<AtomicUsize>>,
    ) -> (usize, Tracked) {
        let id = self.ledger.allocate();
        let latch = latch.clone();
        let inner = Box::pin(async move {
            if let Some(entered) = entered {
                entered.fetch_add(1, Ordering::AcqRel);
            }
            // Blocks the runtime thread: no await, a plain blocking wait.
            latch.wait();
            id
        });
        (id, self.track(id, inner))
    }

    pub(super) fn track(&self, id: usize, inner: BoxedFuture) -> Tracked {
        Tracked {
            id,
            ledger: self.ledger.clone(),
            inner,
            done: false,
        }
    }

    /// Makes the future for `kind`, tracked under a fresh id.
    pub(super) fn future(&self, kind: Kind) -> (usize, Tracked) {
        if kind == Kind::Blocker {
            return self.blocker(&self.current_latch(), None);
        }
        let ledger = self.ledger.clone();
        let id = ledger.allocate();
        let inner: BoxedFuture = match kind {
            Kind::Ready => Box::pin(async move { id }),
            Kind::Timer(after) => Box::pin(async move {
                async_io::Timer::after(after).await;
                id
            }),
            Kind::Pending => Box::pin(std::future::pending::<usize>()),
            Kind::Panic(after) => {
                let ledger = ledger.clone();
                Box::pin(async move {
                    if let Some(after) = after {
                        async_io::Timer::after(after).await;
                    }
                    ledger.panicked[id].store(true, Ordering::Release);
                    panic::panic_any(StressPanic(id))
                })
            }
            Kind::Blocker => unreachable!("made above"),
        };
        (id, self.track(id, inner))
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f`, turning a re-raised panic into [`Got::Panic`].
pub(super) fn catching(f: impl FnOnce() -> Result<usize, BridgeError>) -> Got {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Got::Value(value),
        Ok(Err(err)) => Got::Err(err),
        Err(payload) => Got::Panic(panic_id(payload)),
    }
}

pub(super) fn panic_id(payload: Box<dyn Any + Send>) -> Result<usize, String> {
    match payload.downcast::<StressPanic>() {
        Ok(p) => Ok(p.0),
        Err(payload) => Err(payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string payload>".into())),
    }
}
