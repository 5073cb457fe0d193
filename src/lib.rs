//! Call async code from synchronous code on a **persistent**, health-checked runtime.
//!
//! Sync code calls async code all the time: a library with a blocking API over an async
//! client, a CLI, an FFI callback, a test. The usual answers each fail somewhere: a fresh
//! runtime per call throws away connection pools and churns threads; `Runtime::block_on`
//! panics inside a runtime; `futures::executor::block_on` hangs there. A [`Bridge`] keeps one
//! runtime alive on its own threads and lets any thread, async or not, block on it:
//!
//! - **Reuse.** Every call runs on the same runtime, so clients, pools, sockets and timers
//!   created by one call serve the next.
//! - **Timeouts that cancel.** [`Bridge::call_timeout`] gives up at its deadline even if the
//!   runtime is blocked, and the future is dropped on its runtime. On a runtime that does not
//!   answer, the health probe that follows holds the call for up to the probe timeout more
//!   (200 ms by default): see "Timeouts and cancellation".
//! - **Health checks.** After a timeout the runtime is probed; a wedged one is retired and
//!   the next call starts a fresh one. Nobody waits on the stuck thread.
//! - **Nested calls never deadlock.** A blocking call from the bridge's own runtime runs on a
//!   one-off thread, or fails fast with [`BridgeError::Nested`] if you prefer.
//! - **Clean failure.** A runtime that fails to start leaves nothing behind; panics are
//!   re-raised on the caller; shutdown is explicit, idempotent and bounded.
//!
//! The runtime is pluggable through the [`BridgeRuntime`] trait. The crate ships
//! [`SmolRuntime`] (async-executor threads driven by async-io); `loopbridge-tokio` adds tokio.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use loopbridge::Bridge;
//!
//! let bridge = Bridge::new();
//!
//! // A blocking API over async code:
//! fn fetch_answer(bridge: &Bridge) -> Result<u32, loopbridge::BridgeError> {
//!     bridge.call_timeout(
//!         async {
//!             async_io::Timer::after(Duration::from_millis(1)).await;
//!             42
//!         },
//!         Duration::from_secs(5),
//!     )
//! }
//!
//! assert_eq!(fetch_answer(&bridge)?, 42);
//! assert_eq!(fetch_answer(&bridge)?, 42);
//! assert_eq!(bridge.stats().started, 1); // one runtime served both calls
//! bridge.shutdown();
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! It works from inside another runtime too, where `block_on` would panic or hang:
//!
//! ```
//! let bridge = loopbridge::Bridge::new();
//! let n = futures_lite::future::block_on(async { bridge.call(async { 1 }) })?;
//! assert_eq!(n, 1);
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! # Futures own their data (`'static`)
//!
//! [`Bridge::call`], [`Bridge::spawn`] and [`Bound::call`] take futures that are `Send +
//! 'static`, as `std::thread::spawn` and `tokio::spawn` do, and for the same reason: the
//! future leaves the caller's stack for a thread of the runtime, and a call that times out
//! returns to its caller before the runtime has dropped the future. A future that borrowed the
//! caller's locals could outlive them. So a bridged future owns what it uses, and the usual
//! patterns are the ones of `thread::spawn`:
//!
//! - **clone, then `async move`**: clone a handle (a client, an `Arc`, a `Sender`) into a local
//!   and move the clone into the future; the original stays with the caller;
//! - **move owned arguments in**: a `&str` parameter becomes a `String` before the call;
//! - **return by value**: the future's output comes back to the caller whole, so there is no
//!   need to write through a borrowed `&mut`;
//! - **keep runtime-bound values on the runtime**: a client that must live on the runtime goes
//!   in a [`Bound`], whose [`call`](Bound::call) lends `&T` to a closure on the runtime; the
//!   closure clones what its future needs from it.
//!
//! ```
//! use std::sync::Arc;
//! use loopbridge::Bridge;
//!
//! fn word_count(bridge: &Bridge, dictionary: &Arc<Vec<String>>, text: &str) -> usize {
//!     let dictionary = Arc::clone(dictionary); // clone, then move
//!     let text = text.to_owned(); // an owned argument
//!     bridge
//!         .call(async move {
//!             text.split_whitespace()
//!                 .filter(|word| dictionary.iter().any(|known| known == word))
//!                 .count() // returned by value
//!         })
//!         .expect("the bridge is up")
//! }
//!
//! let bridge = Bridge::new();
//! let dictionary = Arc::new(vec!["async".to_owned(), "sync".to_owned()]);
//! assert_eq!(word_count(&bridge, &dictionary, "sync calls async"), 2);
//! ```
//!
//! # Choosing an adapter
//!
//! | runtime | how | pick it when |
//! |---|---|---|
//! | smol (built in) | [`Bridge::new`], or [`SmolRuntime::with_threads`] for more threads | your async code is runtime-agnostic or smol-based (async-io timers and sockets) |
//! | tokio current_thread | `Bridge::with_runtime(loopbridge_tokio::TokioRuntime::current_thread)` | the code needs tokio (hyper, reqwest, tonic); the usual choice for one client and its pool |
//! | tokio multi_thread | `Bridge::with_runtime(\|\| TokioRuntime::multi_thread(4))` | bridged work is heavy or highly concurrent |
//! | tokio, attached | `Bridge::with_runtime(move \|\| TokioRuntime::from_handle(handle.clone()))` | the application already runs a tokio runtime and wants its clients on it |
//! | your own | implement [`BridgeRuntime`] | anything else; check it with `loopbridge-conformance` |
//!
//! Configure a runtime as its own users do: [`SmolRuntime::builder`] takes threads, a stack
//! size, a thread-name prefix and start/stop hooks; `TokioRuntime::from_builder` takes a
//! `tokio::runtime::Builder`.
//!
//! `Bridge` is not generic over the runtime, so a library can take a `&Bridge` and let the
//! application choose (and test against every runtime with `loopbridge_tokio::test_matrix!`).
//! Every runtime above passes one conformance suite, the crate `loopbridge-conformance`, which
//! checks any adapter against every semantic of the bridge (see [`BridgeRuntime`]).
//! [`Bridge::per_call`] gives the runtime-per-call strategy behind the same API, for
//! comparison; the `compare` example measures both.
//!
//! # Who polls the future: `Drive::Runtime` or `Drive::Caller`
//!
//! By default a blocking call moves its future to a thread of the runtime and waits for the
//! outcome ([`Drive::Runtime`]). That costs a handoff between two threads on every call, even
//! for a future that is ready on its first poll, and every caller's future queues on the
//! runtime's threads. [`BridgeBuilder::drive`] with [`Drive::Caller`] makes the caller's own
//! thread poll the future instead, inside the runtime's context (on tokio, the runtime's
//! handle is entered: `tokio::spawn`, `Handle::current()`, timers and sockets reach the
//! bridge's runtime), parking between polls until the runtime's reactor, timers or tasks wake
//! it. That is what a static tokio runtime's `RUNTIME.block_on(fut)` does, and it costs about
//! as much: a poll, no handoff; and many callers poll in parallel, on every core.
//!
//! ```
//! use loopbridge::{Bridge, Drive};
//! use loopbridge_tokio::TokioRuntime;
//!
//! let bridge = Bridge::builder()
//!     .runtime(TokioRuntime::current_thread)
//!     .drive(Drive::Caller)
//!     .build();
//! let caller = std::thread::current().id();
//! let (polled_on, spawned) = bridge.call(async {
//!     // A task of the bridge's runtime, spawned from the caller's thread.
//!     let spawned = tokio::spawn(async { 2 }).await.unwrap();
//!     tokio::time::sleep(std::time::Duration::from_millis(1)).await;
//!     (std::thread::current().id(), spawned)
//! })?;
//! assert_eq!((polled_on, spawned), (caller, 2));
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! What stays the same in both modes: the runtime keeps the reactor, the timers and every task
//! (a pool's connection tasks); a call made from a thread of the runtime is nested and served
//! on a one-off thread; a call from inside another runtime works; a deadline returns the call
//! at its deadline while the future is pending; a retirement or a shutdown fails a parked
//! caller at once; panics are re-raised on the caller; `Bound` values, `iter`, `reader` and
//! `writer` work (the value is borrowed on the caller's thread); stats and the caller's span
//! travel. What differs:
//!
//! - **A timed-out future is dropped on the caller**, inside the runtime's context, before
//!   `call_timeout` returns: cancellation is synchronous. (Runtime-driven, it is dropped on
//!   the runtime, after the call returned.)
//! - **A future that blocks its own thread inside `poll` holds its caller past its deadline**,
//!   exactly as `block_on` does: nobody else can stop it. Runtime-driven, such a future holds
//!   only a runtime thread: the caller returns at its deadline, and the health check retires
//!   the runtime. That protection is what `Drive::Runtime`, the default, exists for.
//! - [`Bridge::call_local`] and [`Bridge::spawn`] run on the runtime in both modes, and so does
//!   every call on a runtime whose adapter cannot serve caller-driven calls
//!   ([`BridgeRuntime::enter`]).
//!
//! Pick `Drive::Caller` for your own well-behaved futures, for many callers at once, and for
//! CPU-bound work in the future; keep `Drive::Runtime` when a future you do not control might
//! block, and the deadline must hold anyway. The README's "Caller-driven calls" has the
//! figures of both against a static runtime's `block_on`.
//!
//! # Timeouts and cancellation
//!
//! [`Bridge::call_timeout`] enforces its deadline on the caller's side: the caller stops
//! waiting at the deadline even if the runtime's thread is blocked, and gets
//! [`BridgeError::TimedOut`]. The future is then *cancelled*, not abandoned: the bridge wakes
//! it on its runtime, which drops it there (a future that never started is dropped without
//! being polled).
//!
//! Before it returns, the timed-out call probes its runtime (see "Health checks and
//! retirement" below). A healthy runtime answers the probe at once, so the call returns at its
//! deadline; one that does not answer holds the call for up to
//! [`BridgeBuilder::probe_timeout`] more (200 ms by default) while the bridge decides whether
//! to retire it. So the bound on a call with a timeout is its deadline plus the probe timeout:
//! a 50 ms call on a wedged runtime returns after about 250 ms. The same holds for
//! [`BridgeTask::join_timeout`], for dropping a [`BridgeTask`], and for
//! [`Bridge::spawn_timeout`], whose deadline the runtime's own timer enforces.
//!
//! ```
//! use std::time::Duration;
//!
//! let bridge = loopbridge::Bridge::new();
//! let slow = async {
//!     async_io::Timer::after(Duration::from_secs(60)).await;
//! };
//! let err = bridge.call_timeout(slow, Duration::from_millis(20)).unwrap_err();
//! assert!(err.is_timed_out()); // and `slow` has been dropped on the runtime
//! ```
//!
//! # Cancellation
//!
//! A call ends when its future completes or its deadline passes. A caller often needs more:
//! Ctrl-C must stop a blocked call; a "30 s for this request" must cover every call the
//! request makes; a caller that rolls back a transaction must know the future that wrote to it
//! is gone. Three pieces cover it:
//!
//! - **[`CancelToken`]**: a flag any thread can set ([`cancel`](CancelToken::cancel), from a
//!   signal handler's thread, a UI thread, a supervisor). Every call blocked under it is woken
//!   at once and fails with [`BridgeError::Cancelled`]; nothing polls the token.
//! - **[`Scope`]**: what every blocking bridge call made inside [`Scope::run`] obeys, on any
//!   bridge: a deadline ([`timeout`](Scope::timeout), [`deadline`](Scope::deadline)), tokens
//!   ([`cancel_on`](Scope::cancel_on)), and interrupt checks
//!   ([`check_every`](Scope::check_every)): a closure run on the blocked caller's thread at a
//!   period, whose error stops the call with [`BridgeError::Interrupted`] (how a Python
//!   extension lets Ctrl-C through). Scopes nest (the tightest deadline wins, every token and
//!   check counts) and travel into the calls' futures, so a blocking call made from inside a
//!   bridged future obeys its caller's scope too. `call`, `call_timeout` (the earlier deadline
//!   wins), `call_local`, `Bound::call`, every `next` of `iter`, every read and write of
//!   `reader` and `writer`, and `BridgeTask::join` obey it; a call whose token is cancelled or
//!   whose deadline has passed returns at once, without polling its future.
//! - **[`BridgeBuilder::confirm_cancel`]**: a call that ends in `TimedOut`, `Cancelled` or
//!   `Interrupted` returns only once its future has been dropped (or after a grace, counted in
//!   [`BridgeStats::unconfirmed_cancels`]). Without it, a runtime-driven call's future is
//!   dropped on the runtime soon after the call returns; a caller-driven call drops its future
//!   before it returns anyway.
//!
//! ```
//! use std::{thread, time::Duration};
//! use loopbridge::{Bridge, CancelToken, Scope};
//!
//! let bridge = Bridge::builder().confirm_cancel(Duration::from_secs(1)).build();
//! let token = CancelToken::new();
//! let ctrl_c = token.clone(); // a Ctrl-C handler would hold this one
//! thread::spawn(move || {
//!     thread::sleep(Duration::from_millis(20));
//!     ctrl_c.cancel();
//! });
//! // One deadline for the whole operation, and the token, for every call in it.
//! let outcome = Scope::new()
//!     .timeout(Duration::from_secs(30))
//!     .cancel_on(&token)
//!     .run(|| {
//!         let session = bridge.call(async { "session" })?;
//!         bridge.call(async move {
//!             let _uses = session;
//!             std::future::pending::<()>().await // a download that never ends
//!         })
//!     });
//! assert!(outcome.unwrap_err().is_cancelled()); // and its future is gone
//! ```
//!
//! A call outside every scope pays one thread-local read for all of this. `examples/ctrl_c.rs`
//! cancels a blocking download over reqwest's async client with Ctrl-C, and bounds a whole
//! operation of several calls with one 2 s deadline.
//!
//! # Health checks and retirement
//!
//! A timeout can mean that the future is slow, that the runtime is busy, or that it is wedged:
//! tasks block its threads synchronously and nothing else runs. Only a wedged runtime calls
//! for a new one, and the bridge tells them apart by *progress*, not by how long its queue is:
//!
//! - After each timeout the bridge sends the runtime a no-op probe task and watches for up to
//!   [`BridgeBuilder::probe_timeout`] (200 ms by default).
//! - If the probe runs, nothing else happens: other callers' work in flight is undisturbed.
//! - If it does not, but the runtime made progress while the probe waited (a step of the
//!   bridge's started, or the adapter saw work of its own: [`BridgeRuntime::activity`], such
//!   as an application's tasks finishing on a tokio runtime), the runtime is busy, not wedged,
//!   and it is kept, however long its queue: one timeout behind a backlog fails nothing else.
//! - Only a runtime that made no progress at all during the window while work waited is
//!   wedged. Its *generation* is retired before `call_timeout` returns: it is unpublished, the
//!   calls still on it fail with [`BridgeError::Retired`], it is told to stop, and the next
//!   call starts a fresh runtime from the factory. Nobody joins the stuck thread; it exits and
//!   releases its resources once it is free.
//!
//! So a runtime whose every thread is inside one step for the whole probe window counts as
//! wedged, whatever that step is doing: keep long blocking work off the runtime's threads
//! (tokio's `spawn_blocking`, the `blocking` crate), or set a probe timeout longer than your
//! longest step. [`Bridge::stats`] counts generations started and retired. On tokio's
//! `from_handle` flavour, a retired generation only stops the bridge's own tasks, and the next
//! one attaches to the same application runtime.
//!
//! # Nested calls
//!
//! A bridged future that calls the blocking API of its own bridge would block the runtime on
//! itself. The bridge detects such calls ([`BridgeRuntime::is_runtime_thread`]) and, by
//! default, runs them on a one-off thread with a one-off runtime context from the adapter,
//! with their timeout and cancellation ([`NestedPolicy::Fallback`]). The calling runtime
//! thread is blocked meanwhile, so the nested future must not need IO bound to it. Choose
//! [`NestedPolicy::Error`] to fail fast with [`BridgeError::Nested`] instead. From async code
//! on the bridge, `bridge.spawn(fut)?.await` never blocks and is the better path.
//!
//! ```
//! let bridge = loopbridge::Bridge::new();
//! let inner = bridge.clone();
//! let n = bridge.call(async move { inner.spawn(async { 1 }).unwrap().await })??;
//! assert_eq!(n, 1);
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! # Runtime-bound values, streams and I/O
//!
//! A library with a blocking API over an async core needs more than whole futures. Three
//! pieces cover the rest, each used only on the runtime and honouring the bridge's semantics:
//!
//! - **[`Bridge::bind`] → [`Bound<T>`](Bound)**: a value that belongs to the runtime, such as
//!   a client with its connection pool. Its maker runs on the runtime, inside its context,
//!   when a call first needs it (a client that spawns tasks as it is built works); the value
//!   lives with that runtime *generation*, is made again after a retirement (no call sees a
//!   value bound to a dead runtime, and no pool's "dispatch task is gone"), and is dropped on
//!   its runtime, inside its context, when the generation ends, when the last `Bound` goes,
//!   or at shutdown. [`Bridge::try_bind`] takes a maker that can fail: the error reaches the
//!   call that needed the value ([`BridgeError::Make`]), and the next call tries again. On a
//!   [`Bridge::per_call`] bridge the value is made for every call.
//! - **[`Bridge::iter`] → [`BlockingStream`]**: an `Iterator` over any `Stream` (a paginated
//!   listing, a streamed body), polled on the runtime. A timed-out
//!   [`next_timeout`](BlockingStream::next_timeout) leaves the stream where it was, and
//!   dropping the iterator drops the stream on the runtime. Nothing is read ahead.
//! - **[`Bridge::reader`] and [`Bridge::writer`] → [`BlockingReader`], [`BlockingWriter`]**:
//!   `std::io::Read + BufRead` and `Write` over `futures-io`'s `AsyncRead` and `AsyncWrite`,
//!   with a timeout per operation that leaves them usable (`io::ErrorKind::TimedOut`), and
//!   [`close`](BlockingWriter::close) to flush, close and get the error. `loopbridge-tokio`'s
//!   `reader` and `writer` take tokio's traits.
//!
//! ```
//! use std::io::{BufRead, Write};
//! use loopbridge::Bridge;
//!
//! let bridge = Bridge::new();
//!
//! // A value made on the runtime, once, and used there.
//! let prefix = bridge.bind(|| async { String::from("line: ") });
//! let shown = prefix.call(|p| {
//!     let shown = format!("{p}1");
//!     async move { shown }
//! })?;
//! assert_eq!(shown, "line: 1");
//!
//! // A stream, item by item.
//! let evens: Vec<u32> = bridge
//!     .iter(futures_lite::stream::iter([2, 4, 6]))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(evens, [2, 4, 6]);
//!
//! // Async I/O as std::io.
//! let mut lines = bridge.reader(futures_lite::io::Cursor::new(b"a\nb\n".to_vec())).lines();
//! assert_eq!(lines.next().transpose()?.as_deref(), Some("a"));
//! let mut out = bridge.writer(futures_lite::io::sink());
//! out.write_all(b"done")?;
//! out.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/blocking_http.rs` builds a small blocking HTTP client this way, over reqwest's
//! async client.
//!
//! # Shutdown
//!
//! [`Bridge::shutdown`] is explicit, idempotent, terminal and bounded: calls in flight fail
//! with [`BridgeError::Shutdown`] at once and their futures are dropped on the runtime, the
//! runtime's threads are joined within a grace period (3 s by default), and a thread that is
//! stuck is left to exit by itself rather than waited for. Dropping the last clone of a
//! `Bridge` does the same, so a drop can block for up to the grace period. Called from the
//! bridge's own runtime, shutdown only schedules the stop. The process-wide [`global`] bridge
//! is never dropped: call [`shutdown_global`] on exit paths.
//!
//! # Fork
//!
//! A child made by `fork()` inherits its parent's bridges, [`global`] included, but not the
//! threads of their runtimes. The bridges notice: each runtime generation remembers the
//! process's fork count from before it started (a `pthread_atfork` handler counts forks, so
//! the check is one atomic load per call). In the child, the first call on an inherited bridge
//! abandons the inherited generation and starts a fresh runtime from the factory, and a
//! shutdown skips it. An abandoned generation is never closed, stopped, joined or dropped,
//! which would signal or wait for threads that do not exist; what it held is **leaked**: the
//! calls and tasks that were in flight on it in the parent (their futures included), its
//! queues, its runtime value. A [`BridgeTask`] spawned in the parent fails with
//! [`BridgeError::Retired`] when the child joins or awaits it.
//!
//! Caveats, none of them the bridge's to fix:
//!
//! - async-io's reactor, behind smol's timers and sockets (`async_io::Timer`, `Async<T>`), is
//!   one per process, and a thread of the parent is usually waiting on it, holding its lock,
//!   when the parent forks: the lock stays held in the child. There, futures that wait on
//!   async-io timers or sockets never complete, on any bridge, and neither do
//!   [`SmolRuntime`]'s [`spawn_timeout`](Bridge::spawn_timeout) deadlines;
//!   [`call_timeout`](Bridge::call_timeout) still returns at its deadline, which the caller
//!   enforces. Tokio runtimes have drivers of their own, so a tokio adapter works fully in the
//!   child; so does async-io if the parent forks before it first uses it.
//! - As with any lock in a multi-threaded program that forks, a lock of the bridge's that
//!   another thread of the parent held at the fork (for the few nanoseconds a call or a runtime
//!   thread holds one) stays held in the child. Fork from a quiet point.
//! - `TokioRuntime::from_handle` attaches to a runtime the application owns; the child inherits
//!   that runtime without its workers, so the application has to build a fresh one there.
//!
//! # Context and tracing
//!
//! With the `tracing` feature, every [`call`](Bridge::call), [`spawn`](Bridge::spawn) and
//! [`call_local`](Bridge::call_local) captures the caller's current span and default
//! subscriber, and the future runs inside them on the bridge: an event it emits is recorded
//! under the caller's span, with its fields (request ids, users, tenants), instead of as an
//! orphan on a bridge thread. The bridge also logs its lifecycle under the `loopbridge`
//! target: runtime started (info), timeouts, probe results and nested fallbacks (debug),
//! retirements (warn) and shutdowns (info, with how long they took and whether threads were
//! left stuck). Without the feature, nothing of `tracing` is compiled in.
//!
//! Anything else a call needs (credentials, an approval callback, a profile) travels
//! explicitly: move it into the future.
//!
//! # Features
//!
//! - `tracing`: carry the caller's `tracing` span into bridged futures, and log the bridge's
//!   lifecycle (off by default).

