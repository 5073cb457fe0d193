//! Runtime-bound values, streams and `std::io` on every tokio flavour, with reqwest's async
//! client against a real hyper server on 127.0.0.1.

mod app;
mod support;

use std::{
    io::{BufRead, Read, Write},
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
        mpsc,
    },
};

use futures_lite::StreamExt;
use loopbridge::{Bound, Bridge, BridgeError};
use loopbridge_conformance::support::{Latch, PATIENCE, SHORT, bounded, eventually, retire};
use loopbridge_tokio::TokioRuntime;
use support::{Server, big_body};

/// A bridge of the flavour under test, with the number of threads that run its tasks.
type Flavour = fn() -> (Bridge, usize);

fn current_thread() -> (Bridge, usize) {
    (Bridge::with_runtime(TokioRuntime::current_thread), 1)
}

fn multi_thread() -> (Bridge, usize) {
    (Bridge::with_runtime(|| TokioRuntime::multi_thread(2)), 2)
}

fn from_handle() -> (Bridge, usize) {
    let app = app::runtime();
    let handle = app.handle().clone();
    // An application's runtime lives as long as the process.
    std::mem::forget(app);
    let bridge = Bridge::with_runtime(move || TokioRuntime::from_handle(handle.clone()));
    (bridge, 2)
}

