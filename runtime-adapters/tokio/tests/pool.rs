//! Why the crate exists: a client's connection pool survives on a persistent tokio bridge, and
//! does not survive a runtime per call.

mod support;

use loopbridge::Bridge;
use loopbridge_conformance::support::bounded;
use loopbridge_tokio::TokioRuntime;
use support::{Server, client, get};

const CALLS: usize = 100;

#[test]
fn one_client_on_the_bridge_keeps_one_connection_for_100_calls() {
    bounded("pool affinity", || {
        let server = Server::start();
        let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
        let client = client();
        for call in 0..CALLS {
            let (client, uri) = (client.clone(), server.uri());
            let body = bridge
                .call(async move { get(&client, uri).await.map_err(|e| e.to_string()) })
                .unwrap();
            assert_eq!(body.as_deref(), Ok("hello"), "call {call}");
        }
        assert_eq!(
            server.connections(),
            1,
            "every call must reuse the pooled connection"
        );
        assert_eq!(bridge.stats().started, 1);
    });
}

#[test]
fn the_same_client_through_a_runtime_per_call_loses_its_pool() {
    bounded("per-call runtimes", || {
        let server = Server::start();
        let client = client();
        let mut errors = 0;
        for _ in 0..CALLS {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            if runtime.block_on(get(&client, server.uri())).is_err() {
                errors += 1;
            }
            // The connection's dispatch task dies with the runtime.
            drop(runtime);
        }
        let connections = server.connections();
        println!(
            "runtime per call: {connections} connections, {errors} failed calls out of {CALLS}"
        );
        assert!(
            connections > 1 || errors > 0,
            "a runtime per call should lose the pool: {connections} connections, {errors} errors"
        );
    });
}
