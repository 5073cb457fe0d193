//! The conformance checks of one area: Cancellation: tokens, scopes with deadlines and checks,
//! and confirmed cancellation.

#[allow(unused_imports)]
use super::super::*;

use std::time::Instant;

use loopbridge::{CancelToken, Scope};

/// A future that panics if it is ever polled: for calls that must return without polling.
async fn never_polled() {
    panic!("loopbridge conformance: a call stopped before it started polled its future");
}

/// Starts a thread that cancels `token` once `started` reports that the call is in flight.
fn cancel_when_started(token: &CancelToken, started: mpsc::Receiver<()>) -> thread::JoinHandle<()> {
    let token = token.clone();
    thread::spawn(move || {
        let _ = started.recv_timeout(PATIENCE);
        token.cancel();
    })
}

/// Makes a call under a scope that watches `token`: the call's future reports that it started,
/// then waits on `guard` forever, and another thread cancels `token` once it started. Returns
/// the call's error, and that thread for the check to join.
fn call_cancelled_once_started<G: Send + 'static>(
    bridge: &Bridge,
    token: &CancelToken,
    guard: G,
) -> (BridgeError, thread::JoinHandle<()>) {
    let (started_tx, started) = mpsc::channel();
    let canceller = cancel_when_started(token, started);
    let err = Scope::new()
        .cancel_on(token)
        .run(|| {
            bridge.call(async move {
                started_tx.send(()).unwrap();
                pending_with(guard).await
            })
        })
        .unwrap_err();
    (err, canceller)
}

impl Suite {
    /// **Cancellation.** A token cancelled from another thread wakes the call blocked under
    /// it at once: the call fails with `Cancelled` and its future is dropped; a call made
    /// after the cancel fails at once, without polling its future. A `join` under the token
    /// fails too, and its task is cancelled.
    pub fn a_token_cancels_calls_from_another_thread(&self) {
        let suite = self.clone();
        bounded("a_token_cancels_calls_from_another_thread", move || {
            let bridge = suite.bridge();
            let token = CancelToken::new();
            let (guard, dropped) = DropSignal::new();
            let (err, canceller) = call_cancelled_once_started(&bridge, &token, guard);
            assert!(err.is_cancelled(), "{err:?}");
            canceller.join().unwrap();
            let on = dropped
                .recv_timeout(PATIENCE)
                .expect("the cancelled future was never dropped");
            suite.assert_dropped_where_driven(&on, &thread_name());
            // Already cancelled: no poll at all.
            let again = Scope::new()
                .cancel_on(&token)
                .run(|| bridge.call(never_polled()));
            assert!(again.unwrap_err().is_cancelled());

            // A join under a token: the task is cancelled with the wait.
            let token = CancelToken::new();
            let (started_tx, started) = mpsc::channel();
            let (guard, dropped) = DropSignal::new();
            let task = bridge
                .spawn(async move {
                    started_tx.send(()).unwrap();
                    pending_with(guard).await
                })
                .unwrap();
            let canceller = cancel_when_started(&token, started);
            let err = Scope::new()
                .cancel_on(&token)
                .run(|| task.join())
                .unwrap_err();
            assert!(err.is_cancelled(), "{err:?}");
            canceller.join().unwrap();
            dropped
                .recv_timeout(PATIENCE)
                .expect("the joined task was not cancelled with its join");
            assert_eq!(bridge.call(async { 1 }).unwrap(), 1, "the bridge serves on");
            assert_eq!(bridge.stats().retired, 0);
        });
    }

