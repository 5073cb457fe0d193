//! A tokio adapter for [loopbridge]: call tokio-bound async code (hyper, reqwest, tonic,
//! anything that needs a tokio reactor) from synchronous code, on a persistent runtime.
//!
//! hyper and reqwest bind a client's connection pool to the tokio runtime that was current
//! when each connection was made. Used from sync code through a runtime per call, every call
//! reconnects, and a cached client ends up pointing at a dropped runtime ("dispatch task is
//! gone"). A [`Bridge`] on a [`TokioRuntime`] keeps the client and its pool on one runtime
//! and bridges every call into it, with all of loopbridge's semantics: timeouts that cancel,
//! health-checked retirement, nested calls that never deadlock, bounded shutdown.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use loopbridge::Bridge;
//! use loopbridge_tokio::TokioRuntime;
//!
//! let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
//! // Works from anywhere, even from inside another tokio runtime.
//! let slept = bridge.call(async {
//!     tokio::time::sleep(Duration::from_millis(1)).await;
//!     "tokio timers work"
//! })?;
//! assert_eq!(slept, "tokio timers work");
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! # Choosing a flavour
//!
//! - [`TokioRuntime::current_thread`]: one persistent thread runs a current_thread runtime.
//!   The best default for a client and its pool: cheap, and every connection lives on it.
//! - [`TokioRuntime::multi_thread`]: an owned multi_thread runtime, for CPU-heavy or highly
//!   concurrent bridged work.
//! - [`TokioRuntime::from_handle`]: attach to a runtime the application already runs.
//!   Retirement and shutdown stop only the bridge's own tasks; the application's runtime is
//!   never shut down, and a retired generation gets the same runtime back.
//!
//! # Futures that are not `Send`
//!
//! [`Bridge::call_local`](loopbridge::Bridge::call_local) runs on the current_thread flavour,
//! on a `LocalSet` beside the runtime on its driver thread. The multi_thread and
//! `from_handle` flavours refuse it with
//! [`BridgeError::Unsupported`](loopbridge::BridgeError::Unsupported).
//!
//! # Nested calls
//!
//! A blocking call made from a thread that runs the runtime's tasks cannot wait for that
//! runtime, so the bridge runs it on a one-off thread (or refuses it, see
//! [`loopbridge::NestedPolicy`]). Those threads are an owned runtime's driver or workers, and
//! the threads that have run the bridge's steps; on `from_handle`, also any thread inside the
//! runtime's context when the runtime has a single thread to run tasks on (tokio does not tell
//! its workers from its blocking pool). A call from `spawn_blocking` or from inside
//! `Handle::enter` is *not* nested: the runtime serves it, with its pools, as any other. That
//! is the everyday pattern of an axum or tonic handler calling a sync library.
//!
//! On the multi_thread flavours (owned or `from_handle`), the one-off thread runs the nested
//! future inside the runtime's own context (`Handle::block_on`), its IO and timers driven by
//! the workers that are not blocked, so clients bound to the runtime work there. On
//! current_thread, the runtime's only thread is the one waiting, so the nested future gets a
//! one-off current_thread runtime; it cannot use IO bound to the bridge's runtime. From async
//! code on the bridge, use `bridge.spawn(fut)?.await`, which never blocks.
//!
//! # Clients, streams and I/O
//!
//! [`Bridge::bind`](loopbridge::Bridge::bind) works on every flavour as it is: its maker
//! runs on the runtime, inside its context, so a client that spawns tasks as it is built (or
//! checks for a reactor) can be built there, and it is made again on a fresh runtime after a
//! retirement, and dropped inside its runtime's context:
//!
//! ```
//! use loopbridge::Bridge;
//! use loopbridge_tokio::TokioRuntime;
//!
//! let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
//! // `reqwest::Client::new`, say; here, anything that needs the runtime's context.
//! let client = bridge.bind(|| async { tokio::runtime::Handle::current().runtime_flavor() });
//! let flavor = client.call(|flavor| {
//!     let current_thread = *flavor == tokio::runtime::RuntimeFlavor::CurrentThread;
//!     async move { current_thread }
//! })?;
//! assert!(flavor);
//! # Ok::<(), loopbridge::BridgeError>(())
//! ```
//!
//! [`Bridge::iter`](loopbridge::Bridge::iter) takes any `Stream` (a response's
//! `bytes_stream()`). For tokio's `AsyncRead` and `AsyncWrite`, [`reader`] and [`writer`] are
//! the one call to make: they adapt tokio's traits (with tokio-util's `compat`) and hand them
//! to [`Bridge::reader`](loopbridge::Bridge::reader) and
//! [`Bridge::writer`](loopbridge::Bridge::writer). None of it uses `Handle::block_on`.
//!
//! # Health checks
//!
//! A runtime is retired only if it made no progress while the bridge's probe waited (see
//! loopbridge's "Health checks and retirement"). Besides the bridge's own steps, this adapter
//! reports tokio's stable metrics as activity: tasks that finished or left the global queue,
//! workers that parked or accounted busy time. An application runtime busy with its own tasks
//! is therefore never retired for it, on `from_handle` least of all.
//!
//! # Performance
//!
//! A caller spins briefly for its result before it parks, as on every runtime. On the
//! current_thread flavour the driver thread's own `block_on` future runs the calls' steps from
//! a queue of its own (no tokio task, and no allocation, per step) and keeps the runtime hot
//! for about 50 µs after each step arrives (it yields to the scheduler, which runs tokio's
//! tasks and polls IO without blocking), so back-to-back calls do not pay for waking a parked
//! thread; after that window tokio parks the thread as usual and an idle bridge uses no CPU.
//!
//! The multi_thread and `from_handle` flavours hand a step to tokio as a task, which would
//! wake a worker for every step. So after a step task has run its step, it stays on as the
//! bridge's *pump* for the same window: it looks at a queue of its own in 2 µs bursts,
//! yielding to its worker in between, and a step that arrives during a burst runs there, with
//! no task spawned and no worker woken. The pump takes steps only while it looks, never while
//! it runs one or yields, so a step that blocks never holds up the others; and when the window
//! ends it ends, which on `from_handle` gives the application's worker back.
//!
//! Every window keeps score ([`loopbridge::kit::HotWindow`]): when calls come further apart
//! than the window, looking catches nothing, and the runtime sleeps as soon as it runs out of
//! work instead, with a probe now and then. The `compare` example reports all three flavours.
//!
//! # Shutdown
//!
//! The owned flavours build, run and drop their runtime on a driver thread named
//! `loopbridge-tokio`, so a runtime is never dropped on a caller's thread or inside another
//! runtime, where tokio would panic. A runtime that is stuck (a task blocks a worker) is
//! dropped by that thread once it is free; shutdown stops waiting at its grace period.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod attached;
mod blocking_io;
mod current_thread;
mod driver;
mod matrix;
mod multi_thread;
mod pump;
mod runtime;
mod vitals;

pub use crate::blocking_io::{reader, writer};
pub use crate::matrix::TestRuntime;
pub use crate::runtime::TokioRuntime;

#[cfg(doc)]
use loopbridge::Bridge;
