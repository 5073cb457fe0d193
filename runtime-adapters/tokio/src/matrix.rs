//! A runtime matrix for tests: write a test once, get one `#[test]` per runtime.

use std::fmt;

use loopbridge::{Bridge, SmolRuntime};

use crate::TokioRuntime;

/// A runtime a test can run a bridge on: the ones [`test_matrix!`](crate::test_matrix)
/// makes a `#[test]` for.
///
/// # Examples
///
/// ```
/// use loopbridge_tokio::TestRuntime;
///
/// for runtime in TestRuntime::ALL {
///     let bridge = runtime.bridge();
///     assert_eq!(bridge.call(async { 1 })?, 1, "on {runtime}");
/// }
/// # Ok::<(), loopbridge::BridgeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TestRuntime {
    /// [`SmolRuntime`] with one thread, loopbridge's default.
    Smol,
    /// [`TokioRuntime::current_thread`].
    TokioCurrentThread,
    /// [`TokioRuntime::multi_thread`] with two workers.
    TokioMultiThread,
}

impl TestRuntime {
    /// Every runtime of the matrix, in the order of its tests.
    pub const ALL: [TestRuntime; 3] = [
        TestRuntime::Smol,
        TestRuntime::TokioCurrentThread,
        TestRuntime::TokioMultiThread,
    ];

    /// The runtime's name, as in its tests' names: `smol`, `tokio_current_thread`,
    /// `tokio_multi_thread`.
    ///
    /// ```
    /// assert_eq!(loopbridge_tokio::TestRuntime::Smol.name(), "smol");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            TestRuntime::Smol => "smol",
            TestRuntime::TokioCurrentThread => "tokio_current_thread",
            TestRuntime::TokioMultiThread => "tokio_multi_thread",
        }
    }

    /// Whether futures that need a tokio runtime (tokio's timers, sockets, `tokio::spawn`,
    /// hyper, reqwest) work on it.
    ///
    /// ```
    /// assert!(!loopbridge_tokio::TestRuntime::Smol.is_tokio());
    /// ```
    #[must_use]
    pub fn is_tokio(self) -> bool {
        !matches!(self, TestRuntime::Smol)
    }

    /// A fresh bridge on this runtime, started on its first call.
    ///
    /// ```
    /// let bridge = loopbridge_tokio::TestRuntime::TokioCurrentThread.bridge();
    /// assert!(bridge.call(async { tokio::runtime::Handle::try_current().is_ok() })?);
    /// # Ok::<(), loopbridge::BridgeError>(())
    /// ```
    pub fn bridge(self) -> Bridge {
        match self {
            TestRuntime::Smol => Bridge::with_runtime(SmolRuntime::start),
            TestRuntime::TokioCurrentThread => Bridge::with_runtime(TokioRuntime::current_thread),
            TestRuntime::TokioMultiThread => Bridge::with_runtime(|| TokioRuntime::multi_thread(2)),
        }
    }
}

impl fmt::Display for TestRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Declares each test once and makes one `#[test]` per [`TestRuntime`]: for a test `name`, a
/// module `name` with the tests `smol`, `tokio_current_thread` and `tokio_multi_thread`, so a
/// failure's name says on which runtime it failed (`name::tokio_multi_thread`). The body
/// gets the runtime; `runtime.bridge()` is a fresh bridge on it.
///
/// Attributes before a test (`#[should_panic]`, `#[ignore = "why"]`, docs) apply to each of its
/// `#[test]`s. Use it in a test file (`tests/*.rs`) or a `#[cfg(test)]` module.
///
/// # Examples
///
/// ```
/// use loopbridge_tokio::{TestRuntime, test_matrix};
///
/// /// A library function with a blocking API, tested on every runtime its users might pick.
/// fn double(bridge: &loopbridge::Bridge, n: u32) -> u32 {
///     bridge.call(async move { n * 2 }).unwrap()
/// }
///
/// test_matrix! {
///     /// Doubles on any runtime.
///     fn doubles(runtime: TestRuntime) {
///         let bridge = runtime.bridge();
///         assert_eq!(double(&bridge, 21), 42, "on {runtime}");
///     }
///
///     fn tokio_timers_work_where_tokio_runs(runtime: TestRuntime) {
///         if runtime.is_tokio() {
///             let bridge = runtime.bridge();
///             bridge.call(async {
///                 tokio::time::sleep(std::time::Duration::from_millis(1)).await
///             }).unwrap();
///         }
///     }
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! test_matrix {
    ($(
        $(#[$meta:meta])*
        fn $name:ident($runtime:ident : $ty:ty) $body:block
    )*) => {$(
        #[allow(non_snake_case)]
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn run($runtime: $ty) $body

            $(#[$meta])*
            #[test]
            pub fn smol() {
                run($crate::TestRuntime::Smol)
            }

            $(#[$meta])*
            #[test]
            pub fn tokio_current_thread() {
                run($crate::TestRuntime::TokioCurrentThread)
            }

            $(#[$meta])*
            #[test]
            pub fn tokio_multi_thread() {
                run($crate::TestRuntime::TokioMultiThread)
            }
        }
    )*};
}
