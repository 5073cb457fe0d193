//! Which threads count as a tokio runtime's own, and which runtime context the bridge's
//! futures see: calls from `spawn_blocking` and `Handle::enter` are served by the runtime,
//! nested fallbacks run with a working context (the runtime's own where it can), futures are
//! dropped inside the runtime's context at shutdown, and an application runtime busy with its
//! own tasks is not retired.

mod app;

use std::{sync::mpsc, thread, time::Duration};

use loopbridge::{Bridge, BridgeBuilder, NestedPolicy};
use loopbridge_conformance::support::{PATIENCE, SHORT, bounded, pending_with, thread_name};
use loopbridge_tokio::TokioRuntime;
use tokio::runtime::{Handle, Id};

/// The bridge's runtime's id, as its futures see it.
fn runtime_id(bridge: &Bridge) -> Id {
    bridge.call(async { Handle::current().id() }).unwrap()
}

/// A strict bridge on an owned flavour: a call taken for a nested one fails.
fn strict(owned: fn() -> std::io::Result<TokioRuntime>) -> Bridge {
    Bridge::builder()
        .runtime(owned)
        .nested(NestedPolicy::Error)
        .build()
}

fn multi_thread() -> std::io::Result<TokioRuntime> {
    TokioRuntime::multi_thread(2)
}

/// A bridge attached to `handle`.
fn attached(handle: &Handle) -> BridgeBuilder {
    let handle = handle.clone();
    Bridge::builder().runtime(move || TokioRuntime::from_handle(handle.clone()))
}

/// A call from the runtime's own blocking pool (a bridged future's `spawn_blocking`) is
/// served by the runtime like any other, even under `NestedPolicy::Error`: only the threads
/// that run the runtime's tasks are nested.
#[test]
fn calls_from_the_blocking_pool_are_served_by_the_runtime() {
    bounded("spawn_blocking on owned runtimes", || {
        for (owned, runs_on) in [
            (
                TokioRuntime::current_thread as fn() -> _,
                "loopbridge-tokio",
            ),
            (multi_thread, "loopbridge-tokio-w"),
        ] {
            let bridge = strict(owned);
            let inner = bridge.clone();
            let ran_on = bridge
                .call(async move {
                    tokio::task::spawn_blocking(move || inner.call(async { thread_name() }))
                        .await
                        .unwrap()
                })
                .unwrap()
                .unwrap();
            assert_eq!(ran_on, runs_on);
            assert_eq!(bridge.stats().nested, 0);
        }
    });
}

/// The everyday pattern of an axum or tonic handler: a sync library called from
/// `spawn_blocking`, over a bridge attached to the application's runtime. The call runs on
/// the application's runtime, with its pools, not on a one-off thread.
#[test]
fn spawn_blocking_on_the_application_runtime_is_not_nested() {
    bounded("spawn_blocking on from_handle", || {
        let app = app::runtime();
        let bridge = attached(app.handle()).nested(NestedPolicy::Error).build();
        let handler = bridge.clone();
        let ran_on = app
            .block_on(async move {
                tokio::task::spawn_blocking(move || handler.call(async { thread_name() })).await
            })
            .unwrap()
            .unwrap();
        assert_eq!(ran_on, "app-worker");
        assert_eq!(bridge.stats().nested, 0);
    });
}

/// A thread inside `Handle::enter` of the bridge's runtime is not one of its threads.
#[test]
fn calls_inside_handle_enter_are_not_nested() {
    bounded("Handle::enter", || {
        let bridge = strict(TokioRuntime::current_thread);
        let handle = bridge.call(async { Handle::current() }).unwrap();
        let _context = handle.enter();
        assert_eq!(
            bridge.call(async { thread_name() }).unwrap(),
            "loopbridge-tokio"
        );
        assert_eq!(bridge.stats().nested, 0);
    });
}

/// A nested call (a bridged future calling the bridge's blocking API) runs with a working
/// tokio context on every flavour: timers work, and on the multi_thread flavours it is the
/// bridge's runtime's own context, so that clients bound to it work too.
#[test]
fn nested_fallbacks_have_a_working_tokio_context() {
    bounded("nested fallbacks", || {
        let app = app::runtime();
        let bridges = [
            (
                "current_thread",
                Bridge::with_runtime(TokioRuntime::current_thread),
                false,
            ),
            ("multi_thread", Bridge::with_runtime(multi_thread), true),
            ("from_handle", attached(app.handle()).build(), true),
        ];
        for (flavour, bridge, own_context) in bridges {
            let outer = runtime_id(&bridge);
            let inner = bridge.clone();
            let (ran_on, seen) = bridge
                .call(async move {
                    inner.call(async {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        (thread_name(), Handle::current().id())
                    })
                })
                .unwrap()
                .unwrap();
            assert_eq!(ran_on, "loopbridge-nested", "{flavour}");
            assert_eq!(
                seen == outer,
                own_context,
                "{flavour}: the nested call's context"
            );
            assert_eq!(bridge.stats().nested, 1, "{flavour}");
        }
    });
}

/// On a current_thread application runtime, the thread in its `block_on` is the only one that
/// runs its tasks: a call from there falls back to a one-off runtime instead of waiting for
/// itself.
#[test]
fn a_call_from_a_current_thread_application_falls_back() {
    bounded("current_thread application", || {
        let app = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let bridge = attached(app.handle()).build();
        let n = app
            .block_on(async {
                bridge.call(async {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    6
                })
            })
            .unwrap();
        assert_eq!(n, 6);
        assert_eq!(bridge.stats().nested, 1);
    });
}

