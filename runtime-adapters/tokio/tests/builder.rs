//! `TokioRuntime::from_builder`: the user's configuration is kept, and what the adapter
//! overrides is what its docs say.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicUsize, Ordering},
};

use loopbridge::Bridge;
use loopbridge_conformance::support::{bounded, eventually, thread_name};
use loopbridge_tokio::TokioRuntime;

#[test]
fn a_multi_thread_builder_keeps_its_names_hooks_and_workers() {
    bounded("a_multi_thread_builder_keeps_its_configuration", || {
        let started = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicUsize::new(0));
        let (on_start, on_stop) = (started.clone(), stopped.clone());
        let bridge = Bridge::with_runtime(move || {
            let (on_start, on_stop) = (on_start.clone(), on_stop.clone());
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder
                .worker_threads(3)
                .thread_name("lb-api-w")
                .max_blocking_threads(2)
                .on_thread_start(move || on_start.lock().unwrap().push(thread_name()))
                .on_thread_stop(move || {
                    on_stop.fetch_add(1, Ordering::SeqCst);
                });
            TokioRuntime::from_builder(builder)
        });
        let (name, workers, flavor) = bridge
            .call(async {
                let handle = tokio::runtime::Handle::current();
                (
                    thread_name(),
                    handle.metrics().num_workers(),
                    format!("{:?}", handle.runtime_flavor()),
                )
            })
            .unwrap();
        assert_eq!(name, "lb-api-w");
        assert_eq!(workers, 3);
        assert_eq!(flavor, "MultiThread");
        // Every worker runs the start hook as it starts (tokio starts them as it builds).
        assert!(
            eventually(|| started
                .lock()
                .unwrap()
                .iter()
                .filter(|n| *n == "lb-api-w")
                .count()
                >= 3),
            "{:?}",
            started.lock().unwrap()
        );
        // The adapter enabled time, which the builder did not.
        bridge
            .call(async { tokio::time::sleep(std::time::Duration::from_millis(1)).await })
            .unwrap();
        // Its park hooks mark the workers: a blocking call from a worker is a nested call.
        let nested = bridge.clone();
        let worker_call = bridge
            .call(async move {
                tokio::task::spawn(async move { nested.call(async { thread_name() }) })
                    .await
                    .unwrap()
            })
            .unwrap();
        assert_eq!(worker_call.unwrap(), "loopbridge-nested");
        assert!(bridge.shutdown_timeout(std::time::Duration::from_secs(10)));
        assert!(
            stopped.load(Ordering::SeqCst) >= 3,
            "the stop hook ran on every worker"
        );
    });
}

#[test]
fn a_current_thread_builder_serves_local_futures() {
    bounded("a_current_thread_builder_serves_local_futures", || {
        let bridge = Bridge::with_runtime(|| {
            let mut builder = tokio::runtime::Builder::new_current_thread();
            builder.event_interval(7);
            TokioRuntime::from_builder(builder)
        });
        let flavor = bridge
            .call(async { format!("{:?}", tokio::runtime::Handle::current().runtime_flavor()) })
            .unwrap();
        assert_eq!(flavor, "CurrentThread");
        let local = bridge
            .call_local(|| async {
                let shared = std::rc::Rc::new(5);
                tokio::task::yield_now().await;
                *shared
            })
            .unwrap();
        assert_eq!(local, 5);
        assert_eq!(thread_name_of(&bridge), "loopbridge-tokio");
    });
}

fn thread_name_of(bridge: &Bridge) -> String {
    bridge.call(async { thread_name() }).unwrap()
}
