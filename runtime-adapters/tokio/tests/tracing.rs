//! The caller's `tracing` span reaches futures bridged onto every tokio flavour.

#[path = "../../../tests/support/recorder.rs"]
mod recorder;

use loopbridge::{Bridge, conformance::support::bounded};
use loopbridge_tokio::TokioRuntime;
use recorder::Recorder;
use tracing_subscriber::layer::SubscriberExt;

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
