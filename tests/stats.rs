//! `BridgeStats`: the calls made, the calls in flight now, and the current generation, beside
//! the lifecycle counters.

use std::thread;

use loopbridge::{Bridge, SmolRuntime};
use loopbridge_conformance::support::{Latch, SHORT, bounded, eventually, retire};

#[test]
fn calls_in_flight_and_the_generation_are_counted() {
    bounded("calls_in_flight_and_the_generation_are_counted", || {
        let bridge = Bridge::builder().runtime(SmolRuntime::start).build();
        let stats = bridge.stats();
        assert_eq!(
            (stats.calls, stats.in_flight, stats.generation),
            (0, 0, None)
        );

        for _ in 0..5 {
            bridge.call(async {}).unwrap();
        }
        let stats = bridge.stats();
        assert_eq!(
            (stats.calls, stats.in_flight, stats.generation),
            (5, 0, Some(1))
        );

        // One blocking call and one task, both waiting on the runtime.
        let (release, released) = async_channel::bounded::<()>(2);
        let waiting = {
            let (bridge, released) = (bridge.clone(), released.clone());
            thread::spawn(move || bridge.call(async move { released.recv().await }))
        };
        let task = bridge.spawn(async move { released.recv().await }).unwrap();
        assert!(
            eventually(|| bridge.stats().in_flight == 2),
            "{:?}",
            bridge.stats()
        );
        assert_eq!(bridge.stats().calls, 7);
        release.send_blocking(()).unwrap();
        release.send_blocking(()).unwrap();
        waiting.join().unwrap().unwrap().unwrap();
        task.join().unwrap().unwrap();
        assert!(
            eventually(|| bridge.stats().in_flight == 0),
            "{:?}",
            bridge.stats()
        );

        // A failed call still counts as made, and no longer as in flight.
        assert!(
            bridge
                .call_timeout(futures_lite::future::pending::<()>(), SHORT)
                .is_err()
        );
        assert_eq!((bridge.stats().calls, bridge.stats().in_flight), (8, 0));

        // Retired: no generation until the next call starts the second.
        let latch = Latch::new();
        let wedges = retire(&bridge, 1, &latch);
        assert_eq!(bridge.stats().generation, None);
        bridge.call(async {}).unwrap();
        assert_eq!(bridge.stats().generation, Some(2));
        latch.release();
        for wedge in wedges {
            let _ = wedge.join();
        }

        bridge.shutdown();
        assert_eq!(bridge.stats().generation, None);
        assert!(bridge.call(async {}).is_err());
        // The wedges' futures were failed with the retirement, and end once their thread is
        // free: a task counts until its future is gone.
        assert!(
            eventually(|| bridge.stats().in_flight == 0),
            "{:?}",
            bridge.stats()
        );
    });
}

#[test]
fn a_per_call_bridge_has_no_current_generation() {
    let bridge = Bridge::per_call(SmolRuntime::start);
    bridge.call(async {}).unwrap();
    bridge.call(async {}).unwrap();
    let stats = bridge.stats();
    assert_eq!((stats.calls, stats.started, stats.generation), (2, 2, None));
}
