//! What is particular to the default adapter: its named threads, async-io resources that
//! live across calls, its multi-thread probe, and bridge settings checked on it.

use std::{
    collections::HashSet,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    thread,
    time::Duration,
};

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use loopbridge::{Bridge, SmolRuntime};
use loopbridge_conformance::support::{Latch, PATIENCE, bounded, thread_name};

#[test]
fn calls_run_on_the_named_executor_thread() {
    bounded("calls_run_on_the_named_executor_thread", || {
        let bridge = Bridge::new();
        let ids: HashSet<_> = (0..50)
            .map(|_| bridge.call(async { thread::current().id() }).unwrap())
            .collect();
        assert_eq!(ids.len(), 1, "one executor thread serves every call");
        assert_eq!(
            bridge.call(async { thread_name() }).unwrap(),
            "loopbridge-smol-0"
        );
    });
}

#[test]
fn a_socket_and_a_timer_made_in_one_call_serve_the_next() {
    bounded(
        "a_socket_and_a_timer_made_in_one_call_serve_the_next",
        || {
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
                .call(async move { Async::<TcpStream>::connect(addr).await })
                .unwrap()
                .unwrap();
            // Deliberately returned unawaited: created in this call, awaited in a later one.
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
        },
    );
}

#[test]
fn a_runtime_with_a_free_thread_passes_its_probe() {
    bounded("a_runtime_with_a_free_thread_passes_its_probe", || {
        // A generous probe: a loaded machine may be slow to run it, which is not the point.
        let bridge = Bridge::builder()
            .runtime(|| SmolRuntime::with_threads(2))
            .probe_timeout(PATIENCE)
            .build();
        let latch = Latch::new();
        // One of two threads is blocked: the runtime can still run the probe.
        assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
        assert_eq!(bridge.stats().retired, 0);
        latch.release();
        assert_eq!(bridge.call(async { 2 }).unwrap(), 2);
        assert_eq!(bridge.stats().started, 1);
    });
}

#[test]
fn nested_calls_are_detected_on_every_executor_thread() {
    bounded("nested_calls_are_detected_on_every_executor_thread", || {
        let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let inner = bridge.clone();
                bridge
                    .spawn(async move { inner.call(async move { (i, thread_name()) }).unwrap() })
                    .unwrap()
            })
            .collect();
        for (i, task) in tasks.into_iter().enumerate() {
            assert_eq!(task.join().unwrap(), (i, "loopbridge-nested".to_owned()));
        }
        assert_eq!(bridge.stats().nested, 8);
    });
}

#[test]
fn the_probe_timeout_is_configurable() {
    bounded("the_probe_timeout_is_configurable", || {
        // Wedged until released after the call returned: retired under a short probe.
        let bridge = Bridge::builder()
            .probe_timeout(Duration::from_millis(100))
            .build();
        let latch = Latch::new();
        assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
        assert_eq!(bridge.stats().retired, 1);
        latch.release();

        // Released 200 ms into the wait: a long probe sees the runtime recover and keeps it.
        let bridge = Bridge::builder().probe_timeout(PATIENCE).build();
        let latch = Latch::new();
        let releaser = {
            let latch = latch.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(200));
                latch.release();
            })
        };
        assert!(latch.block_call(&bridge).unwrap_err().is_timed_out());
        assert_eq!(bridge.stats().retired, 0);
        releaser.join().unwrap();
    });
}

#[test]
#[should_panic(expected = "the probe timeout must be greater than zero")]
fn a_zero_probe_timeout_is_refused() {
    let _ = Bridge::builder().probe_timeout(Duration::ZERO);
}

// ===== Bridge::per_call =====

