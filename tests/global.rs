//! `global()` and `shutdown_global()`: process-wide state, so a test binary of its own.

use loopbridge::{global, shutdown_global};
use loopbridge_conformance::support::{bounded, bridge_threads, eventually, thread_name};

#[test]
fn the_global_bridge_is_shared_lazy_and_shut_down_on_request() {
    bounded("global bridge", || {
        assert!(
            std::ptr::eq(global(), global()),
            "one bridge for the process"
        );
        assert_eq!(
            global().stats().started,
            0,
            "nothing starts before the first call"
        );
        let ran_on = global().call(async { thread_name() }).unwrap();
        assert!(ran_on.starts_with("loopbridge-smol"), "ran on {ran_on}");
        let from_another_thread = std::thread::spawn(|| global().call(async { 2 }).unwrap());
        assert_eq!(from_another_thread.join().unwrap(), 2);
        assert_eq!(
            global().stats().started,
            1,
            "every caller shares one runtime"
        );

        assert!(
            shutdown_global(),
            "the global bridge's thread exits within the grace"
        );
        assert!(eventually(|| bridge_threads() == 0));
        assert!(global().call(async {}).unwrap_err().is_shutdown());
        assert!(global().spawn(async {}).unwrap_err().is_shutdown());
        assert!(shutdown_global(), "twice is fine");
    });
}
