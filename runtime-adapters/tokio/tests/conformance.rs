//! The conformance suite on every tokio flavour, in both drive modes.

mod app;

use loopbridge::Drive;
use loopbridge_conformance::Suite;
use loopbridge_tokio::TokioRuntime;

/// An application runtime per check: the checks wedge it, which must not slow the others. It
/// is leaked, as an application's runtime lives as long as the process.
fn app_handle() -> tokio::runtime::Handle {
    let app = app::runtime();
    let handle = app.handle().clone();
    std::mem::forget(app);
    handle
}

loopbridge_conformance::conformance_suite!(
    tokio_current_thread,
    Suite::new(TokioRuntime::current_thread).local_tasks()
);
loopbridge_conformance::conformance_suite!(
    tokio_multi_thread,
    Suite::new(|| TokioRuntime::multi_thread(3)).threads(3)
);
loopbridge_conformance::conformance_suite!(
    tokio_from_handle,
    Suite::per_check(|| {
        let handle = app_handle();
        move || TokioRuntime::from_handle(handle.clone())
    })
    .threads(2)
    .shared_runtime()
);
loopbridge_conformance::conformance_suite!(
    tokio_from_builder_current_thread,
    Suite::new(|| {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        builder.max_blocking_threads(4).event_interval(31);
        TokioRuntime::from_builder(builder)
    })
    .local_tasks()
);
loopbridge_conformance::conformance_suite!(
    tokio_from_builder_multi_thread,
    Suite::new(|| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(2)
            .thread_name("lb-custom-w")
            .on_thread_start(|| {});
        TokioRuntime::from_builder(builder)
    })
    .threads(2)
);
loopbridge_conformance::conformance_suite!(
    tokio_current_thread_caller_driven,
    Suite::new(TokioRuntime::current_thread)
        .local_tasks()
        .drive(Drive::Caller)
);
loopbridge_conformance::conformance_suite!(
    tokio_multi_thread_caller_driven,
    Suite::new(|| TokioRuntime::multi_thread(3))
        .threads(3)
        .drive(Drive::Caller)
);
loopbridge_conformance::conformance_suite!(
    tokio_from_handle_caller_driven,
    Suite::per_check(|| {
        let handle = app_handle();
        move || TokioRuntime::from_handle(handle.clone())
    })
    .threads(2)
    .shared_runtime()
    .drive(Drive::Caller)
);
