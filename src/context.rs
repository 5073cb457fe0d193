//! What travels from the caller into the bridge with each call: the caller's [`Scope`]s (its
//! deadline, tokens and checks), and with the `tracing` feature, the caller's current span and
//! default subscriber.
//!
//! [`Scope`]: crate::Scope

use std::{
    future::Future,
    pin::Pin,
    task::{Context as TaskContext, Poll},
};

use crate::{
    cancel::{self, InForce, Limits},
    sync::Arc,
};

/// The caller's context, captured on the caller's thread.
#[derive(Clone)]
pub(crate) struct Context {
    /// The scopes in force on the caller's thread, if any.
    limits: Option<Arc<Limits>>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
    /// `None` when the caller has no subscriber: then there is nothing to carry, and polling
    /// skips setting one as the default.
    #[cfg(feature = "tracing")]
    dispatch: Option<tracing::Dispatch>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("scoped", &self.limits.is_some())
            .finish_non_exhaustive()
    }
}

impl Context {
    /// Captures the current thread's context.
    pub(crate) fn capture() -> Context {
        let limits = cancel::current();
        #[cfg(feature = "tracing")]
        {
            let dispatch = tracing::dispatcher::get_default(|dispatch| {
                (!dispatch.is::<tracing::subscriber::NoSubscriber>()).then(|| dispatch.clone())
            });
            let span = match dispatch {
                Some(_) => tracing::Span::current(),
                None => tracing::Span::none(),
            };
            Context {
                limits,
                span,
                dispatch,
            }
        }
        #[cfg(not(feature = "tracing"))]
        Context { limits }
    }

    /// Makes `future` run in this context wherever it is polled: inside the caller's scopes
    /// (so that a blocking bridge call made from the future obeys them), and with the
    /// `tracing` feature inside the caller's span, with the caller's subscriber as the default,
    /// so that its events are recorded under the caller's span with its fields.
    #[cfg(feature = "tracing")]
    pub(crate) fn attach<F: Future>(
        self,
        future: F,
    ) -> Attached<tracing::instrument::Instrumented<F>> {
        use tracing::instrument::Instrument;
        Attached {
            future: future.instrument(self.span),
            limits: self.limits,
            dispatch: self.dispatch,
        }
    }

    #[cfg(not(feature = "tracing"))]
    pub(crate) fn attach<F: Future>(self, future: F) -> Attached<F> {
        Attached {
            future,
            limits: self.limits,
            dispatch: (),
        }
    }
}

pin_project_lite::pin_project! {
    /// A caller's future in the caller's context (see [`Context::attach`]). A struct rather
    /// than an `async` block, so that the future is dropped only when this is, never as part
    /// of the poll that completes it: a panic in its `Drop` then cannot take the output with
    /// it (a panicking local destructor leaks the value being returned).
    pub(crate) struct Attached<F> {
        #[pin]
        future: F,
        limits: Option<Arc<Limits>>,
        dispatch: Dispatch,
    }
}

/// The caller's subscriber, with the `tracing` feature; nothing without it.
#[cfg(feature = "tracing")]
type Dispatch = Option<tracing::Dispatch>;
#[cfg(not(feature = "tracing"))]
type Dispatch = ();

impl<F: Future> Future for Attached<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        // The caller's scopes, wherever this is polled (nothing to do if it was in none).
        let _in_force = this
            .limits
            .as_ref()
            .map(|limits| InForce::enter(Some(limits.clone())));
        let future = this.future;
        #[cfg(feature = "tracing")]
        if let Some(dispatch) = this.dispatch {
            return tracing::dispatcher::with_default(dispatch, || future.poll(cx));
        }
        #[cfg(not(feature = "tracing"))]
        let () = this.dispatch;
        future.poll(cx)
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
