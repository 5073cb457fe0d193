//! The runtime matrix's own tests, run on every runtime it offers.

use loopbridge_conformance::support::thread_name;
use loopbridge_tokio::{TestRuntime, test_matrix};

test_matrix! {
    /// Each generated test runs its body on its own runtime, and is named after it.
    fn each_test_runs_on_the_runtime_it_is_named_after(runtime: TestRuntime) {
        // libtest names a test's thread after the test: the runtime is in the name.
        let test = std::thread::current().name().unwrap_or_default().to_owned();
        if test != "main" {
            assert!(
                test.ends_with(&format!("::{}", runtime.name())),
                "test {test} got {runtime}"
            );
        }
        let bridge = runtime.bridge();
        let (tokio, thread) = bridge
            .call(async { (tokio::runtime::Handle::try_current().ok(), thread_name()) })
            .unwrap();
        match runtime {
            TestRuntime::Smol => {
                assert!(tokio.is_none());
                assert_eq!(thread, "loopbridge-smol-0");
            }
            TestRuntime::TokioCurrentThread => {
                assert_eq!(
                    tokio.unwrap().runtime_flavor(),
                    tokio::runtime::RuntimeFlavor::CurrentThread
                );
                assert_eq!(thread, "loopbridge-tokio");
            }
            TestRuntime::TokioMultiThread => {
                assert_eq!(
                    tokio.unwrap().runtime_flavor(),
                    tokio::runtime::RuntimeFlavor::MultiThread
                );
                assert_eq!(thread, "loopbridge-tokio-w");
            }
            _ => unreachable!("a runtime the matrix does not make tests for"),
        }
        assert_eq!(runtime.is_tokio(), runtime != TestRuntime::Smol);
        bridge.shutdown();
    }

    /// Attributes apply to every runtime's test.
    #[should_panic(expected = "on purpose")]
    fn attributes_apply_to_each_runtime(runtime: TestRuntime) {
        runtime.bridge().call(async { panic!("on purpose") }).unwrap();
    }
}

#[test]
fn the_matrix_offers_each_runtime_once() {
    let names: std::collections::HashSet<_> = TestRuntime::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(names.len(), TestRuntime::ALL.len());
    assert_eq!(
        TestRuntime::TokioMultiThread.to_string(),
        "tokio_multi_thread"
    );
}