#[test]
fn per_call_starts_a_runtime_for_every_call() {
    bounded("per_call_starts_a_runtime_for_every_call", || {
        let bridge = Bridge::per_call(SmolRuntime::start);
        let ids: HashSet<_> = (0..5)
            .map(|_| bridge.call(async { thread::current().id() }).unwrap())
            .collect();
        assert_eq!(
            ids.len(),
            5,
            "each call runs on a thread of its own runtime"
        );
        assert_eq!(bridge.stats().started, 5);
    });
}

#[test]
fn a_detached_per_call_task_keeps_its_runtime_until_it_ends() {
    bounded(
        "a_detached_per_call_task_keeps_its_runtime_until_it_ends",
        || {
            let bridge = Bridge::per_call(SmolRuntime::start);
            let (go_tx, go_rx) = async_channel::bounded::<()>(1);
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            bridge
                .spawn(async move {
                    go_rx.recv().await.unwrap();
                    done_tx.send(thread_name()).unwrap();
                })
                .unwrap()
                .detach();
            go_tx.send_blocking(()).unwrap();
            let ran_on = done_rx
                .recv_timeout(PATIENCE)
                .expect("the detached task must finish");
            assert!(ran_on.starts_with("loopbridge-smol"));
        },
    );
}

#[test]
fn per_call_nested_calls_and_shutdown() {
    bounded("per_call_nested_calls_and_shutdown", || {
        let bridge = Bridge::per_call(SmolRuntime::start);
        let inner = bridge.clone();
        // A nested call gets a runtime of its own, so it cannot block itself.
        assert_eq!(
            bridge
                .call(async move { inner.call(async { 7 }) })
                .unwrap()
                .unwrap(),
            7
        );

        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let caller = {
            let bridge = bridge.clone();
            thread::spawn(move || {
                bridge.call(async move {
                    started_tx.send(()).unwrap();
                    futures_lite::future::pending::<()>().await
                })
            })
        };
        started_rx.recv_timeout(PATIENCE).unwrap();
        assert!(bridge.shutdown_timeout(PATIENCE));
        assert!(caller.join().unwrap().unwrap_err().is_shutdown());
        assert!(bridge.call(async {}).unwrap_err().is_shutdown());
    });
}

#[test]
fn steps_beyond_the_queue_capacity_all_run() {
    bounded("steps_beyond_the_queue_capacity_all_run", || {
        let bridge = Bridge::new();
        let latch = Latch::new();
        let (blocked_tx, blocked_rx) = std::sync::mpsc::channel();
        let gate = latch.clone();
        let wedge = bridge
            .spawn(async move {
                blocked_tx.send(()).unwrap();
                gate.wait();
            })
            .unwrap();
        blocked_rx.recv_timeout(PATIENCE).unwrap();
        // The only thread is blocked: these steps queue up, well past the queue's capacity.
        let tasks: Vec<_> = (0..10_000u64)
            .map(|i| bridge.spawn(async move { i }).unwrap())
            .collect();
        latch.release();
        wedge.join().unwrap();
        let sum: u64 = tasks.into_iter().map(|task| task.join().unwrap()).sum();
        assert_eq!(sum, (0..10_000u64).sum());
        assert_eq!(
            bridge.stats().started,
            1,
            "an overflowing queue is not a dead runtime"
        );
    });
}

#[test]
fn threads_take_the_configured_name_and_run_the_hooks() {
    use std::sync::{Arc, Mutex};
    bounded("threads_take_the_configured_name_and_run_the_hooks", || {
        let started = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let (on_start, on_stop) = (started.clone(), stopped.clone());
        let bridge = Bridge::with_runtime(move || {
            let (on_start, on_stop) = (on_start.clone(), on_stop.clone());
            SmolRuntime::builder()
                .threads(2)
                .thread_name("lb-hooked")
                .on_thread_start(move || on_start.lock().unwrap().push(thread_name()))
                .on_thread_stop(move || on_stop.lock().unwrap().push(thread_name()))
                .build()
        });
        let ran_on = bridge.call(async { thread_name() }).unwrap();
        assert!(ran_on.starts_with("lb-hooked-"), "{ran_on}");
        let mut names = started.lock().unwrap().clone();
        names.sort();
        assert_eq!(
            names,
            ["lb-hooked-0", "lb-hooked-1"],
            "every thread ran the start hook before the first call returned"
        );
        assert!(stopped.lock().unwrap().is_empty());
        assert!(bridge.shutdown_timeout(PATIENCE));
        let mut names = stopped.lock().unwrap().clone();
        names.sort();
        assert_eq!(names, ["lb-hooked-0", "lb-hooked-1"]);
    });
}

