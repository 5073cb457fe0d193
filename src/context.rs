//! What travels from the caller into the bridge with each call: with the `tracing` feature,
//! the caller's current span and default subscriber; without it, nothing at all.

use std::future::Future;
#[cfg(feature = "tracing")]
use std::{
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

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
    pub(crate) fn attach<F: Future>(self, future: F) -> Attached<F> {
        use tracing::instrument::Instrument;
        Attached {
            future: future.instrument(self.span),
            dispatch: self.dispatch,
        }
    }

    #[cfg(not(feature = "tracing"))]
    pub(crate) fn attach<F: Future>(self, future: F) -> F {
        future
    }
}

#[cfg(feature = "tracing")]
pin_project_lite::pin_project! {
    /// A caller's future in the caller's context (see [`Context::attach`]). A struct rather
    /// than an `async` block, so that the future is dropped only when this is, never as part
    /// of the poll that completes it: a panic in its `Drop` then cannot take the output with
    /// it (a panicking local destructor leaks the value being returned).
    pub(crate) struct Attached<F> {
        #[pin]
        future: tracing::instrument::Instrumented<F>,
        dispatch: Option<tracing::Dispatch>,
    }
}

#[cfg(feature = "tracing")]
impl<F: Future> Future for Attached<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let future = this.future;
        match this.dispatch {
            Some(dispatch) => tracing::dispatcher::with_default(dispatch, || future.poll(cx)),
            None => future.poll(cx),
        }
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