/// Reports, as it is dropped, which runtime's context it is dropped in.
struct InContext(mpsc::Sender<Option<Id>>);

impl Drop for InContext {
    fn drop(&mut self) {
        let _ = self
            .0
            .send(Handle::try_current().ok().map(|handle| handle.id()));
    }
}

/// What the current_thread flavour holds at shutdown (a local future still pending, and a
/// local task it spawned) is dropped inside the runtime's context, where a `Drop` that needs
/// `Handle::current()` (to spawn a cleanup task, say) works.
#[test]
fn a_current_thread_runtime_drops_what_it_holds_in_its_context() {
    bounded("dropped in context", || {
        let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
        let id = runtime_id(&bridge);
        let (dropped_tx, dropped) = mpsc::channel();
        let (started_tx, started) = mpsc::channel();
        let caller = {
            let bridge = bridge.clone();
            thread::spawn(move || {
                bridge.call_local(move || async move {
                    let spawned = InContext(dropped_tx.clone());
                    tokio::task::spawn_local(pending_with(spawned));
                    started_tx.send(()).unwrap();
                    pending_with(InContext(dropped_tx)).await
                })
            })
        };
        started.recv_timeout(PATIENCE).unwrap();
        assert!(bridge.shutdown_timeout(PATIENCE));
        assert!(caller.join().unwrap().unwrap_err().is_shutdown());
        for _ in 0..2 {
            let context = dropped
                .recv_timeout(PATIENCE)
                .expect("a future was never dropped");
            assert_eq!(context, Some(id), "dropped outside the runtime's context");
        }
    });
}

/// An application runtime busy with a backlog of its own tasks, three probe windows long,
/// is not retired when a bridged call on it times out: the bridge's probe waits behind the
/// backlog, but the application's tasks keep finishing, which the adapter reports as the
/// runtime's activity.
#[test]
fn a_busy_application_runtime_is_not_retired() {
    const PROBE: Duration = Duration::from_millis(500);
    bounded("busy application", || {
        let app = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let bridge = attached(app.handle()).probe_timeout(PROBE).build();
        bridge.start().unwrap();
        let backlog: Vec<_> = (0..15)
            .map(|i| {
                app.spawn(async move {
                    thread::sleep(Duration::from_millis(100));
                    i
                })
            })
            .collect();
        let err = bridge
            .call_timeout(futures_lite::future::pending::<()>(), SHORT)
            .unwrap_err();
        assert!(err.is_timed_out(), "{err:?}");
        assert_eq!(
            bridge.stats().retired,
            0,
            "the application's busy runtime was retired"
        );
        let done = app.block_on(async {
            let mut done = Vec::new();
            for task in backlog {
                done.push(task.await.unwrap());
            }
            done
        });
        assert_eq!(done, (0..15).collect::<Vec<_>>());
        assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
        assert_eq!(bridge.stats().started, 1);
    });
}

/// A caller-driven call's future sees its bridge's runtime from the caller's thread, on every
/// flavour: it is polled on the caller, `Handle::current()` is the bridge's runtime, a
/// `tokio::spawn` runs there (on a thread of that runtime), a tokio timer fires, and a
/// timed-out future is dropped on the caller, inside that runtime's context, before the call
/// returns.
#[test]
fn caller_driven_calls_poll_on_the_caller_inside_the_runtimes_context() {
    bounded("caller-driven calls and tokio's context", || {
        let app = app::runtime();
        let handle = app.handle().clone();
        let flavours: Vec<BridgeBuilder> = vec![
            Bridge::builder().runtime(TokioRuntime::current_thread),
            Bridge::builder().runtime(multi_thread),
            attached(&handle),
        ];
        for builder in flavours {
            let bridge = builder.drive(loopbridge::Drive::Caller).build();
            let runtime = bridge
                .spawn(async { Handle::current().id() })
                .unwrap()
                .join()
                .unwrap();
            let caller = thread::current().id();
            let (polled_on, current, spawned) = bridge
                .call(async {
                    let polled_on = thread::current().id();
                    let current = Handle::current().id();
                    let spawned =
                        tokio::spawn(async { (Handle::current().id(), thread::current().id()) })
                            .await
                            .unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    (polled_on, current, spawned)
                })
                .unwrap();
            assert_eq!(polled_on, caller, "polled on the caller's thread");
            assert_eq!(current, runtime, "inside the bridge's runtime's context");
            assert_eq!(spawned.0, runtime, "a spawn reaches the bridge's runtime");
            assert_ne!(spawned.1, caller, "and runs on its threads");

            /// Reports where it is dropped, and which runtime's context it sees there.
            struct SeesContext(mpsc::Sender<(thread::ThreadId, Option<Id>)>);
            impl Drop for SeesContext {
                fn drop(&mut self) {
                    let context = Handle::try_current().ok().map(|handle| handle.id());
                    let _ = self.0.send((thread::current().id(), context));
                }
            }
            let (seen, dropped) = mpsc::channel();
            let guard = SeesContext(seen);
            let err = bridge
                .call_timeout(
                    async move {
                        let _guard = guard;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    },
                    SHORT,
                )
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            assert_eq!(
                dropped.try_recv(),
                Ok((caller, Some(runtime))),
                "dropped on the caller, inside the runtime's context, before the call returned"
            );
        }
        drop(app);
    });
}
