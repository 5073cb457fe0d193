//! A seeded, randomized stress test with injected faults, for any [`BridgeRuntime`](crate::BridgeRuntime) adapter.
//!
//! Many caller threads hammer one bridge with random operations, each from its own PRNG
//! stream derived from one seed: calls of ready, timer, never-ready and panicking futures
//! under random timeouts; spawns that are then joined, joined with a timeout, awaited,
//! cancelled, dropped or detached; and futures that block their runtime thread on a latch
//! until a controller thread releases it, which wedges the runtime so that calls time out, the
//! health probe fails and the bridge retires the generation. The controller also wedges every
//! runtime thread at once (to force a retirement) and shuts the bridge down at a random point
//! while the callers keep going.
//!
//! Every future is wrapped in a `Tracked` that records its creation, its completion and its
//! drop in a ledger indexed by a unique id. After the run (after the shutdown, after every
//! latch is released, once the drops have settled) the harness checks that:
//!
//! - every future created was dropped, and none twice; none was polled after it completed;
//! - every operation returned within its timeout plus the probe timeout plus `GRACE`, and a
//!   `TimedOut` never came before its deadline;
//! - every operation got exactly one result, of a kind its future allows (a value only from
//!   a future that completed, and its own value, never another's; a panic only from a future
//!   that panicked, with its own payload; `TimedOut` only with a deadline; `Shutdown` only
//!   once the shutdown began, and always for a call or spawn that began after it returned;
//!   never `Start`, `Nested` or `Unsupported`);
//! - the outcomes reconcile exactly with [`Bridge::stats`] (see `check_stats`).
//!
//! A hang guard runs each round on a worker thread and fails with the seed if it does not end.
//!
//! Environment:
//!
//! - `LOOPBRIDGE_STRESS=long` selects the long profile (default: short, a few seconds);
//! - `LOOPBRIDGE_STRESS_SEED=<u64>` replays a seed (default: derived from the clock). The seed
//!   and the command that replays it are always printed to stderr.
//!
//! Timing is not replayed, only each thread's sequence of operations: a replay makes the same
//! choices, but the interleavings differ.
//!
//! One file, over the size the crate's other files keep to: it is one harness around one
//! round's shared state (profile, ledger, operations, callers, controller, checks), read top to
//! bottom, and test code.

use std::{
    any::Any,
    collections::BTreeMap,
    fmt,
    future::Future,
    io::{self, Write},
    panic::{self, AssertUnwindSafe},
    pin::Pin,
    sync::{
        Arc, Mutex, Once, PoisonError,
        atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    thread,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use super::{
    Suite,
    support::{Latch, bounded_reporting},
};
use crate::{Bridge, BridgeError, BridgeStats, BridgeTask};

/// How much longer than its timeout (plus the probe timeout) an operation may take before it
/// counts as a hang. Generous: a loaded 2-core machine must never flake.
pub(crate) const GRACE: Duration = Duration::from_secs(5);
/// The bridge's probe timeout: small, so that wedged runtimes are retired quickly.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_millis(50);
/// The bridge's shutdown grace: the shutdown often meets a wedged runtime and waits this long.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);
/// How long a blocker waits on its latch at most, in case a failed run never releases it.
const BLOCKER_SAFETY: Duration = Duration::from_secs(120);
/// How long the harness waits for every future to be dropped once the run is over.
const SETTLE: Duration = Duration::from_secs(30);
/// Futures the controller creates per round, beyond the callers' one per operation.
const CONTROLLER_IDS: usize = 256;

// ===== profiles and seeds =====

/// The size of a run.
#[derive(Clone, Debug)]
pub(crate) struct Profile {
    pub(crate) name: &'static str,
    /// Caller threads per round.
    pub(crate) callers: usize,
    /// Operations each caller makes per round.
    pub(crate) ops_per_caller: usize,
    /// Rounds, each on a fresh bridge with a seed derived from the run's seed.
    pub(crate) rounds: usize,
    /// How long one round may take before it counts as a hang.
    pub(crate) hang_limit: Duration,
}

impl Profile {
    /// A few seconds per adapter on a loaded 2-core machine.
    pub(crate) fn short() -> Profile {
        Profile {
            name: "short",
            callers: 32,
            ops_per_caller: 500,
            rounds: 1,
            hang_limit: Duration::from_secs(120),
        }
    }

    /// Minutes: more callers, many more operations, several rounds.
    pub(crate) fn long() -> Profile {
        Profile {
            name: "long",
            callers: 64,
            ops_per_caller: 1500,
            rounds: 3,
            hang_limit: Duration::from_secs(600),
        }
    }

    /// `LOOPBRIDGE_STRESS=long` selects [`Profile::long`]; anything else (or nothing) the
    /// short one.
    pub(crate) fn from_env() -> Profile {
        match std::env::var("LOOPBRIDGE_STRESS").as_deref() {
            Ok("long") => Profile::long(),
            _ => Profile::short(),
        }
    }
}

/// The seed from `LOOPBRIDGE_STRESS_SEED`, or one derived from the clock.
pub(crate) fn seed_from_env() -> u64 {
    match std::env::var("LOOPBRIDGE_STRESS_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("LOOPBRIDGE_STRESS_SEED={text:?} is not a u64")),
        Err(_) => {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            static SALT: AtomicU64 = AtomicU64::new(0);
            let salt = SALT.fetch_add(1, Ordering::Relaxed);
            Rng::new(nanos ^ (u64::from(std::process::id()) << 32) ^ salt).next_u64()
        }
    }
}

/// The operations' random choices: `fastrand`'s generator, seeded, with the few picks the
/// harness makes.
#[derive(Clone, Debug)]
pub(crate) struct Rng(fastrand::Rng);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(fastrand::Rng::with_seed(seed))
    }

    /// An independent stream for `index`, derived from `seed`.
    pub(crate) fn stream(seed: u64, index: u64) -> Rng {
        Rng::new(seed ^ index.wrapping_mul(0xA076_1D64_78BD_642F).rotate_left(17))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0.u64(..)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n)
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// `true` with probability `per_mille / 1000`.
    pub(crate) fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    /// Uniform in `lo..=hi` milliseconds, at microsecond resolution.
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(self.range(lo * 1000, hi * 1000))
    }

    /// An index picked with the given weights.
    pub(crate) fn weighted(&mut self, weights: &[u64]) -> usize {
        let mut pick = self.below(weights.iter().sum());
        for (i, &w) in weights.iter().enumerate() {
            if pick < w {
                return i;
            }
            pick -= w;
        }
        unreachable!("the pick is below the sum of the weights")
    }
}