// `unsafe` is denied everywhere but in `fork`, which registers a fork handler with the C
// library: checking the process id on every call instead would cost a fifth of a call (see
// that module).
#![deny(unsafe_code)]
#![warn(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod bound;
mod bridge;
mod cancel;
mod context;
mod error;
mod fork;
mod generation;
mod global;
mod harness;
mod io;
mod job;
pub mod kit;
#[cfg(all(test, loopbridge_loom))]
mod models;
mod registry;
mod runtime;
mod shelf;
mod slot;
mod smol;
mod spin;
mod stats;
mod stream;
mod sync;
mod task;
mod wait;

pub use crate::bound::Bound;
pub use crate::bridge::{
    Bridge, BridgeBuilder, DEFAULT_PROBE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, Drive, NestedPolicy,
};
pub use crate::cancel::{CancelToken, Scope};
pub use crate::error::BridgeError;
pub use crate::global::{global, shutdown_global};
pub use crate::io::{BlockingReader, BlockingWriter};
pub use crate::job::{Job, LocalBoxFuture, LocalJob, LocalJobFuture};
pub use crate::runtime::{BoxFuture, BridgeRuntime};
pub use crate::smol::{SmolBuilder, SmolRuntime};
pub use crate::stats::BridgeStats;
pub use crate::stream::BlockingStream;
pub use crate::task::BridgeTask;

/// Compile-time checks that the public types can cross threads.
#[allow(dead_code)]
fn _assert_send_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Bridge>();
    send_sync::<BridgeError>();
    send_sync::<SmolRuntime>();
    send_sync::<BridgeTask<u8>>();
    send_sync::<Bound<u8>>();
    send::<Job>();
    send::<LocalJob>();
}
