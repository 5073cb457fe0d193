//! The `tracing` feature: the caller's span travels into bridged futures (on smol and on every
//! tokio flavour), and the bridge's lifecycle is logged. Recorded with a real
//! `tracing-subscriber` layer.

mod support {
    pub mod recorder;
}

use std::time::Duration;

use loopbridge::Bridge;
use loopbridge_conformance::support::{Latch, bounded};
use loopbridge_tokio::TokioRuntime;
use support::recorder::Recorder;
use tracing_subscriber::layer::SubscriberExt;

/// Runs `f` with a fresh recorder as this thread's default subscriber.
fn recorded(f: impl FnOnce()) -> Recorder {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    tracing::subscriber::with_default(subscriber, f);
    recorder
}

#[test]
fn an_event_in_a_bridged_future_is_recorded_under_the_callers_span() {
    bounded("caller span", || {
        let bridge = Bridge::new();
        let recorder = recorded(|| {
            let span = tracing::info_span!("request", request_id = 42, user = "ada");
            let _entered = span.enter();
            bridge
                .call(async { tracing::info!(step = 1, "inside call") })
                .unwrap();
            bridge
                .call_timeout(
                    async { tracing::info!("inside call_timeout") },
                    Duration::from_secs(5),
                )
                .unwrap();
            bridge
                .spawn(async { tracing::info!("inside spawn") })
                .unwrap()
                .join()
                .unwrap();
            bridge
                .call_local(|| async { tracing::info!("inside call_local") })
                .unwrap();
        });
        for message in [
            "inside call step=1",
            "inside call_timeout",
            "inside spawn",
            "inside call_local",
        ] {
            let event = recorder
                .find(message)
                .unwrap_or_else(|| panic!("no event {message:?}"));
            assert_eq!(
                event.span.as_deref(),
                Some("request{request_id=42 user=\"ada\"}"),
                "{message}: recorded outside the caller's span"
            );
            assert!(
                event.thread.starts_with("loopbridge-smol"),
                "{message} ran on {}",
                event.thread
            );
        }
    });
}

/// A caller-driven call's future runs on its caller, inside the caller's span, and a
/// runtime-driven task of the same bridge still carries the span to the runtime.
#[test]
fn a_caller_driven_call_is_recorded_under_the_callers_span() {
    bounded("caller-driven span", || {
        let bridge = Bridge::builder().drive(loopbridge::Drive::Caller).build();
        let recorder = recorded(|| {
            let span = tracing::info_span!("request", request_id = 7);
            let _entered = span.enter();
            bridge
                .call(async {
                    async_io::Timer::after(Duration::from_millis(1)).await;
                    tracing::info!("inside a caller-driven call")
                })
                .unwrap();
            bridge
                .spawn(async { tracing::info!("inside its task") })
                .unwrap()
                .join()
                .unwrap();
        });
        for (message, on_caller) in [
            ("inside a caller-driven call", true),
            ("inside its task", false),
        ] {
            let event = recorder
                .find(message)
                .unwrap_or_else(|| panic!("no event {message:?}"));
            assert_eq!(
                event.span.as_deref(),
                Some("request{request_id=7}"),
                "{message}"
            );
            assert_eq!(
                event.thread == "test-bounded",
                on_caller,
                "{message} ran on {}",
                event.thread
            );
        }
    });
}

#[test]
fn a_call_without_a_span_records_none() {
    bounded("no span", || {
        let bridge = Bridge::new();
        let recorder = recorded(|| bridge.call(async { tracing::info!("spanless") }).unwrap());
        assert_eq!(recorder.find("spanless").unwrap().span, None);
    });
}

#[test]
fn the_lifecycle_is_logged() {
    bounded("lifecycle events", || {
        let bridge = Bridge::new();
        let latch = Latch::new();
        let recorder = recorded(|| {
            bridge.call(async {}).unwrap();
            let inner = bridge.clone();
            bridge
                .call(async move { inner.call(async {}) })
                .unwrap()
                .unwrap();
            assert!(latch.block_call(&bridge).is_err());
            latch.release();
            bridge.shutdown();
        });
        let lifecycle: Vec<_> = recorder
            .events()
            .into_iter()
            .filter(|e| e.target == "loopbridge")
            .map(|e| (e.level, e.message))
            .collect();
        let has = |level: tracing::Level, texts: &[&str]| {
            lifecycle
                .iter()
                .any(|(l, m)| *l == level && texts.iter().all(|t| m.contains(t)))
        };
        use tracing::Level;
        let expected: [(Level, &[&str]); 6] = [
            (Level::INFO, &["bridge runtime started", "generation=1"]),
            (
                Level::DEBUG,
                &["nested call served on a one-off thread", "generation=1"],
            ),
            (Level::DEBUG, &["bridge call timed out", "generation=1"]),
            (
                Level::DEBUG,
                &["health probe after a timeout", "health=Wedged"],
            ),
            (Level::WARN, &["bridge runtime retired", "by_probe=true"]),
            (
                Level::INFO,
                &["bridge shut down", "took=", "all_exited=true"],
            ),
        ];
        for (level, texts) in expected {
            assert!(
                has(level, texts),
                "no {level} event with {texts:?} in {lifecycle:#?}"
            );
        }
    });
}

