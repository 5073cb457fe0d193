//! What travels from the caller into the bridge with each call: with the `tracing` feature,
//! the caller's current span and default subscriber; without it, nothing at all.

use std::future::Future;

/// The caller's context, captured on the caller's thread.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    #[cfg(feature = "tracing")]
    dispatch: tracing::Dispatch,
}

impl Context {
    /// Captures the current thread's context.
    pub(crate) fn capture() -> Context {
        Context {
            #[cfg(feature = "tracing")]
            span: tracing::Span::current(),
            #[cfg(feature = "tracing")]
            dispatch: tracing::dispatcher::get_default(Clone::clone),
        }
    }

    /// Makes `future` run in this context wherever it is polled: inside the caller's span,
    /// with the caller's subscriber as the default, so that its events are recorded under the
    /// caller's span with its fields.
    #[cfg(feature = "tracing")]
    pub(crate) fn attach<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        use tracing::instrument::{Instrument, WithSubscriber};
        future.instrument(self.span).with_subscriber(self.dispatch)
    }

    /// Without the `tracing` feature there is nothing to carry.
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn attach<F: Future>(self, future: F) -> F {
        future
    }
}

/// Emits a `tracing` event with the `loopbridge` target when the feature is on; compiles to
/// nothing otherwise.
macro_rules! lifecycle {
    ($level:ident, $($arg:tt)+) => {
        #[cfg(feature = "tracing")]
        tracing::$level!(target: "loopbridge", $($arg)+);
    };
}

pub(crate) use lifecycle;
