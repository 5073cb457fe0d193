//! What travels from the caller into the bridge with each call: with the `tracing` feature,
//! the caller's current span and default subscriber; without it, nothing at all.

use std::future::Future;

/// The caller's context, captured on the caller's thread.
#[derive(Clone, Debug)]
pub(crate) struct Context {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// `None` when the caller has no subscriber: then there is nothing to carry, and polling
    /// skips setting one as the default.
    #[cfg(feature = "tracing")]
    dispatch: Option<tracing::Dispatch>,
}

impl Context {
    /// Captures the current thread's context.
    pub(crate) fn capture() -> Context {
        #[cfg(feature = "tracing")]
        {
            let dispatch = tracing::dispatcher::get_default(|dispatch| {
                (!dispatch.is::<tracing::subscriber::NoSubscriber>()).then(|| dispatch.clone())
            });
            let span = match dispatch {
                Some(_) => tracing::Span::current(),
                None => tracing::Span::none(),
            };
            Context { span, dispatch }
        }
        #[cfg(not(feature = "tracing"))]
        Context {}
    }

    /// Makes `future` run in this context wherever it is polled: inside the caller's span,
    /// with the caller's subscriber as the default, so that its events are recorded under the
    /// caller's span with its fields.
    #[cfg(feature = "tracing")]
    pub(crate) fn attach<F: Future>(self, future: F) -> impl Future<Output = F::Output> {
        use std::{future::poll_fn, pin::pin};
        use tracing::instrument::Instrument;
        let Context { span, dispatch } = self;
        async move {
            let mut future = pin!(future.instrument(span));
            poll_fn(|cx| match &dispatch {
                Some(dispatch) => {
                    tracing::dispatcher::with_default(dispatch, || future.as_mut().poll(cx))
                }
                None => future.as_mut().poll(cx),
            })
            .await
        }
    }

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