/// A panic the bridge contains, because nobody is there to receive it, is reported: a bound
/// value whose `Drop` panics as the bridge shuts down leaves an error event that names the
/// panic, on the runtime's thread, where the thread's own subscriber records it.
#[test]
fn a_contained_panic_is_reported() {
    bounded("a contained panic is reported", || {
        let recorder = Recorder::default();
        let on_thread = recorder.clone();
        let bridge = Bridge::with_runtime(move || {
            let recorder = on_thread.clone();
            loopbridge::SmolRuntime::builder()
                .on_thread_start(move || {
                    let subscriber = tracing_subscriber::registry().with(recorder.clone());
                    // The thread's default for as long as it lives.
                    std::mem::forget(tracing::subscriber::set_default(subscriber));
                })
                .build()
        });
        struct PanicsOnDrop;
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("a bound value's Drop panicked");
            }
        }
        let bound = bridge.bind(|| async { PanicsOnDrop });
        bound.call(|_| async {}).unwrap();
        assert!(bridge.shutdown_timeout(std::time::Duration::from_secs(10)));
        let event = recorder
            .find("a bound value's Drop panicked")
            .unwrap_or_else(|| panic!("no event for the panic in {:#?}", recorder.events()));
        assert_eq!(event.level, tracing::Level::ERROR);
        assert_eq!(event.target, "loopbridge");
        assert!(event.message.contains("panic was contained"), "{event:?}");
        drop(bound);
    });
}

/// Every lifecycle event names its bridge, and the generation where there is one: with two
/// bridges logging at once, each event says whose it is.
#[test]
fn lifecycle_events_name_their_bridge_and_generation() {
    bounded("events name their bridge", || {
        let (first, second) = (Bridge::new(), Bridge::new());
        let recorder = recorded(|| {
            first.call(async {}).unwrap();
            second.call(async {}).unwrap();
            first.shutdown();
            second.shutdown();
        });
        let lifecycle: Vec<_> = recorder
            .events()
            .into_iter()
            .filter(|e| e.target == "loopbridge")
            .map(|e| e.message)
            .collect();
        let bridge_of = |message: &String| {
            let at = message.find("bridge=").expect("a bridge field") + "bridge=".len();
            message[at..].split(' ').next().unwrap().to_owned()
        };
        assert!(
            lifecycle.iter().all(|m| m.contains("bridge=")),
            "{lifecycle:#?}"
        );
        let started: Vec<_> = lifecycle
            .iter()
            .filter(|m| m.contains("bridge runtime started"))
            .collect();
        assert_eq!(started.len(), 2, "{lifecycle:#?}");
        assert!(started.iter().all(|m| m.contains("generation=1")));
        assert_ne!(bridge_of(started[0]), bridge_of(started[1]));
        let shut: Vec<_> = lifecycle
            .iter()
            .filter(|m| m.contains("bridge shut down"))
            .map(bridge_of)
            .collect();
        assert_eq!(shut.len(), 2);
        assert_ne!(shut[0], shut[1]);
    });
}

/// The caller's span reaches futures bridged onto every tokio flavour.
#[test]
fn events_on_a_tokio_bridge_are_recorded_under_the_callers_span() {
    bounded("tokio caller span", || {
        let current = Bridge::with_runtime(TokioRuntime::current_thread);
        let multi = Bridge::with_runtime(|| TokioRuntime::multi_thread(2));
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", tenant = "acme");
            let _entered = span.enter();
            current
                .call(async {
                    tokio::task::yield_now().await;
                    tracing::info!("on current_thread")
                })
                .unwrap();
            current
                .call_local(|| async { tracing::info!("on the LocalSet") })
                .unwrap();
            multi
                .call(async {
                    tokio::task::yield_now().await;
                    tracing::info!("on multi_thread")
                })
                .unwrap();
        });
        for message in ["on current_thread", "on the LocalSet", "on multi_thread"] {
            let event = recorder
                .find(message)
                .unwrap_or_else(|| panic!("no event {message:?}"));
            assert_eq!(
                event.span.as_deref(),
                Some("job{tenant=\"acme\"}"),
                "{message}"
            );
            assert!(
                event.thread.starts_with("loopbridge-tokio"),
                "{message} ran on {}",
                event.thread
            );
        }
    });
}

loopbridge_tokio::test_matrix! {
    /// The caller's span reaches bridged futures on every runtime of the matrix.
    fn the_callers_span_reaches_every_runtime(runtime: loopbridge_tokio::TestRuntime) {
        let bridge = runtime.bridge();
        let recorder = Recorder::default();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("job", tenant = "acme");
            let _entered = span.enter();
            bridge
                .call(async {
                    futures_lite::future::yield_now().await;
                    tracing::info!("bridged")
                })
                .unwrap();
        });
        let event = recorder.find("bridged").expect("the bridged event");
        assert_eq!(event.span.as_deref(), Some("job{tenant=\"acme\"}"), "on {runtime}");
        assert!(event.thread.starts_with("loopbridge-"), "on {runtime}: {}", event.thread);
    }
}
