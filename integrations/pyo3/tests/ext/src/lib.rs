//! The extension the `loopbridge-pyo3` pytest suite imports: a few functions over one tokio
//! bridge, written as an extension author writes them.

use std::{
    pin::Pin,
    sync::{
        LazyLock,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use loopbridge::{BlockingStream, Bound, Bridge};
use loopbridge_tokio::TokioRuntime;
use pyo3::prelude::*;

/// The extension's bridge: a persistent tokio runtime, ready for Python.
static BRIDGE: LazyLock<Bridge> = LazyLock::new(|| {
    loopbridge_pyo3::bridge(Bridge::builder().runtime(TokioRuntime::current_thread))
});

/// reqwest's async client, made on the bridge's runtime and kept there with its pool.
static HTTP: LazyLock<Bound<reqwest::Client>> =
    LazyLock::new(|| BRIDGE.bind(|| async { reqwest::Client::new() }));

/// Futures of `sleep` dropped so far, finished or cancelled.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Counts its drop in `DROPPED`.
struct Counted;

impl Drop for Counted {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

/// `a + b`, computed on the bridge.
#[pyfunction]
fn add(py: Python<'_>, a: i64, b: i64) -> PyResult<i64> {
    loopbridge_pyo3::call(py, &BRIDGE, async move { a + b })
}

/// Sleeps `seconds` on the bridge's runtime (a tokio timer); its future counts its drop.
#[pyfunction]
fn sleep(py: Python<'_>, seconds: f64) -> PyResult<bool> {
    loopbridge_pyo3::call(py, &BRIDGE, counted_sleep(seconds))
}

/// [`sleep`], given up after `timeout` seconds.
#[pyfunction]
fn sleep_timeout(py: Python<'_>, seconds: f64, timeout: f64) -> PyResult<bool> {
    loopbridge_pyo3::call_timeout(
        py,
        &BRIDGE,
        counted_sleep(seconds),
        Duration::from_secs_f64(timeout),
    )
}

async fn counted_sleep(seconds: f64) -> bool {
    let _counted = Counted;
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    true
}

/// How many futures of `sleep` have been dropped.
#[pyfunction]
fn dropped() -> u64 {
    DROPPED.load(Ordering::SeqCst)
}

/// Leaves a task pending on the bridge, never joined: a task in flight at exit.
#[pyfunction]
fn spawn_pending(py: Python<'_>) -> PyResult<()> {
    let task = py.detach(|| BRIDGE.spawn(std::future::pending::<()>()));
    task.map_err(loopbridge_pyo3::IntoPyErr::into_py_err)?
        .detach();
    Ok(())
}

/// Calls `callback` from a future on the bridge's runtime, and returns what it returned: a
/// callback that calls back into the extension makes a nested call.
#[pyfunction]
fn call_python(py: Python<'_>, callback: Py<PyAny>) -> PyResult<Py<PyAny>> {
    // The outer result is the bridge's, the inner one the callback's.
    loopbridge_pyo3::call(py, &BRIDGE, async move {
        Python::attach(|py| callback.call0(py))
    })?
}

/// GETs `url` with reqwest's async client on the bridge, and returns the body.
#[pyfunction]
fn http_get(py: Python<'_>, url: String) -> PyResult<String> {
    let text = loopbridge_pyo3::blocking(py, || {
        HTTP.call_timeout(
            |client| {
                let request = client.get(url);
                async move { request.send().await?.text().await }
            },
            Duration::from_secs(10),
        )
    })?;
    text.map_err(|err| pyo3::exceptions::PyOSError::new_err(err.to_string()))
}

type Lines = Pin<Box<dyn futures_lite::stream::Stream<Item = String> + Send>>;

/// A Python iterator over a stream of `count` lines, one every millisecond: the recipe of the
/// crate docs.
#[pyclass]
struct LineIter(BlockingStream<Lines>);

#[pymethods]
impl LineIter {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(mut slf: PyRefMut<'_, Self>, py: Python<'_>) -> PyResult<Option<String>> {
        // Only the stream goes into the GIL-free closure, not the Python reference to it.
        let lines = &mut slf.0;
        loopbridge_pyo3::blocking(py, || lines.next().transpose())
    }
}

/// `count` lines from the bridge, as a Python iterator.
#[pyfunction]
fn lines(count: u32) -> LineIter {
    let stream: Lines = Box::pin(futures_lite::stream::unfold(0, move |n| async move {
        if n == count {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some((format!("line {n}"), n + 1))
    }));
    LineIter(BRIDGE.iter(stream))
}

/// A future that panics: pyo3's `PanicException` in Python.
#[pyfunction]
fn panics(py: Python<'_>) -> PyResult<()> {
    loopbridge_pyo3::call(py, &BRIDGE, async {
        if true {
            panic!("boom in the future");
        }
    })
}

/// A call on a bridge that was shut down: a `RuntimeError` that says so.
#[pyfunction]
fn call_after_shutdown(py: Python<'_>) -> PyResult<()> {
    let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
    bridge.shutdown();
    loopbridge_pyo3::call(py, &bridge, async {})
}

/// The thread the bridge's calls run on, by name (to tell a nested call's one-off thread).
#[pyfunction]
fn runtime_thread(py: Python<'_>) -> PyResult<String> {
    loopbridge_pyo3::call(py, &BRIDGE, async {
        std::thread::current().name().unwrap_or("").to_owned()
    })
}

#[pymodule]
fn loopbridge_testext(module: &pyo3::Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(add, module)?)?;
    module.add_function(wrap_pyfunction!(sleep, module)?)?;
    module.add_function(wrap_pyfunction!(sleep_timeout, module)?)?;
    module.add_function(wrap_pyfunction!(dropped, module)?)?;
    module.add_function(wrap_pyfunction!(spawn_pending, module)?)?;
    module.add_function(wrap_pyfunction!(call_python, module)?)?;
    module.add_function(wrap_pyfunction!(http_get, module)?)?;
    module.add_function(wrap_pyfunction!(lines, module)?)?;
    module.add_function(wrap_pyfunction!(runtime_thread, module)?)?;
    module.add_function(wrap_pyfunction!(panics, module)?)?;
    module.add_function(wrap_pyfunction!(call_after_shutdown, module)?)?;
    module.add_class::<LineIter>()?;
    Ok(())
}