// ===== the ledger of futures =====

/// What became of every future, by id.
pub(crate) struct Ledger {
    /// 0: never created; 1: created; 2: dropped; more: dropped more than once.
    state: Vec<AtomicU8>,
    /// How many times the future returned `Ready`.
    completed: Vec<AtomicU8>,
    /// Set just before the future panics on purpose.
    panicked: Vec<AtomicBool>,
    /// How many results (values or panics) carrying this id reached a caller.
    delivered: Vec<AtomicU8>,
    next: AtomicUsize,
    created: AtomicUsize,
    dropped: AtomicUsize,
    double_drops: AtomicUsize,
    polled_after_ready: AtomicUsize,
}

impl Ledger {
    fn new(capacity: usize) -> Ledger {
        Ledger {
            state: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            completed: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            panicked: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            delivered: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            double_drops: AtomicUsize::new(0),
            polled_after_ready: AtomicUsize::new(0),
        }
    }

    fn allocate(&self) -> usize {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(
            id < self.state.len(),
            "the ledger is full: raise its capacity"
        );
        self.state[id].store(1, Ordering::Relaxed);
        self.created.fetch_add(1, Ordering::AcqRel);
        id
    }

    fn on_drop(&self, id: usize) {
        let before = self.state[id].fetch_add(1, Ordering::AcqRel);
        if before == 1 {
            self.dropped.fetch_add(1, Ordering::AcqRel);
        } else {
            // Never panic here: this may run on a runtime thread, inside the bridge.
            self.double_drops.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn deliver(&self, id: usize) {
        self.delivered[id].fetch_add(1, Ordering::AcqRel);
    }

    fn created(&self) -> usize {
        self.created.load(Ordering::Acquire)
    }

    fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Acquire)
    }
}

type BoxedFuture = Pin<Box<dyn Future<Output = usize> + Send + 'static>>;

/// A future whose creation, completion and drop are recorded in the ledger under its id.
pub(crate) struct Tracked {
    id: usize,
    ledger: Arc<Ledger>,
    inner: BoxedFuture,
    done: bool,
}

impl Future for Tracked {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.done {
            self.ledger
                .polled_after_ready
                .fetch_add(1, Ordering::AcqRel);
            return Poll::Pending;
        }
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(value) => {
                self.done = true;
                self.ledger.completed[self.id].fetch_add(1, Ordering::AcqRel);
                Poll::Ready(value)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.on_drop(self.id);
    }
}

/// The payload of a deliberate panic, carrying the id of the future that panicked.
#[derive(Debug)]
pub(crate) struct StressPanic(pub usize);

/// Keeps deliberate panics ([`StressPanic`]) out of the output; every other panic still goes
/// to the previous hook.
fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<StressPanic>().is_none() {
                previous(info);
            }
        }));
    });
}

// ===== operations and their records =====

/// The future an operation runs. Every kind outputs its own id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
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
    fn finite(self) -> bool {
        !matches!(self, Kind::Pending)
    }

    fn can_complete(self) -> bool {
        matches!(self, Kind::Ready | Kind::Timer(_) | Kind::Blocker)
    }

    fn can_panic(self) -> bool {
        matches!(self, Kind::Panic(_))
    }
}

/// What a caller (or the controller) did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
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
enum Then {
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
enum Got {
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
    fn label(&self) -> String {
        match self {
            Got::Value(_) => "value".into(),
            Got::Panic(_) => "panic".into(),
            Got::Err(e) => format!("err:{}", error_label(e)),
            Got::SpawnErr(e) => format!("spawn_err:{}", error_label(e)),
            Got::Released => "released".into(),
        }
    }
}

fn error_label(e: &BridgeError) -> &'static str {
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
    }
}

/// One operation's record.
struct Record {
    who: Who,
    index: usize,
    op: Op,
    kind: Kind,
    id: usize,
    /// Whether the bridge's shutdown had returned when the operation began.
    after_shutdown: bool,
    /// How long the spawn took (spawn operations only).
    spawn_elapsed: Duration,
    /// How long the blocking part took: the call, or the join or await.
    elapsed: Duration,
    /// How long after the spawn returned its task's join or await ended.
    since_spawn: Duration,
    ended: Instant,
    got: Got,
}