#[test]
fn a_start_hook_that_panics_fails_the_start_and_leaves_no_thread() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    bounded("a_start_hook_that_panics_fails_the_start", || {
        let calls = AtomicUsize::new(0);
        let failed = SmolRuntime::builder()
            .threads(3)
            .thread_name("lb-failing")
            .on_thread_start(move || {
                // The second thread's hook fails; the first thread is serving by then.
                if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                    panic!("no affinity for you");
                }
            })
            .build();
        let err = failed.expect_err("the start failed");
        assert!(
            err.to_string()
                .contains("on_thread_start hook panicked: no affinity for you"),
            "{err}"
        );
        // Joined, every one: a joined thread leaves `/proc/self/task` a moment after its join
        // returns (the kernel wakes the joiner before it reaps the thread), so look until then.
        let left = || {
            loopbridge_conformance::support::thread_names()
                .into_iter()
                .filter(|name| name.starts_with("lb-failing"))
                .collect::<Vec<_>>()
        };
        assert!(
            loopbridge_conformance::support::eventually(|| left().is_empty()),
            "threads left behind: {:?}",
            left()
        );
        // Through a bridge, the failure is a start error, and nothing is published.
        let bridge = Bridge::with_runtime(|| {
            SmolRuntime::builder()
                .on_thread_start(|| panic!("still no"))
                .build()
        });
        assert!(bridge.call(async {}).unwrap_err().is_start());
        assert_eq!(bridge.stats().started, 0);
    });
}

/// With several threads, local calls run on the first thread only. A first thread that is
/// stuck makes every local call time out while the other threads go on answering probes on
/// the shared queue, so a timed-out local call probes the local queue, and the runtime is
/// retired: the next local call runs on a fresh one. (It used to probe the shared queue,
/// which another thread answered: the runtime was kept, and every local call timed out for as
/// long as the first thread stayed stuck.)
#[test]
fn a_stuck_local_thread_is_noticed_by_the_health_check() {
    bounded(
        "a_stuck_local_thread_is_noticed_by_the_health_check",
        || {
            let bridge = Bridge::with_runtime(|| SmolRuntime::with_threads(2));
            let latch = Latch::new();
            let (stuck_tx, stuck) = std::sync::mpsc::channel();
            let blocker = {
                let (bridge, latch) = (bridge.clone(), latch.clone());
                thread::spawn(move || {
                    bridge.call_local(move || async move {
                        stuck_tx.send(thread_name()).unwrap();
                        latch.wait();
                    })
                })
            };
            assert_eq!(stuck.recv_timeout(PATIENCE).unwrap(), "loopbridge-smol-0");
            // The other thread still serves the shared queue.
            assert_eq!(
                bridge.call(async { thread_name() }).unwrap(),
                "loopbridge-smol-1"
            );
            let err = bridge
                .call_local_timeout(|| async { 1 }, Duration::from_millis(50))
                .unwrap_err();
            assert!(err.is_timed_out(), "{err:?}");
            assert_eq!(
                bridge.stats().retired,
                1,
                "the stuck local thread was noticed"
            );
            let value = bridge
                .call_local_timeout(|| async { 2 }, PATIENCE)
                .expect("a fresh runtime serves local calls");
            assert_eq!(value, 2);
            latch.release();
            assert!(blocker.join().unwrap().unwrap_err().is_retired());
        },
    );
}
