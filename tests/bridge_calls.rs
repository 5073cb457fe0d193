//! Semantics 1 (reuse), 2 (callers from anywhere) and 7 (panics).

mod support;

use std::{
    collections::HashSet,
    io::{Read, Write},
    net::TcpListener,
    panic::{self, AssertUnwindSafe},
    sync::{Arc, Barrier},
    thread,
    time::Duration,
};

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopbridge::{Bridge, SmolRuntime};
use support::{bounded, thread_name};

// ===== 1. Reuse =====

#[test]
fn consecutive_calls_run_on_one_thread_of_one_generation() {
    bounded(|| {
        let bridge = Bridge::new();
        let ids: HashSet<_> = (0..100)
            .map(|_| bridge.call(async { thread::current().id() }).unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "every call must run on the same executor thread"
        );
        assert_ne!(ids.into_iter().next(), Some(thread::current().id()));
        assert_eq!(
            bridge.stats().started,
            1,
            "one runtime generation for all calls"
        );
        assert!(
            bridge
                .call(async { thread_name() })
                .unwrap()
                .starts_with("loopbridge-smol")
        );
    });
}

#[test]
fn multi_thread_runtime_uses_only_its_own_threads() {
    bounded(|| {
        let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(3));
        let ids: HashSet<_> = (0..200)
            .map(|_| bridge.call(async { thread::current().id() }).unwrap())
            .collect();
        assert!(
            ids.len() <= 3,
            "calls ran on {} threads, the runtime has 3",
            ids.len()
        );
        assert_eq!(bridge.stats().started, 1);
    });
}

#[test]
fn a_socket_and_a_timer_made_in_one_call_serve_the_next() {
    bounded(|| {
        // A plain echo server on loopback.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 5];
            for _ in 0..3 {
                conn.read_exact(&mut buf).unwrap();
                conn.write_all(&buf).unwrap();
            }
        });

        let bridge = Bridge::new();
        let mut stream = bridge
            .call(async move { Async::<std::net::TcpStream>::connect(addr).await })
            .unwrap()
            .unwrap();
        // Deliberately returns the timer unawaited: it is created in this call, awaited later.
        #[allow(clippy::async_yields_async)]
        let timer = bridge
            .call(async { Timer::after(Duration::from_millis(20)) })
            .unwrap();
        for round in 0..3u8 {
            stream = bridge
                .call(async move {
                    let msg = [b'a' + round; 5];
                    stream.write_all(&msg).await.unwrap();
                    let mut back = [0u8; 5];
                    stream.read_exact(&mut back).await.unwrap();
                    assert_eq!(back, msg);
                    stream
                })
                .unwrap();
        }
        bridge.call(timer).unwrap();
        server.join().unwrap();
        assert_eq!(bridge.stats().started, 1);
    });
}

// ===== 2. Callers from anywhere =====

#[test]
fn many_threads_call_at_once() {
    bounded(|| {
        let bridge = Bridge::new();
        let start = Arc::new(Barrier::new(16));
        let callers: Vec<_> = (0..16u64)
            .map(|t| {
                let bridge = bridge.clone();
                let start = start.clone();
                thread::spawn(move || {
                    start.wait();
                    (0..50u64)
                        .map(|i| bridge.call(async move { t * 1000 + i }).unwrap())
                        .sum::<u64>()
                })
            })
            .collect();
        for (t, caller) in callers.into_iter().enumerate() {
            let expected: u64 = (0..50).map(|i| t as u64 * 1000 + i).sum();
            assert_eq!(caller.join().unwrap(), expected);
        }
        assert_eq!(bridge.stats().started, 1);
    });
}

#[test]
fn call_from_inside_futures_lite_block_on() {
    bounded(|| {
        let bridge = Bridge::new();
        let n = futures_lite::future::block_on(async {
            Timer::after(Duration::from_millis(1)).await;
            bridge.call(async { 5 }).unwrap()
        });
        assert_eq!(n, 5);
    });
}

#[test]
fn call_from_inside_tokio_current_thread() {
    bounded(|| {
        let bridge = Bridge::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let n = rt.block_on(async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let inner = bridge.clone();
            let in_task = tokio::spawn(async move { inner.call(async { 2 }).unwrap() })
                .await
                .unwrap();
            bridge.call(async { 3 }).unwrap() + in_task
        });
        assert_eq!(n, 5);
    });
}

#[test]
fn call_from_inside_tokio_multi_thread() {
    bounded(|| {
        let bridge = Bridge::new();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let bridge = bridge.clone();
                rt.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    bridge.call(async move { i * 2 }).unwrap()
                })
            })
            .collect();
        let total: i32 = rt.block_on(async {
            let mut total = 0;
            for task in tasks {
                total += task.await.unwrap();
            }
            total
        });
        assert_eq!(total, (0..8).map(|i| i * 2).sum());
    });
}

#[test]
fn await_a_bridge_task_from_tokio() {
    bounded(|| {
        let bridge = Bridge::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let v = rt.block_on(async {
            // Needs the async-io reactor, which the bridge drives, not tokio.
            bridge
                .spawn(async {
                    Timer::after(Duration::from_millis(5)).await;
                    thread_name()
                })
                .unwrap()
                .await
                .unwrap()
        });
        assert!(v.starts_with("loopbridge-smol"), "ran on {v}");
    });
}

// ===== 7. Panics =====

fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[test]
fn a_panic_is_reraised_on_the_caller_and_the_thread_survives() {
    bounded(|| {
        let bridge = Bridge::new();
        let before = bridge.call(async { thread::current().id() }).unwrap();
        let payload = panic::catch_unwind(AssertUnwindSafe(|| {
            bridge.call(async {
                if true {
                    panic!("boom in the bridge");
                }
            })
        }))
        .unwrap_err();
        assert_eq!(panic_message(&*payload), Some("boom in the bridge"));
        let after = bridge.call(async { thread::current().id() }).unwrap();
        assert_eq!(before, after, "the executor thread must survive the panic");
        let stats = bridge.stats();
        assert_eq!((stats.started, stats.panics), (1, 1));
    });
}

#[test]
fn a_custom_payload_survives_join_and_await() {
    bounded(|| {
        #[derive(Debug, PartialEq)]
        struct Code(u32);

        let bridge = Bridge::new();
        let task = bridge.spawn(async { panic::panic_any(Code(7)) }).unwrap();
        let payload = panic::catch_unwind(AssertUnwindSafe(|| task.join())).unwrap_err();
        assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(7)));

        let task = bridge.spawn(async { panic::panic_any(Code(8)) }).unwrap();
        let payload =
            panic::catch_unwind(AssertUnwindSafe(|| futures_lite::future::block_on(task)))
                .unwrap_err();
        assert_eq!(payload.downcast_ref::<Code>(), Some(&Code(8)));

        assert_eq!(bridge.call(async { 1 }).unwrap(), 1);
        assert_eq!(bridge.stats().started, 1);
    });
}