#[derive(Clone, Copy, Debug)]
enum Who {
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

struct Round {
    ledger: Arc<Ledger>,
    /// The latch that the callers' blockers wait on now; the controller swaps it.
    latch: Mutex<Latch>,
    /// Every latch ever handed out, to release them all at the end.
    latches: Mutex<Vec<Latch>>,
    /// Operations finished by all callers.
    progress: AtomicUsize,
    callers_done: AtomicUsize,
    shutdown_began: Mutex<Option<Instant>>,
    shutdown_returned: AtomicBool,
    /// What each caller is doing now, for the hang report.
    doing: Vec<Mutex<String>>,
    /// What the round is doing now, for the hang report.
    phase: Mutex<&'static str>,
}

impl Round {
    fn new(callers: usize, ledger: Arc<Ledger>) -> Round {
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

    fn current_latch(&self) -> Latch {
        lock(&self.latch).clone()
    }

    /// Releases the current latch and puts a fresh one in its place.
    fn rotate_latch(&self) {
        let fresh = Latch::with_patience(BLOCKER_SAFETY);
        lock(&self.latches).push(fresh.clone());
        let old = std::mem::replace(&mut *lock(&self.latch), fresh);
        old.release();
    }

    fn new_latch(&self) -> Latch {
        let latch = Latch::with_patience(BLOCKER_SAFETY);
        lock(&self.latches).push(latch.clone());
        latch
    }

    fn release_all(&self) {
        for latch in lock(&self.latches).iter() {
            latch.release();
        }
    }

    /// A future that blocks its runtime thread on `latch`, counting itself in `entered` first.
    fn blocker(&self, latch: &Latch, entered: Option<Arc<AtomicUsize>>) -> (usize, Tracked) {
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

    fn track(&self, id: usize, inner: BoxedFuture) -> Tracked {
        Tracked {
            id,
            ledger: self.ledger.clone(),
            inner,
            done: false,
        }
    }

    /// Makes the future for `kind`, tracked under a fresh id.
    fn future(&self, kind: Kind) -> (usize, Tracked) {
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

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f`, turning a re-raised panic into [`Got::Panic`].
fn catching(f: impl FnOnce() -> Result<usize, BridgeError>) -> Got {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => Got::Value(value),
        Ok(Err(err)) => Got::Err(err),
        Err(payload) => Got::Panic(panic_id(payload)),
    }
}

fn panic_id(payload: Box<dyn Any + Send>) -> Result<usize, String> {
    match payload.downcast::<StressPanic>() {
        Ok(p) => Ok(p.0),
        Err(payload) => Err(payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "<non-string payload>".into())),
    }
}

// ===== callers =====

/// Picks a caller's next operation.
fn pick(rng: &mut Rng) -> (Op, Kind) {
    let timeout = |rng: &mut Rng| rng.millis(1, 50);
    let timer = |rng: &mut Rng| rng.millis(0, 5);
    // Weights per thousand.
    match rng.weighted(&[70, 30, 80, 170, 80, 60, 6, 504]) {
        0 => (Op::Call, Kind::Ready),
        1 => (Op::Call, Kind::Panic(None)),
        2 => (Op::CallTimeout(timeout(rng)), Kind::Ready),
        3 => (Op::CallTimeout(timeout(rng)), Kind::Timer(timer(rng))),
        4 => (Op::CallTimeout(timeout(rng)), Kind::Pending),
        5 => {
            let after = rng.chance(500).then(|| timer(rng));
            (Op::CallTimeout(timeout(rng)), Kind::Panic(after))
        }
        6 => (Op::CallTimeout(timeout(rng)), Kind::Blocker),
        _ => {
            let kind = match rng.weighted(&[25, 35, 25, 15]) {
                0 => Kind::Ready,
                1 => Kind::Timer(timer(rng)),
                2 => Kind::Pending,
                _ => Kind::Panic(rng.chance(500).then(|| timer(rng))),
            };
            let timeout = rng.chance(500).then(|| timeout(rng));
            // An unbounded wait only for a task that ends by itself or by its own deadline.
            let bounded = kind.finite() || timeout.is_some();
            let then = match rng.weighted(&[
                if bounded { 200 } else { 0 },
                250,
                if bounded { 100 } else { 0 },
                150,
                150,
                150,
            ]) {
                0 => Then::Join,
                1 => Then::JoinTimeout(rng.millis(1, 50)),
                2 => Then::Await,
                3 => Then::Cancel,
                4 => Then::Drop,
                _ => Then::Detach,
            };
            (Op::Spawn { timeout, then }, kind)
        }
    }
}

/// One caller's operations.
fn caller(index: usize, ops: usize, seed: u64, bridge: Bridge, round: Arc<Round>) -> Vec<Record> {
    // Counts this caller done however it ends, a panic included, so that the controller
    // threads stop and the failure is reported rather than hidden behind a hang.
    struct Done<'a>(&'a Round);
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.0.callers_done.fetch_add(1, Ordering::AcqRel);
        }
    }
    let _done = Done(&round);
    let mut rng = Rng::stream(seed, index as u64 + 1);
    let mut records = Vec::with_capacity(ops);
    for op_index in 0..ops {
        let (op, kind) = pick(&mut rng);
        // A short pause between a spawn and what follows, sometimes, so that tasks get to run.
        let pause = rng.chance(300).then(|| rng.millis(0, 2));
        *lock(&round.doing[index]) = format!("op #{op_index}: {op:?} of {kind:?}");
        let record = run_op(
            &bridge,
            &round,
            Who::Caller(index),
            op_index,
            op,
            kind,
            pause,
        );
        records.push(record);
        round.progress.fetch_add(1, Ordering::AcqRel);
    }
    *lock(&round.doing[index]) = "done".into();
    records
}

fn run_op(
    bridge: &Bridge,
    round: &Round,
    who: Who,
    index: usize,
    op: Op,
    kind: Kind,
    pause: Option<Duration>,
) -> Record {
    let after_shutdown = round.shutdown_returned.load(Ordering::Acquire);
    let (id, future) = round.future(kind);
    let started = Instant::now();
    let mut spawn_elapsed = Duration::ZERO;
    let mut since_spawn = Duration::ZERO;
    let mut began = started;
    let got = match op {
        Op::Call => catching(|| bridge.call(future)),
        Op::CallTimeout(timeout) => catching(|| bridge.call_timeout(future, timeout)),
        Op::Spawn { timeout, then } => {
            let spawned = match timeout {
                Some(timeout) => bridge.spawn_timeout(future, timeout),
                None => bridge.spawn(future),
            };
            let spawned_at = Instant::now();
            spawn_elapsed = spawned_at - started;
            match spawned {
                Err(err) => Got::SpawnErr(err),
                Ok(task) => {
                    if let Some(pause) = pause {
                        thread::sleep(pause);
                    }
                    began = Instant::now();
                    let got = act(task, then);
                    since_spawn = spawned_at.elapsed();
                    got
                }
            }
        }
    };
    let ended = Instant::now();
    if let Got::Value(v) | Got::Panic(Ok(v)) = got {
        round.ledger.deliver(v);
    }
    Record {
        who,
        index,
        op,
        kind,
        id,
        after_shutdown,
        spawn_elapsed,
        elapsed: ended - began,
        since_spawn,
        ended,
        got,
    }
}

fn act(task: BridgeTask<usize>, then: Then) -> Got {
    match then {
        Then::Join => catching(|| task.join()),
        Then::JoinTimeout(timeout) => catching(|| task.join_timeout(timeout)),
        Then::Await => catching(|| futures_lite::future::block_on(task)),
        Then::Cancel => {
            task.cancel();
            Got::Released
        }
        Then::Drop => {
            drop(task);
            Got::Released
        }
        Then::Detach => {
            task.detach();
            Got::Released
        }
    }
}

// ===== the controller =====

#[derive(Default)]
struct ControllerReport {
    records: Vec<Record>,
    /// Every runtime thread was seen blocked by the forced wedge, and a timed call followed.
    wedge_entered: bool,
    wedge_attempts: usize,
    /// When that timed call returned: a retirement is due if it was before the shutdown.
    wedge_call_ended: Option<Instant>,
    rotations: usize,
}

/// Rotates the callers' latch (releasing the blockers that wait on it) and wedges every
/// runtime thread once, at a random point.
fn wedger(
    threads: usize,
    total_ops: usize,
    mut rng: Rng,
    bridge: Bridge,
    round: Arc<Round>,
    callers: usize,
) -> ControllerReport {
    let mut report = ControllerReport::default();
    let wedge_at = total_ops * rng.range(5, 30) as usize / 100;
    let mut wedged = false;
    let mut rotate_at = Instant::now() + rng.millis(20, 120);
    loop {
        // Read first: once every caller is done, `progress` is complete. Wait for the shutdown
        // too: callers race through their last operations once it begins, and releasing every
        // latch then would free the threads the shutter blocked before the shutdown ends.
        let done = round.callers_done.load(Ordering::Acquire) == callers
            && round.shutdown_returned.load(Ordering::Acquire);
        let progress = round.progress.load(Ordering::Acquire);
        if !wedged && progress >= wedge_at {
            // A few attempts: a blocker may land on a generation that is retired before it
            // runs (callers' blockers and timeouts retire generations all the time).
            wedged = true;
            while report.wedge_attempts < 10 && lock(&round.shutdown_began).is_none() {
                report.wedge_attempts += 1;
                // Free the threads that callers' blockers hold, so that ours get them all.
                round.rotate_latch();
                if forced_wedge(threads, &bridge, &round, &mut rng, &mut report) {
                    report.wedge_entered = true;
                    break;
                }
            }
        }
        if done {
            break;
        }
        if Instant::now() >= rotate_at {
            round.rotate_latch();
            report.rotations += 1;
            rotate_at = Instant::now() + rng.millis(20, 120);
        }
        thread::sleep(rng.millis(1, 5));
    }
    round.release_all();
    report
}

/// Shuts the bridge down at a random point while the callers keep going; half the time with
/// every runtime thread blocked, so that the shutdown gives up on them after its grace and
/// leaves them to exit once released.
fn shutter(
    threads: usize,
    total_ops: usize,
    mut rng: Rng,
    bridge: Bridge,
    round: Arc<Round>,
    callers: usize,
) -> ShutterReport {
    let mut report = ShutterReport::default();
    let shutdown_at = total_ops * rng.range(55, 95) as usize / 100;
    loop {
        let done = round.callers_done.load(Ordering::Acquire) == callers;
        if done || round.progress.load(Ordering::Acquire) >= shutdown_at {
            break;
        }
        thread::sleep(Duration::from_micros(500));
    }
    let wedge = rng.chance(500).then(|| {
        round.rotate_latch();
        Wedge::start(threads, &bridge, &round, Duration::from_millis(500))
    });
    report.wedged = wedge.as_ref().is_some_and(|w| w.all_in);
    let began = Instant::now();
    *lock(&round.shutdown_began) = Some(began);
    report.all_exited = bridge.shutdown_timeout(SHUTDOWN_GRACE);
    report.took = began.elapsed();
    round.shutdown_returned.store(true, Ordering::Release);
    if let Some(wedge) = wedge {
        thread::sleep(rng.millis(0, 20));
        wedge.finish(&round, Who::Shutter, &mut report.records);
    }
    report
}

#[derive(Default)]
struct ShutterReport {
    records: Vec<Record>,
    /// Every runtime thread was blocked when the shutdown began.
    wedged: bool,
    took: Duration,
    all_exited: bool,
}

/// A blocker task, spawned or not.
struct Blocking {
    id: usize,
    started: Instant,
    spawn_elapsed: Duration,
    task: Result<BridgeTask<usize>, BridgeError>,
}

/// A blocker spawned for each runtime thread, on a latch of their own.
struct Wedge {
    latch: Latch,
    tasks: Vec<Blocking>,
    /// Every blocker was seen blocking its thread.
    all_in: bool,
}

impl Wedge {
    /// Spawns the blockers and waits until every one of them is blocking, or one failed before
    /// it got in (its generation was retired or shut down), or `patience` passed.
    fn start(threads: usize, bridge: &Bridge, round: &Round, patience: Duration) -> Wedge {
        let latch = round.new_latch();
        let entered = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..threads {
            let (id, future) = round.blocker(&latch, Some(entered.clone()));
            let started = Instant::now();
            let spawned = bridge.spawn(future);
            tasks.push(Blocking {
                id,
                started,
                spawn_elapsed: started.elapsed(),
                task: spawned,
            });
        }
        let deadline = Instant::now() + patience;
        while entered.load(Ordering::Acquire) < threads
            && Instant::now() < deadline
            && !tasks
                .iter()
                .any(|b| b.task.as_ref().map_or(true, BridgeTask::is_finished))
        {
            thread::sleep(Duration::from_millis(1));
        }
        let all_in = entered.load(Ordering::Acquire) == threads;
        Wedge {
            latch,
            tasks,
            all_in,
        }
    }

    /// Releases the blockers and joins them, recording the results.
    fn finish(self, round: &Round, who: Who, records: &mut Vec<Record>) {
        self.latch.release();
        for Blocking {
            id,
            started,
            spawn_elapsed,
            task: spawned,
        } in self.tasks
        {
            let index = records.len();
            let timeout = GRACE;
            let began = Instant::now();
            let got = match spawned {
                Err(err) => Got::SpawnErr(err),
                Ok(task) => catching(|| task.join_timeout(timeout)),
            };
            let ended = Instant::now();
            if let Got::Value(v) | Got::Panic(Ok(v)) = got {
                round.ledger.deliver(v);
            }
            records.push(Record {
                who,
                index,
                op: Op::Spawn {
                    timeout: None,
                    then: Then::JoinTimeout(timeout),
                },
                kind: Kind::Blocker,
                id,
                after_shutdown: false,
                spawn_elapsed,
                elapsed: ended - began,
                since_spawn: ended - started,
                ended,
                got,
            });
        }
    }
}

/// Blocks every runtime thread, then makes a timed call, which must time out and retire the
/// generation (or find it retired already), and releases them. Returns whether every thread
/// was seen blocked.
fn forced_wedge(
    threads: usize,
    bridge: &Bridge,
    round: &Round,
    rng: &mut Rng,
    report: &mut ControllerReport,
) -> bool {
    let wedge = Wedge::start(threads, bridge, round, Duration::from_secs(2));
    let all_in = wedge.all_in;
    if all_in {
        let index = report.records.len();
        let record = run_op(
            bridge,
            round,
            Who::Controller,
            index,
            Op::CallTimeout(Duration::from_millis(20)),
            Kind::Ready,
            None,
        );
        report.wedge_call_ended = Some(record.ended);
        report.records.push(record);
    }
    thread::sleep(rng.millis(5, 30));
    wedge.finish(round, Who::Controller, &mut report.records);
    all_in
}

// ===== the run =====

/// Runs the stress test on bridges of `suite`'s adapter (the forced wedge blocks as many
/// threads as the suite says the runtime has).
///
/// `name` names the test function, for the replay command.
///
/// # Panics
///
/// With the seed and the replay command, on any failed check or a hang.
///
/// ```no_run
/// use loopbridge::{SmolRuntime, conformance::{Suite, stress}};
///
/// #[test]
/// fn smol_one_thread() {
///     stress::run("smol_one_thread", &Suite::new(SmolRuntime::start));
/// }
/// # fn main() {}
/// ```
pub fn run(name: &str, suite: &Suite) {
    quiet_deliberate_panics();
    let profile = Profile::from_env();
    let seed = seed_from_env();
    let replay = format!(
        "LOOPBRIDGE_STRESS_SEED={seed}{} cargo test -p {} --test stress {name}",
        if profile.name == "long" {
            " LOOPBRIDGE_STRESS=long"
        } else {
            ""
        },
        // Set by cargo for the test binary it runs: the package whose test this is.
        std::env::var("CARGO_PKG_NAME").unwrap_or_else(|_| "<package>".into()),
    );
    // Straight to stderr, past the test harness's capture: the seed is always in the log.
    let _ = writeln!(
        io::stderr(),
        "stress[{name}]: seed={seed} profile={} ({} callers x {} ops x {} rounds); replay: {replay}",
        profile.name,
        profile.callers,
        profile.ops_per_caller,
        profile.rounds
    );
    let started = Instant::now();
    for r in 0..profile.rounds {
        let round_seed = Rng::stream(seed, 1_000_000 + r as u64).next_u64();
        let summary = guarded_round(name, &profile, suite, round_seed, &replay);
        let _ = writeln!(
            io::stderr(),
            "stress[{name}]: round {}/{} ok in {:.2?}: {summary}",
            r + 1,
            profile.rounds,
            started.elapsed()
        );
    }
}

/// One round on a worker thread, failing with the seed if it does not end in time.
fn guarded_round(name: &str, profile: &Profile, suite: &Suite, seed: u64, replay: &str) -> String {
    let ledger = Arc::new(Ledger::new(
        profile.callers * profile.ops_per_caller + CONTROLLER_IDS,
    ));
    let round = Arc::new(Round::new(profile.callers, ledger));
    let what = format!("stress[{name}] round (seed {seed})");
    let on_hang = {
        let (round, replay) = (round.clone(), replay.to_owned());
        move || {
            round.release_all();
            let doing: Vec<String> = round
                .doing
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    let d = lock(d);
                    (d.as_str() != "done").then(|| format!("caller {i}: {d}"))
                })
                .collect();
            format!(
                "A hang while {}. progress {} ops, shutdown returned: {}, futures created {} \
                 dropped {}; callers still running: {doing:#?}\nreplay: {replay}",
                *lock(&round.phase),
                round.progress.load(Ordering::Acquire),
                round.shutdown_returned.load(Ordering::Acquire),
                round.ledger.created(),
                round.ledger.dropped(),
            )
        }
    };
    let (profile_here, suite_here) = (profile.clone(), suite.clone());
    let outcome = bounded_reporting(&what, profile.hang_limit, on_hang, move || {
        panic::catch_unwind(AssertUnwindSafe(|| {
            one_round(&profile_here, &suite_here, seed, round)
        }))
    });
    match outcome {
        Ok(Ok(summary)) => summary,
        Ok(Err(failures)) => panic!(
            "stress[{name}]: {} failed check(s) (round seed {seed}):\n{failures}\nreplay: {replay}",
            failures.lines().filter(|l| l.starts_with("- ")).count()
        ),
        Err(payload) => {
            let text = panic_id(payload).err().unwrap_or_default();
            panic!(
                "stress[{name}]: the round panicked (round seed {seed}): {text}\nreplay: {replay}"
            )
        }
    }
}

/// Runs one round and checks it; returns a summary, or the failures.
fn one_round(
    profile: &Profile,
    suite: &Suite,
    seed: u64,
    round: Arc<Round>,
) -> Result<String, String> {
    let started = Instant::now();
    let threads = suite.thread_count();
    let bridge = suite
        .builder()
        .probe_timeout(PROBE_TIMEOUT)
        .shutdown_grace(SHUTDOWN_GRACE)
        .build();
    let total_ops = profile.callers * profile.ops_per_caller;
    let callers: Vec<_> = (0..profile.callers)
        .map(|i| {
            let bridge = bridge.clone();
            let round = round.clone();
            let ops = profile.ops_per_caller;
            thread::Builder::new()
                .name(format!("stress-caller-{i}"))
                .spawn(move || caller(i, ops, seed, bridge, round))
                .expect("spawn a caller")
        })
        .collect();
    let wedge = {
        let bridge = bridge.clone();
        let round = round.clone();
        let callers = profile.callers;
        let rng = Rng::stream(seed, 0);
        thread::Builder::new()
            .name("stress-wedger".into())
            .spawn(move || wedger(threads, total_ops, rng, bridge, round, callers))
            .expect("spawn the wedger")
    };
    let shut = {
        let bridge = bridge.clone();
        let round = round.clone();
        let callers = profile.callers;
        let rng = Rng::stream(seed, u64::MAX);
        thread::Builder::new()
            .name("stress-shutter".into())
            .spawn(move || shutter(threads, total_ops, rng, bridge, round, callers))
            .expect("spawn the shutter")
    };
    *lock(&round.phase) = "running the operations";
    let mut failures = Vec::new();
    let mut records = Vec::with_capacity(total_ops + CONTROLLER_IDS);
    for (i, handle) in callers.into_iter().enumerate() {
        match handle.join() {
            Ok(mine) => {
                if mine.len() != profile.ops_per_caller {
                    failures.push(format!(
                        "caller {i} recorded {} results for {} operations",
                        mine.len(),
                        profile.ops_per_caller
                    ));
                }
                records.extend(mine);
            }
            Err(payload) => failures.push(format!(
                "caller {i} panicked outside an operation: {:?}",
                panic_id(payload)
            )),
        }
    }
    *lock(&round.phase) = "waiting for the controller threads";
    let joined = (wedge.join(), shut.join());
    let (mut report, mut shutdown) = match joined {
        (Ok(report), Ok(shutdown)) => (report, shutdown),
        (wedged, shut) => {
            round.release_all();
            let why = |r: Result<(), Box<dyn Any + Send>>| r.err().map(panic_id);
            return Err(format!(
                "- a controller thread panicked: wedger {:?}, shutter {:?}",
                why(wedged.map(drop)),
                why(shut.map(drop))
            ));
        }
    };
    let ops_elapsed = started.elapsed();
    records.append(&mut report.records);
    records.append(&mut shutdown.records);
    round.release_all();

    // Every future must be dropped once the runtimes have let go of them: poll, do not sleep.
    *lock(&round.phase) = "waiting for every future to be dropped";
    let ledger = &round.ledger;
    let settle_began = Instant::now();
    while ledger.dropped() < ledger.created() && settle_began.elapsed() < SETTLE {
        thread::sleep(Duration::from_millis(2));
    }
    let settled_in = settle_began.elapsed();

    // With every thread released, a second shutdown sees the last generation's threads exit.
    *lock(&round.phase) = "shutting down again";
    let second_shutdown = bridge.shutdown_timeout(GRACE);
    let stats = bridge.stats();
    let shutdown_began = (*lock(&round.shutdown_began)).expect("the controller shut down");

    check_ledger(ledger, &records, &mut failures);
    check_records(&records, shutdown_began, &mut failures);
    // The forced wedge is due a retirement only if its timed call ended before the shutdown
    // began: a shutdown closes the generation first, and a probe skips a closed generation.
    let wedge_before_shutdown =
        report.wedge_entered && report.wedge_call_ended.is_some_and(|t| t < shutdown_began);
    check_stats(&stats, &records, wedge_before_shutdown, &mut failures);
    if shutdown.took > SHUTDOWN_GRACE + GRACE {
        failures.push(format!(
            "shutdown took {:?}, past its grace {SHUTDOWN_GRACE:?} plus {GRACE:?}",
            shutdown.took
        ));
    }
    if !second_shutdown {
        failures.push(
            "a second shutdown, after every blocker was released, did not see the runtime's \
             threads exit within the grace period"
                .into(),
        );
    }
    if !bridge.is_shutdown() {
        failures.push("the bridge does not report itself shut down".into());
    }
    *lock(&round.phase) = "dropping the bridge";
    drop(bridge);

    let summary = format!(
        "{} ops in {ops_elapsed:.2?} on {threads} runtime thread(s); futures created {} \
         dropped {} (settled in {settled_in:.2?}); {stats:?}; forced wedge before shutdown: \
         {wedge_before_shutdown} (attempts {}); shutdown with every thread blocked: {}, took \
         {:.2?}, threads exited: {}; latch rotations {}; {}",
        records.len(),
        ledger.created(),
        ledger.dropped(),
        report.wedge_attempts,
        shutdown.wedged,
        shutdown.took,
        shutdown.all_exited,
        report.rotations,
        outcomes(&records),
    );
    if failures.is_empty() {
        Ok(summary)
    } else {
        let shown = failures.len().min(40);
        let mut text = String::new();
        for failure in &failures[..shown] {
            text.push_str("- ");
            text.push_str(failure);
            text.push('\n');
        }
        if failures.len() > shown {
            text.push_str(&format!("- ... and {} more\n", failures.len() - shown));
        }
        text.push_str(&format!("summary: {summary}"));
        Err(text)
    }
}

// ===== checks =====

/// Every future created was dropped exactly once, and never polled after it completed; every
/// value or panic reached at most one caller, and only from a future that completed or
/// panicked.
fn check_ledger(ledger: &Ledger, records: &[Record], failures: &mut Vec<String>) {
    let created = ledger.created();
    let dropped = ledger.dropped();
    if created != dropped {
        let leaked: Vec<String> = (0..ledger.next.load(Ordering::Acquire))
            .filter(|&id| ledger.state[id].load(Ordering::Acquire) == 1)
            .take(10)
            .map(|id| match records.iter().find(|r| r.id == id) {
                Some(r) => format!("{r:?}"),
                None => format!("future {id}, of no operation"),
            })
            .collect();
        failures.push(format!(
            "{} of {created} futures were never dropped (leaked), {SETTLE:?} after the run; \
             first ones: {leaked:#?}",
            created - dropped
        ));
    }
    let double = ledger.double_drops.load(Ordering::Acquire);
    if double > 0 {
        let ids: Vec<usize> = (0..ledger.next.load(Ordering::Acquire))
            .filter(|&id| ledger.state[id].load(Ordering::Acquire) > 2)
            .take(10)
            .collect();
        failures.push(format!("{double} futures were dropped twice (ids {ids:?})"));
    }
    let after_ready = ledger.polled_after_ready.load(Ordering::Acquire);
    if after_ready > 0 {
        failures.push(format!(
            "futures were polled {after_ready} times after they completed"
        ));
    }
    for r in records {
        match r.got {
            Got::Value(id) if ledger.completed[id].load(Ordering::Acquire) == 0 => {
                failures.push(format!("a value for a future that never completed: {r:?}"))
            }
            Got::Panic(Ok(id)) if !ledger.panicked[id].load(Ordering::Acquire) => {
                failures.push(format!("a panic from a future that never panicked: {r:?}"))
            }
            _ => {}
        }
    }
    for id in 0..ledger.next.load(Ordering::Acquire) {
        let completed = ledger.completed[id].load(Ordering::Acquire);
        let delivered = ledger.delivered[id].load(Ordering::Acquire);
        if completed > 1 {
            failures.push(format!("future {id} completed {completed} times"));
        }
        if delivered > 1 {
            failures.push(format!(
                "the result of future {id} reached callers {delivered} times (duplicated)"
            ));
        }
    }
}

/// Each operation's result is one its future and its operation allow, and came in time.
fn check_records(records: &[Record], shutdown_began: Instant, failures: &mut Vec<String>) {
    let mut seen = BTreeMap::new();
    for r in records {
        let key = match r.who {
            Who::Caller(i) => (i, r.index),
            Who::Controller => (usize::MAX, r.index),
            Who::Shutter => (usize::MAX - 1, r.index),
        };
        if seen.insert(key, ()).is_some() {
            failures.push(format!("two records for one operation: {r:?}"));
        }
        if let Err(why) = check_record(r, shutdown_began) {
            failures.push(format!("{why}: {r:?}"));
        }
    }
}

fn check_record(r: &Record, shutdown_began: Instant) -> Result<(), String> {
    let shutting_down = r.ended >= shutdown_began;
    // The deadline of the blocking part, if any, and the one the runtime enforces.
    let (wait_deadline, task_deadline) = match r.op {
        Op::Call => (None, None),
        Op::CallTimeout(t) => (Some(t), None),
        Op::Spawn { timeout, then } => match then {
            Then::JoinTimeout(t) => (Some(t), timeout),
            _ => (None, timeout),
        },
    };
    if r.spawn_elapsed > GRACE {
        return Err(format!("spawn took {:?}", r.spawn_elapsed));
    }
    let budget = wait_deadline.or(task_deadline).unwrap_or_default() + PROBE_TIMEOUT + GRACE;
    if r.elapsed > budget {
        return Err(format!("took {:?}, past its budget {budget:?}", r.elapsed));
    }
    match &r.got {
        Got::Value(v) => {
            if *v != r.id {
                return Err(format!("got the value of future {v}, not its own"));
            }
            if !r.kind.can_complete() {
                return Err("a value from a future that never completes".into());
            }
        }
        Got::Panic(Ok(id)) => {
            if *id != r.id {
                return Err(format!("got the panic of future {id}, not its own"));
            }
            if !r.kind.can_panic() {
                return Err("a panic from a future that does not panic".into());
            }
        }
        Got::Panic(Err(text)) => return Err(format!("a foreign panic: {text}")),
        Got::Err(BridgeError::TimedOut) => {
            if let Some(t) = wait_deadline {
                // A timeout never comes early: `call_timeout` and `join_timeout` give up at
                // their deadline, not before; a task's own deadline can end a join earlier.
                if r.elapsed < t && task_deadline.is_none() {
                    return Err(format!("timed out after {:?}, before its {t:?}", r.elapsed));
                }
            } else if let Some(t) = task_deadline {
                // The runtime's timer started in `spawn_timeout`, before the spawn returned.
                if r.since_spawn + r.spawn_elapsed + Duration::from_millis(1) < t {
                    return Err(format!(
                        "the task timed out {:?} after its spawn, before its {t:?}",
                        r.since_spawn + r.spawn_elapsed
                    ));
                }
            } else {
                return Err("timed out without a deadline".into());
            }
        }
        Got::SpawnErr(BridgeError::TimedOut) => {
            // A `spawn_timeout` that waited for a runtime's start gives up at its deadline,
            // not before.
            match task_deadline {
                Some(t) if r.spawn_elapsed + Duration::from_millis(1) >= t => {}
                Some(t) => {
                    return Err(format!(
                        "the spawn timed out after {:?}, before its {t:?}",
                        r.spawn_elapsed
                    ));
                }
                None => return Err("a spawn without a deadline timed out".into()),
            }
        }
        Got::Err(BridgeError::Shutdown) | Got::SpawnErr(BridgeError::Shutdown) => {
            if !shutting_down {
                return Err("`Shutdown` before the shutdown began".into());
            }
        }
        Got::Err(BridgeError::Retired | BridgeError::Cancelled)
        | Got::SpawnErr(BridgeError::Retired) => {}
        Got::Err(e) | Got::SpawnErr(e) => return Err(format!("unexpected error {e:?}")),
        Got::Released => {}
    }
    // Once `shutdown` has returned, every call and spawn fails with `Shutdown`, at once.
    if r.after_shutdown {
        let shut = match r.op {
            Op::Call | Op::CallTimeout(_) => matches!(r.got, Got::Err(BridgeError::Shutdown)),
            Op::Spawn { .. } => matches!(r.got, Got::SpawnErr(BridgeError::Shutdown)),
        };
        if !shut {
            return Err(
                "began after the shutdown returned, but did not fail with `Shutdown`".into(),
            );
        }
    }
    Ok(())
}

/// The outcomes the callers saw reconcile with the bridge's counters.
///
/// What bumps what (see `src/bridge.rs`, `src/task.rs`, `src/stats.rs`):
///
/// - `timeouts`: once per `TimedOut` a caller receives, wherever it comes from: a
///   `call_timeout` or `join_timeout` deadline (`finish_call`, `join_deadline`), a deadline
///   that passed while waiting for a runtime's start (`Inner::start`, `Inner::start_aside`),
///   `spawn_timeout` included, and a `spawn_timeout` task's own `TimedOut` when it is joined
///   or awaited (`Counters::observe`).
///   A cancelled, dropped or detached task's outcome is never observed and never counted. So
///   the number of `TimedOut` results seen is *exactly* `timeouts`.
/// - `panics`: once per panic re-raised on a caller (`observe` before `into_result`), and a
///   panic is only ever re-raised there. Exactly equal.
/// - `retired`: once per generation closed by a failed probe, and probes only follow a
///   `TimedOut` from `call_timeout` or `join_timeout`: `retired <= timeouts`. A generation is
///   retired once, and only a started one: `retired <= started`. A new generation is
///   published only once the previous one is gone, which (before the shutdown) only a
///   retirement does, by a probe or because the runtime refused work; the shipped adapters
///   refuse work only once they are told to stop, which happens only after their generation is
///   closed, so `started <= retired + 1`.
/// - `nested`: no operation here is nested: zero.
fn check_stats(
    stats: &BridgeStats,
    records: &[Record],
    wedge_before_shutdown: bool,
    failures: &mut Vec<String>,
) {
    let timeouts = records
        .iter()
        .filter(|r| {
            matches!(
                r.got,
                Got::Err(BridgeError::TimedOut) | Got::SpawnErr(BridgeError::TimedOut)
            )
        })
        .count() as u64;
    let panics = records
        .iter()
        .filter(|r| matches!(r.got, Got::Panic(_)))
        .count() as u64;
    let retired_seen = records.iter().any(|r| {
        matches!(
            r.got,
            Got::Err(BridgeError::Retired) | Got::SpawnErr(BridgeError::Retired)
        )
    });
    let succeeded = records.iter().any(|r| matches!(r.got, Got::Value(_)));
    if stats.timeouts != timeouts {
        failures.push(format!(
            "callers saw {timeouts} `TimedOut` results, stats count {}",
            stats.timeouts
        ));
    }
    if stats.panics != panics {
        failures.push(format!(
            "callers saw {panics} panics, stats count {}",
            stats.panics
        ));
    }
    if stats.retired > stats.timeouts {
        failures.push(format!(
            "{} retirements, but only {} timeouts to trigger probes",
            stats.retired, stats.timeouts
        ));
    }
    if stats.retired > stats.started || stats.started > stats.retired + 1 {
        failures.push(format!(
            "{} generations started, {} retired: expected started - retired in 0..=1",
            stats.started, stats.retired
        ));
    }
    if succeeded && stats.started == 0 {
        failures.push("values came back, but no generation was started".into());
    }
    if stats.nested != 0 {
        failures.push(format!("{} nested calls, but none was made", stats.nested));
    }
    // A generation with every thread blocked fails its probe: the controller's timed call
    // after its forced wedge retires it (or finds it retired by someone else's timeout).
    if wedge_before_shutdown && stats.retired == 0 {
        failures.push(
            "every runtime thread was blocked and a timed call followed before the shutdown, \
             but no generation was retired"
                .into(),
        );
    }
    if retired_seen && stats.retired == 0 {
        failures.push("callers saw `Retired`, but no generation was retired".into());
    }
}

/// Counts of each kind of result, and the worst overshoot of a timed-out `call_timeout`.
fn outcomes(records: &[Record]) -> String {
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    for r in records {
        *outcomes.entry(r.got.label()).or_default() += 1;
    }
    let overshoot = records
        .iter()
        .filter_map(|r| match (r.op, &r.got) {
            (Op::CallTimeout(t), Got::Err(BridgeError::TimedOut)) => {
                Some(r.elapsed.saturating_sub(t))
            }
            _ => None,
        })
        .max()
        .unwrap_or_default();
    format!("worst call_timeout overshoot {overshoot:.2?}; outcomes {outcomes:?}")
}