    /// **Cancellation.** A scope's deadline: a call made after it passed fails at once with
    /// `TimedOut`, without a poll; a pending call times out at it; with `call_timeout`, the
    /// earlier of the two deadlines wins.
    pub fn scope_deadlines_bound_every_call(&self) {
        let suite = self.clone();
        bounded("scope_deadlines_bound_every_call", move || {
            let bridge = suite.patient_bridge();
            let expired = Scope::new()
                .deadline(Instant::now())
                .run(|| bridge.call(never_polled()));
            assert!(expired.unwrap_err().is_timed_out());

            let (guard, dropped) = DropSignal::new();
            let err = Scope::new()
                .timeout(SHORT)
                .run(|| bridge.call(pending_with(guard)))
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            dropped
                .recv_timeout(PATIENCE)
                .expect("dropped at the scope's deadline");

            // The scope's deadline is the earlier one: the call's own long timeout does not
            // extend it.
            let err = Scope::new()
                .timeout(SHORT)
                .run(|| bridge.call_timeout(std::future::pending::<()>(), PATIENCE))
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            // The call's is the earlier one: the scope's long deadline does not extend it.
            let err = Scope::new()
                .timeout(PATIENCE)
                .run(|| bridge.call_timeout(std::future::pending::<()>(), SHORT))
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            // One deadline over several calls: each gets what is left of it.
            let outcome = Scope::new().timeout(PATIENCE).run(|| {
                let a = bridge.call(async { 1 })?;
                let b = bridge.call(async { 2 })?;
                Ok::<_, BridgeError>(a + b)
            });
            assert_eq!(outcome.unwrap(), 3);
            // No deadline at all.
            let endless = Scope::new()
                .timeout(Duration::MAX)
                .run(|| bridge.call(async { 4 }));
            assert_eq!(endless.unwrap(), 4);
            assert_eq!(bridge.stats().retired, 0);
        });
    }

    /// **Cancellation.** Scopes nest, in either order: the tightest deadline wins, and a
    /// token of the outer scope or of the inner one cancels the calls of the inner.
    pub fn scopes_nest(&self) {
        let suite = self.clone();
        bounded("scopes_nest", move || {
            let bridge = suite.patient_bridge();
            let pending = || std::future::pending::<()>();
            // A short deadline outside, none inside.
            let err = Scope::new()
                .timeout(SHORT)
                .run(|| Scope::new().run(|| bridge.call(pending())))
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            // A short deadline inside, a long one outside.
            let err = Scope::new()
                .timeout(PATIENCE)
                .run(|| Scope::new().timeout(SHORT).run(|| bridge.call(pending())))
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            // The outer token, cancelled while the inner scope's call waits.
            for outer_cancels in [true, false] {
                let (outer, inner) = (CancelToken::new(), CancelToken::new());
                let (started_tx, started) = mpsc::channel();
                let which = if outer_cancels { &outer } else { &inner };
                let canceller = cancel_when_started(which, started);
                let err = Scope::new()
                    .cancel_on(&outer)
                    .run(|| {
                        Scope::new().cancel_on(&inner).timeout(PATIENCE).run(|| {
                            bridge.call(async move {
                                started_tx.send(()).unwrap();
                                std::future::pending::<()>().await
                            })
                        })
                    })
                    .unwrap_err();
                assert!(err.is_cancelled(), "{err:?}");
                canceller.join().unwrap();
            }
            // Outside the scopes, nothing of them is left.
            assert_eq!(bridge.call_timeout(async { 5 }, PATIENCE).unwrap(), 5);
        });
    }

    /// **Cancellation.** A scope's check runs on the blocked caller at its period; an `Err`
    /// interrupts the call with `Interrupted`, whose source is the check's error, and its
    /// future is dropped.
    pub fn a_failing_check_interrupts_the_call(&self) {
        let suite = self.clone();
        bounded("a_failing_check_interrupts_the_call", move || {
            let bridge = suite.patient_bridge();
            let runs = Arc::new(AtomicUsize::new(0));
            let counted = runs.clone();
            let caller = thread::current().id();
            let (guard, dropped) = DropSignal::new();
            let err = Scope::new()
                .check_every(Duration::from_millis(5), move || {
                    assert_eq!(thread::current().id(), caller, "checks run on the caller");
                    match counted.fetch_add(1, Ordering::SeqCst) {
                        0..=1 => Ok(()),
                        _ => Err(io::Error::other("interrupted by the user")),
                    }
                })
                .run(|| bridge.call(pending_with(guard)))
                .unwrap_err();
            assert!(err.is_interrupted(), "{err:?}");
            let source = std::error::Error::source(&err).expect("the check's error");
            assert_eq!(source.to_string(), "interrupted by the user");
            assert_eq!(runs.load(Ordering::SeqCst), 3);
            dropped
                .recv_timeout(PATIENCE)
                .expect("the interrupted future was dropped");
        });
    }