/// One `#[test]` per flavour for each check, named after both.
macro_rules! on_every_flavour {
    ($($check:ident),* $(,)?) => {
        mod current_thread {
            $(#[test] fn $check() { super::$check(super::current_thread) })*
        }
        mod multi_thread {
            $(#[test] fn $check() { super::$check(super::multi_thread) })*
        }
        mod from_handle {
            $(#[test] fn $check() { super::$check(super::from_handle) })*
        }
    };
}

on_every_flavour!(
    a_bound_client_keeps_one_connection_for_100_gets,
    the_maker_runs_inside_the_runtime,
    values_are_dropped_inside_the_runtime_context,
    a_body_through_reader_matches_and_times_out_on_a_stall,
    a_body_line_by_line_through_iter,
    writer_close_reports_the_peers_reset,
);

fn reqwest_client(bridge: &Bridge) -> Bound<reqwest::Client> {
    bridge.bind(|| async { reqwest::Client::new() })
}

fn get(client: &Bound<reqwest::Client>, url: String) -> Result<String, BridgeError> {
    client
        .call_timeout(
            |client| {
                let request = client.get(url);
                async move { request.send().await?.text().await }
            },
            PATIENCE,
        )?
        .map_err(|err| BridgeError::Make(err.into()))
}

fn a_bound_client_keeps_one_connection_for_100_gets(flavour: Flavour) {
    bounded(
        "a_bound_client_keeps_one_connection_for_100_gets",
        move || {
            let server = Server::start();
            let (bridge, _) = flavour();
            let client = reqwest_client(&bridge);
            for call in 0..100 {
                assert_eq!(
                    get(&client, server.url("/")).unwrap(),
                    "hello",
                    "call {call}"
                );
            }
            assert_eq!(
                server.connections(),
                1,
                "100 GETs must share one pooled connection"
            );
        },
    );
}

/// A client that spawns a task of its runtime as it is built, as many tokio clients do (a
/// pool's reaper, a connection's dispatch task): built outside a runtime it panics.
struct Spawning {
    background: tokio::task::JoinHandle<()>,
    flavor: String,
}

fn the_maker_runs_inside_the_runtime(flavour: Flavour) {
    bounded("the_maker_runs_inside_the_runtime", move || {
        let (bridge, _) = flavour();
        let client = bridge.bind(|| async {
            Spawning {
                background: tokio::spawn(std::future::pending()),
                flavor: format!("{:?}", tokio::runtime::Handle::current().runtime_flavor()),
            }
        });
        let (running, flavor) = client
            .call(|client| {
                let answer = (!client.background.is_finished(), client.flavor.clone());
                async move { answer }
            })
            .unwrap();
        assert!(
            running,
            "the client's background task runs on the bridge's runtime"
        );
        let expected = bridge
            .call(async { format!("{:?}", tokio::runtime::Handle::current().runtime_flavor()) });
        assert_eq!(flavor, expected.unwrap());
    });
}

/// Reports, as it is dropped, whether it was dropped inside a tokio runtime's context.
struct NeedsContext(mpsc::Sender<bool>);

impl Drop for NeedsContext {
    fn drop(&mut self) {
        let _ = self.0.send(tokio::runtime::Handle::try_current().is_ok());
    }
}

fn values_are_dropped_inside_the_runtime_context(flavour: Flavour) {
    bounded("values_are_dropped_inside_the_runtime_context", move || {
        let in_context = |bridge: &Bridge, end: &dyn Fn(&Bridge, Bound<NeedsContext>)| {
            let (tx, dropped) = mpsc::channel();
            let tx = Mutex::new(tx);
            let bound = bridge.bind(move || {
                let tx = tx.lock().unwrap().clone();
                async move { NeedsContext(tx) }
            });
            bound.call(|_| async {}).unwrap();
            end(bridge, bound);
            dropped
                .recv_timeout(PATIENCE)
                .expect("the value was dropped")
        };
        let (bridge, threads) = flavour();
        // The last clone dropped.
        assert!(
            in_context(&bridge, &|_, bound| drop(bound)),
            "after the last clone"
        );
        // The generation retired.
        assert!(
            in_context(&bridge, &|bridge, bound| {
                let latch = Latch::new();
                let wedges = retire(bridge, threads, &latch);
                latch.release();
                for wedge in wedges {
                    let _ = wedge.join();
                }
                std::mem::forget(bound);
            }),
            "after a retirement"
        );
        // Shutdown.
        assert!(
            in_context(&bridge, &|bridge, bound| {
                bridge.shutdown();
                drop(bound);
            }),
            "at shutdown"
        );
        // A runtime per call.
        let (tx, dropped) = mpsc::channel();
        let tx = Mutex::new(tx);
        let per_call = Bridge::per_call(TokioRuntime::current_thread);
        let bound = per_call.bind(move || {
            let tx = tx.lock().unwrap().clone();
            async move { NeedsContext(tx) }
        });
        bound.call(|_| async {}).unwrap();
        assert!(
            dropped.recv_timeout(PATIENCE).unwrap(),
            "after a per-call runtime's call"
        );
    });
}

fn a_body_through_reader_matches_and_times_out_on_a_stall(flavour: Flavour) {
    bounded(
        "a_body_through_reader_matches_and_times_out_on_a_stall",
        move || {
            let server = Server::start();
            let (bridge, _) = flavour();
            let client = reqwest_client(&bridge);
            let open = |path: &str| {
                let url = server.url(path);
                let body = client
                    .call(|client| {
                        let request = client.get(url);
                        async move {
                            let response = request.send().await?.error_for_status()?;
                            Ok::<_, reqwest::Error>(
                                response
                                    .bytes_stream()
                                    .map(|chunk| chunk.map_err(std::io::Error::other)),
                            )
                        }
                    })
                    .unwrap()
                    .unwrap();
                loopbridge_tokio::reader(&bridge, tokio_util::io::StreamReader::new(body))
            };
            let mut big = open("/big");
            big.set_timeout(Some(PATIENCE));
            let mut received = Vec::new();
            big.read_to_end(&mut received).unwrap();
            assert!(received == big_body(), "1 MiB body, byte for byte");

            let mut stalled = open("/stall");
            stalled.set_timeout(Some(SHORT));
            let mut line = String::new();
            stalled.read_line(&mut line).unwrap();
            assert_eq!(line, "partial\n");
            let err = stalled.read(&mut [0; 8]).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
            assert!(BridgeError::from_io(&err).is_some_and(BridgeError::is_timed_out));
            server.unstall();
            stalled.set_timeout(Some(PATIENCE));
            let mut rest = String::new();
            stalled.read_to_string(&mut rest).unwrap();
            assert_eq!(rest, "rest\n", "the reader goes on after a timeout");
            assert_eq!(bridge.stats().retired, 0);
        },
    );
}

fn a_body_line_by_line_through_iter(flavour: Flavour) {
    bounded("a_body_line_by_line_through_iter", move || {
        let server = Server::start();
        let (bridge, threads) = flavour();
        let client = reqwest_client(&bridge);
        let url = server.url("/lines");
        let chunks = client
            .call(|client| {
                let request = client.get(url);
                async move { request.send().await.map(|response| response.bytes_stream()) }
            })
            .unwrap()
            .unwrap();
        let lines: Vec<String> = bridge
            .iter(chunks)
            .map(|chunk| String::from_utf8(chunk.unwrap().unwrap().to_vec()).unwrap())
            .collect();
        assert_eq!(lines, ["one\n", "two\n", "three\n"]);
        // The body was read to its end, so its connection goes back to the pool and serves the
        // GETs after it. hyper returns it from a task of its own, which a multi-thread runtime
        // may run on another worker only after the next GET has checked out: that GET then
        // opens a second connection (see the README's "Real HTTP clients"). So one connection
        // in all on current_thread, and at most two on the multi-thread flavours, however many
        // GETs follow.
        for _ in 0..5 {
            assert_eq!(get(&client, server.url("/")).unwrap(), "hello");
        }
        let allowed = if threads == 1 { 1 } else { 2 };
        assert!(
            server.connections() <= allowed,
            "{} connections for a streamed body and 5 GETs on {threads} thread(s)",
            server.connections()
        );
    });
}

fn writer_close_reports_the_peers_reset(flavour: Flavour) {
    bounded("writer_close_reports_the_peers_reset", move || {
        let (bridge, _) = flavour();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let connected = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        // The same socket, to watch for the reset (a signal, not a sleep).
        let probe = connected.try_clone().unwrap();
        connected.set_nonblocking(true).unwrap();
        let socket = bridge
            .call(async move { tokio::net::TcpStream::from_std(connected) })
            .unwrap()
            .unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        // Buffered, as most writers are: what `close` flushes last is where errors show.
        let mut writer = loopbridge_tokio::writer(&bridge, tokio::io::BufWriter::new(socket));
        writer.set_timeout(Some(PATIENCE));
        writer.write_all(b"hello, and more").unwrap();
        writer.flush().unwrap();
        let mut hello = [0; 5];
        peer.read_exact(&mut hello).unwrap();
        assert_eq!(&hello, b"hello");
        // Closing with bytes left unread resets the connection.
        assert!(eventually(|| peer.peek(&mut [0; 8]).unwrap_or(0) == 8));
        drop(peer);
        assert!(eventually(|| matches!(probe.take_error(), Ok(Some(_)))));
        writer.write_all(b"last words").unwrap();
        let closed = writer.close();
        assert!(closed.is_err(), "close() must report the peer's reset");
    });
}

#[test]
fn a_forced_retirement_makes_a_fresh_client() {
    for flavour in [current_thread as Flavour, multi_thread] {
        bounded("a_forced_retirement_makes_a_fresh_client", move || {
            let server = Server::start();
            let (bridge, threads) = flavour();
            let made = Arc::new(AtomicUsize::new(0));
            let counted = made.clone();
            let client = bridge.bind(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                async { reqwest::Client::new() }
            });
            assert_eq!(get(&client, server.url("/")).unwrap(), "hello");
            let latch = Latch::new();
            let wedges = retire(&bridge, threads, &latch);
            // The old runtime is still stuck: the next call runs on a fresh one, with a fresh
            // client, and neither stalls nor finds its connection's dispatch task gone.
            assert_eq!(get(&client, server.url("/")).unwrap(), "hello");
            assert_eq!(made.load(Ordering::SeqCst), 2);
            assert_eq!(server.connections(), 2);
            latch.release();
            for wedge in wedges {
                assert!(wedge.join().unwrap_err().is_retired());
            }
            for _ in 0..10 {
                assert_eq!(get(&client, server.url("/")).unwrap(), "hello");
            }
            assert_eq!(made.load(Ordering::SeqCst), 2);
            assert_eq!(server.connections(), 2);
        });
    }
}
