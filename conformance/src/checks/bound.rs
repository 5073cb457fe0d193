//! The conformance checks of one area: Beyond whole futures: runtime-bound values, blocking
//! iterators over streams, and `std::io` over async sockets.

#[allow(unused_imports)]
use super::super::*;

use std::{
    io::{BufRead, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
};

use async_io::Async;

/// A value made by a `Bound`'s maker: its serial number, where it was made, and a signal that
/// reports where it is dropped.
struct Made {
    serial: usize,
    made_on: String,
    _dropped: DropSignal,
}

/// A `Bound` whose maker counts and reports every value it makes, by serial number.
fn counting(
    bridge: &Bridge,
) -> (
    loopbridge::Bound<Made>,
    mpsc::Receiver<(usize, mpsc::Receiver<String>)>,
) {
    let serials = Arc::new(AtomicUsize::new(0));
    let (made, reports) = mpsc::channel();
    let made = std::sync::Mutex::new(made);
    let bound = bridge.bind(move || {
        let serial = serials.fetch_add(1, Ordering::SeqCst) + 1;
        let (signal, dropped) = DropSignal::new();
        let _ = made.lock().unwrap().send((serial, dropped));
        async move {
            Made {
                serial,
                made_on: thread_name(),
                _dropped: signal,
            }
        }
    });
    (bound, reports)
}

/// A `Bound` whose every value panics when dropped, and reports its drop first.
fn bombs(
    bridge: &Bridge,
) -> (
    loopbridge::Bound<PanicOnDrop>,
    mpsc::Receiver<mpsc::Receiver<String>>,
) {
    let (made, reports) = mpsc::channel();
    let made = std::sync::Mutex::new(made);
    let bound = bridge.bind(move || {
        let (bomb, dropped) = PanicOnDrop::new();
        let _ = made.lock().unwrap().send(dropped);
        async move { bomb }
    });
    (bound, reports)
}

/// Makes `bound`'s value on the runtime with a call, and returns the receiver its drop reports
/// to.
fn made(
    bound: &loopbridge::Bound<PanicOnDrop>,
    reports: &mpsc::Receiver<mpsc::Receiver<String>>,
) -> mpsc::Receiver<String> {
    bound.call(|_| async {}).unwrap();
    reports.recv_timeout(PATIENCE).expect("the value was made")
}

fn serial(bound: &loopbridge::Bound<Made>) -> usize {
    bound
        .call(|made| {
            let serial = made.serial;
            async move { serial }
        })
        .unwrap()
}

impl Suite {
    /// **Bound values.** A bound value whose `Drop` panics (one that owns a tokio `Runtime`
    /// panics when dropped inside an async context, say) never takes the process down: its
    /// panic is contained wherever it goes, when its runtime is retired, when the last clone
    /// of its `Bound` goes and at shutdown, and it is dropped all the same. (A runtime that
    /// stopped used to drop the job that drops the values unrun, and async-task aborts the
    /// process on a panic as it drops a task's future.)
    pub fn a_bound_values_panicking_drop_is_contained(&self) {
        let suite = self.clone();
        bounded("a_bound_values_panicking_drop_is_contained", move || {
            let bridge = suite.bridge();
            if suite.owns_runtime() {
                let (bound, reports) = bombs(&bridge);
                let dropped = made(&bound, &reports);
                let latch = Latch::new();
                let blockers = support::retire(&bridge, suite.thread_count(), &latch);
                latch.release();
                for blocker in blockers {
                    let _ = blocker.join();
                }
                dropped
                    .recv_timeout(PATIENCE)
                    .expect("a value is dropped when its runtime is retired");
            }
            let (bound, reports) = bombs(&bridge);
            let dropped = made(&bound, &reports);
            drop(bound);
            dropped
                .recv_timeout(PATIENCE)
                .expect("a value is dropped when its last `Bound` goes");
            assert_eq!(bridge.call(async { 1 }).unwrap(), 1, "the bridge serves on");

            let (bound, reports) = bombs(&bridge);
            let dropped = made(&bound, &reports);
            assert!(bridge.shutdown_timeout(PATIENCE));
            dropped
                .recv_timeout(PATIENCE)
                .expect("a value is dropped at shutdown");
            drop(bound);
        });
    }

    /// **Bound values.** A bound value is made once, inside the runtime's context (on the
    /// runtime, or on the caller that drives the first call), and serves every call and every
    /// caller after; concurrent first calls make it once. Dropping the last clone of the `Bound`
    /// drops it on the runtime, not on the caller's thread.
    pub fn bound_values_are_made_once_on_the_runtime(&self) {
        let suite = self.clone();
        bounded("bound_values_are_made_once_on_the_runtime", move || {
            let bridge = suite.bridge();
            let caller = thread_name();
            let (bound, made) = counting(&bridge);
            let start = Arc::new(Barrier::new(8));
            let callers: Vec<_> = (0..8)
                .map(|_| {
                    let (bound, start) = (bound.clone(), start.clone());
                    thread::spawn(move || {
                        start.wait();
                        (0..20).map(|_| serial(&bound)).collect::<Vec<_>>()
                    })
                })
                .collect();
            for caller in callers {
                assert!(caller.join().unwrap().iter().all(|&serial| serial == 1));
            }
            let (serial, dropped) = made.try_recv().expect("the value was made");
            assert_eq!(serial, 1);
            assert!(
                made.try_recv().is_err(),
                "160 calls made the value more than once"
            );
            let made_on = bound
                .call(|made| {
                    let on = made.made_on.clone();
                    async move { on }
                })
                .unwrap();
            if !suite.caller_driven() {
                assert!(
                    is_runtime_thread_name(&made_on),
                    "the maker ran on {made_on}"
                );
            }
            assert!(format!("{bound:?}").contains("made_on_generations: [1]"));
            let clone = bound.clone();
            drop(bound);
            assert!(
                dropped.try_recv().is_err(),
                "dropped while a clone was alive"
            );
            drop(clone);
            let dropped_on = dropped
                .recv_timeout(PATIENCE)
                .expect("the value was dropped");
            assert_ne!(
                dropped_on, caller,
                "the value was dropped on the caller's thread"
            );
            assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
        });
    }

    /// **Bound values.** After a forced retirement, the next call gets a value made afresh on
    /// the new generation; the old value is dropped with its generation, once its stuck thread
    /// is free. A shutdown drops the value on the runtime too; a per-call bridge makes it for
    /// every call and drops it after.
    pub fn bound_values_follow_their_runtime(&self) {
        let suite = self.clone();
        bounded("bound_values_follow_their_runtime", move || {
            let caller = thread_name();
            let bridge = suite.bridge();
            let (bound, made) = counting(&bridge);
            assert_eq!(serial(&bound), 1);
            let (_, first_dropped) = made.try_recv().unwrap();
            let latch = Latch::new();
            let wedges = support::retire(&bridge, suite.threads, &latch);
            if !suite.owns_runtime {
                latch.release();
            }
            assert_eq!(
                serial(&bound),
                2,
                "a call after the retirement used the old value"
            );
            latch.release();
            for wedge in wedges {
                let _ = wedge.join();
            }
            let dropped_on = first_dropped
                .recv_timeout(PATIENCE)
                .expect("the retired generation's value was dropped");
            assert_ne!(dropped_on, caller);
            let (_, second_dropped) = made.try_recv().unwrap();
            bridge.shutdown();
            let dropped_on = second_dropped
                .recv_timeout(PATIENCE)
                .expect("shutdown dropped the value");
            assert_ne!(dropped_on, caller);
            assert!(bound.call(|_| async {}).unwrap_err().is_shutdown());

            let per_call = suite.builder().per_call().build();
            let (bound, made) = counting(&per_call);
            assert_eq!(serial(&bound), 1);
            assert_eq!(
                serial(&bound),
                2,
                "a per-call bridge makes the value for every call"
            );
            for _ in 0..2 {
                let (_, dropped) = made.try_recv().unwrap();
                let dropped_on = dropped
                    .recv_timeout(PATIENCE)
                    .expect("dropped after its call");
                assert_ne!(dropped_on, caller);
            }
        });
    }

    /// **Bound values.** A maker that fails reaches the call that needed the value as
    /// `BridgeError::Make`, with its error; the next call runs it again. A maker that panics
    /// panics the caller, and the next call runs it again too.
    pub fn bound_makers_can_fail(&self) {
        let suite = self.clone();
        bounded("bound_makers_can_fail", move || {
            let bridge = suite.bridge();
            let attempts = Arc::new(AtomicUsize::new(0));
            let counted = attempts.clone();
            let bound = bridge.try_bind(move || {
                let attempt = counted.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    match attempt {
                        1 => Err(io::Error::other("connection refused")),
                        2 => panic!("the maker panics, on purpose"),
                        _ => Ok(attempt),
                    }
                }
            });
            let get = || {
                bound.call(|attempt| {
                    let attempt = *attempt;
                    async move { attempt }
                })
            };
            let err = get().unwrap_err();
            assert!(err.is_make(), "{err:?}");
            let source = std::error::Error::source(&err).expect("the maker's error");
            assert_eq!(source.to_string(), "connection refused");
            let panicked = panic::catch_unwind(AssertUnwindSafe(get));
            assert!(panicked.is_err(), "the maker's panic reaches the caller");
            assert_eq!(get().unwrap(), 3);
            assert_eq!(get().unwrap(), 3);
            assert_eq!(attempts.load(Ordering::SeqCst), 3);
        });
    }

    /// **Streams.** `Bridge::iter` yields a stream's items and ends with it; a stream's own
    /// error items come through as items; `next_timeout` leaves the stream where it was; and
    /// an iterator dropped halfway drops its stream on the runtime.
    pub fn streams_iterate_on_the_runtime(&self) {
        let suite = self.clone();
        bounded("streams_iterate_on_the_runtime", move || {
            let bridge = suite.bridge();
            let caller = thread_name();
            let numbers = futures_lite::stream::iter(1..=5);
            let all: Vec<u32> = bridge.iter(numbers).collect::<Result<_, _>>().unwrap();
            assert_eq!(all, [1, 2, 3, 4, 5]);

            let failing = futures_lite::stream::iter(vec![Ok(1), Err("bad page"), Ok(3)]);
            let items: Vec<_> = bridge.iter(failing).map(Result::unwrap).collect();
            assert_eq!(items, [Ok(1), Err("bad page"), Ok(3)]);

            let (tx, rx) = async_channel::unbounded::<u32>();
            let (signal, dropped) = DropSignal::new();
            let polled_on = Arc::new(std::sync::Mutex::new(Vec::new()));
            let seen = polled_on.clone();
            let guarded = futures_lite::stream::unfold((rx, signal), move |(rx, signal)| {
                seen.lock().unwrap().push(thread_name());
                async move {
                    let item = rx.recv().await.ok()?;
                    Some((item, (rx, signal)))
                }
            });
            let mut items = bridge.iter(guarded);
            tx.try_send(1).unwrap();
            assert_eq!(items.next().unwrap().unwrap(), 1);
            let err = items.next_timeout(SHORT).unwrap_err();
            assert!(err.is_timed_out());
            tx.try_send(2).unwrap();
            assert_eq!(
                items.next_timeout(PATIENCE).unwrap(),
                Some(2),
                "the stream went on where it was after a timeout"
            );
            assert!(dropped.try_recv().is_err());
            drop(items);
            let dropped_on = dropped
                .recv_timeout(PATIENCE)
                .expect("the stream was dropped");
            assert_ne!(
                dropped_on, caller,
                "the stream was dropped on the caller's thread"
            );
            let polled_on = polled_on.lock().unwrap();
            if suite.caller_driven() {
                assert!(
                    polled_on.iter().all(|on| *on == caller),
                    "a caller-driven stream is polled on its caller: {polled_on:?}"
                );
            } else {
                assert!(polled_on.iter().all(|on| *on != caller), "{polled_on:?}");
            }
        });
    }

    /// **I/O.** `Bridge::reader` reads 1 MiB from a real socket byte for byte; a read from a
    /// stalled peer times out with `TimedOut` and leaves the reader usable. `Bridge::writer`
    /// writes to a socket, and `close` reports the error of a peer that reset the connection
    /// while the last bytes waited in a buffer.
    pub fn io_over_the_bridge(&self) {
        let suite = self.clone();
        bounded("io_over_the_bridge", move || {
            let bridge = suite.bridge();
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let address = listener.local_addr().unwrap();
            let body: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
            let (resume, resumed) = mpsc::channel::<()>();
            let server = {
                let body = body.clone();
                thread::spawn(move || {
                    let (mut peer, _) = listener.accept().unwrap();
                    peer.write_all(&body).unwrap();
                    // Stalls until the reader has timed out once.
                    resumed.recv().unwrap();
                    peer.write_all(b"tail\n").unwrap();
                    peer.shutdown(Shutdown::Write).unwrap();
                    listener
                })
            };
            let socket = Async::<TcpStream>::connect(address);
            let socket = futures_lite::future::block_on(socket).unwrap();
            let mut reader = bridge.reader(socket);
            reader.set_timeout(Some(PATIENCE));
            let mut received = vec![0; body.len()];
            reader.read_exact(&mut received).unwrap();
            assert!(received == body, "1 MiB through the reader, byte for byte");
            reader.set_timeout(Some(SHORT));
            let err = reader.read(&mut [0; 16]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::TimedOut);
            assert!(BridgeError::from_io(&err).is_some_and(BridgeError::is_timed_out));
            resume.send(()).unwrap();
            reader.set_timeout(Some(PATIENCE));
            let mut tail = String::new();
            reader.read_line(&mut tail).unwrap();
            assert_eq!(tail, "tail\n", "the reader went on after its timeout");
            assert_eq!(reader.read(&mut [0; 16]).unwrap(), 0);
            drop(reader);

            let listener = server.join().unwrap();
            let accepted = thread::spawn(move || listener.accept().unwrap().0);
            let socket = Async::<TcpStream>::connect(address);
            let socket = futures_lite::future::block_on(socket).unwrap();
            // The same socket, to watch for the reset (a signal, not a sleep).
            let probe = socket.get_ref().try_clone().unwrap();
            // Buffered, as most writers are: what `close` flushes last is where errors show.
            let mut writer = bridge.writer(futures_lite::io::BufWriter::new(socket));
            writer.set_timeout(Some(PATIENCE));
            writer.write_all(b"hello, and more").unwrap();
            writer.flush().unwrap();
            let mut peer = accepted.join().unwrap();
            let mut hello = [0; 5];
            peer.read_exact(&mut hello).unwrap();
            assert_eq!(&hello, b"hello");
            // Closing with bytes left unread resets the connection.
            assert!(support::eventually(
                || peer.peek(&mut [0; 8]).unwrap_or(0) == 8
            ));
            drop(peer);
            assert!(
                support::eventually(|| matches!(probe.take_error(), Ok(Some(_)))),
                "the reset reached the writer's socket"
            );
            writer.write_all(b"last words").unwrap();
            let closed = writer.close();
            assert!(closed.is_err(), "close() must report the peer's reset");
        });
    }
}
