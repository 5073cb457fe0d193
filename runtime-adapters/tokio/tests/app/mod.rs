//! The application's own tokio runtime, for the tests of `TokioRuntime::from_handle`: two
//! workers named `app-worker`, so that a test can tell them from the bridge's threads.

/// A fresh application runtime.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("app-worker")
        .enable_all()
        .build()
        .expect("application runtime")
}