    /// **Cancellation.** A scope travels into the call's future: a blocking call made from
    /// inside it, on another bridge or (nested) on the same one, obeys the caller's scope and is
    /// cancelled by its token.
    pub fn scopes_travel_into_nested_calls(&self) {
        let suite = self.clone();
        bounded("scopes_travel_into_nested_calls", move || {
            let bridge = suite.bridge();
            let other = suite.bridge();
            for same_bridge in [false, true] {
                let inner_bridge = if same_bridge {
                    bridge.clone()
                } else {
                    other.clone()
                };
                let token = CancelToken::new();
                let (started_tx, started) = mpsc::channel();
                let (inner_tx, inner_result) = mpsc::channel();
                let canceller = cancel_when_started(&token, started);
                // The outer call is a task's, on the runtime, whatever the drive mode: the
                // inner call is made from the runtime, and the task's join obeys the scope too.
                let outer = Scope::new().cancel_on(&token).run(|| {
                    bridge
                        .spawn(async move {
                            let inner = inner_bridge.call(async move {
                                started_tx.send(()).unwrap();
                                std::future::pending::<()>().await
                            });
                            let _ = inner_tx.send(inner.map_err(|e| e.is_cancelled()));
                        })
                        .unwrap()
                        .join()
                });
                // The join obeys the token too, unless the task (whose inner call the token
                // ended first) completed before it noticed: an outcome that arrived wins.
                assert!(
                    matches!(outer, Ok(()) | Err(BridgeError::Cancelled)),
                    "{outer:?}"
                );
                canceller.join().unwrap();
                let inner = inner_result
                    .recv_timeout(PATIENCE)
                    .expect("the inner call never returned: the scope did not travel");
                assert_eq!(
                    inner,
                    Err(true),
                    "the inner call was cancelled by the token"
                );
            }
        });
    }

    /// **Cancellation.** `iter` and `reader` obey a scope: a pending item is cancelled by the
    /// token, a stalled read times out at the scope's deadline, and both go on afterwards.
    pub fn streams_and_readers_obey_a_scope(&self) {
        let suite = self.clone();
        bounded("streams_and_readers_obey_a_scope", move || {
            use std::io::Read;
            let bridge = suite.patient_bridge();
            let (tx, rx) = async_channel::unbounded::<u32>();
            let mut items = bridge.iter(rx);
            let token = CancelToken::new();
            token.cancel();
            let next = Scope::new().cancel_on(&token).run(|| items.next());
            assert!(
                matches!(next, Some(Err(ref e)) if e.is_cancelled()),
                "{next:?}"
            );
            tx.try_send(7).unwrap();
            assert_eq!(items.next().unwrap().unwrap(), 7, "the stream goes on");

            // A peer that sends nothing until told to.
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            let socket = async_io::Async::<std::net::TcpStream>::connect(address);
            let socket = futures_lite::future::block_on(socket).unwrap();
            let (mut peer, _) = listener.accept().unwrap();
            let mut reader = bridge.reader(socket);
            let err = Scope::new()
                .timeout(SHORT)
                .run(|| reader.read(&mut [0; 8]))
                .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err:?}");
            std::io::Write::write_all(&mut peer, b"later").unwrap();
            let mut got = [0; 5];
            reader.read_exact(&mut got).unwrap();
            assert_eq!(&got, b"later", "the reader goes on");
        });
    }

    /// **Cancellation.** With `confirm_cancel`, a call that times out or is cancelled returns
    /// only once its future has been dropped, even when the future's `Drop` takes 100 ms.
    pub fn confirmed_cancellation_waits_for_the_drop(&self) {
        let suite = self.clone();
        bounded("confirmed_cancellation_waits_for_the_drop", move || {
            /// Takes 100 ms to drop, and says when it is done.
            struct SlowDrop(Arc<AtomicBool>);
            impl Drop for SlowDrop {
                fn drop(&mut self) {
                    thread::sleep(Duration::from_millis(100));
                    self.0.store(true, Ordering::SeqCst);
                }
            }
            let bridge = suite
                .builder()
                .probe_timeout(PATIENCE)
                .confirm_cancel(PATIENCE)
                .build();
            let done = Arc::new(AtomicBool::new(false));
            let slow = SlowDrop(done.clone());
            let err = bridge.call_timeout(pending_with(slow), SHORT).unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            assert!(
                done.load(Ordering::SeqCst),
                "returned before its future was dropped"
            );

            let done = Arc::new(AtomicBool::new(false));
            let slow = SlowDrop(done.clone());
            let (err, canceller) = call_cancelled_once_started(&bridge, &CancelToken::new(), slow);
            assert!(err.is_cancelled(), "{err:?}");
            assert!(
                done.load(Ordering::SeqCst),
                "returned before its future was dropped"
            );
            canceller.join().unwrap();
            assert_eq!(bridge.stats().unconfirmed_cancels, 0);
        });
    }
}
