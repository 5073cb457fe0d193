//! What the models share: counts, the ledger of futures and values, a signal, a stuck future.

use std::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicUsize as StdCounter, Ordering as StdOrdering},
    task::{Context, Poll, Waker},
};

use crate::{
    harness::job,
    job::Job,
    slot::Slot,
    sync::{
        Arc, Mutex, lock,
        thread::{self, JoinHandle, ThreadId},
    },
};

/// How many times something happened, across a model's threads. A std atomic: loom runs one
/// thread at a time, and these counts are what a model checks, not part of the protocol.
#[derive(Clone, Default)]
pub(super) struct Count(pub(super) Arc<StdCounter>);

impl Count {
    pub(super) fn bump(&self) {
        self.0.fetch_add(1, StdOrdering::SeqCst);
    }

    pub(super) fn get(&self) -> usize {
        self.0.load(StdOrdering::SeqCst)
    }
}

/// Bumps `dropped` when dropped: one per future, one per value.
pub(super) struct Tracked {
    pub(super) dropped: Count,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.bump();
    }
}

/// What happened to the futures and values of one model.
#[derive(Clone, Default)]
pub(super) struct Ledger {
    pub(super) futures_made: Count,
    pub(super) futures_dropped: Count,
    pub(super) values_made: Count,
    pub(super) values_dropped: Count,
}

impl Ledger {
    /// A ready future whose value is tracked too: made when the future is polled.
    pub(super) fn ready(&self) -> impl Future<Output = Tracked> + Send + 'static {
        self.futures_made.bump();
        let guard = Tracked {
            dropped: self.futures_dropped.clone(),
        };
        let ledger = self.clone();
        async move {
            let _guard = guard;
            ledger.values_made.bump();
            Tracked {
                dropped: ledger.values_dropped.clone(),
            }
        }
    }

    /// Every future and every value made was dropped exactly once.
    pub(super) fn assert_balanced(&self) {
        assert_eq!(
            self.futures_made.get(),
            self.futures_dropped.get(),
            "futures"
        );
        assert!(self.values_made.get() <= 1);
        assert_eq!(self.values_made.get(), self.values_dropped.get(), "values");
    }
}

/// A one-shot signal a third thread fires, and the future that waits for it.
#[derive(Clone)]
pub(super) struct Signal(pub(super) Arc<Mutex<(bool, Option<Waker>)>>);

impl Signal {
    pub(super) fn new() -> Signal {
        Signal(Arc::new(Mutex::new((false, None))))
    }

    pub(super) fn fire(&self) {
        let waker = {
            let mut state = lock(&self.0);
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Future for Signal {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut state = lock(&self.0);
        if state.0 {
            return Poll::Ready(7);
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A ready future made into a job on a fresh slot, and a thread that runs that job: the two
/// sides of the slot protocol, without a bridge around them.
pub(super) fn ready_job_on_a_thread(ledger: &Ledger) -> (Arc<Slot<Tracked>>, JoinHandle<()>) {
    let slot = Slot::new();
    let first = job(ledger.ready(), slot.clone(), None, |_later: Job| {
        unreachable!("a ready future is never woken")
    });
    (slot, thread::spawn(move || first.run()))
}

/// A future that is never ready, and records whether it was polled and on which thread it was
/// dropped. A std mutex: what a model checks, not part of the protocol.
pub(super) struct Stuck(pub(super) Arc<std::sync::Mutex<(bool, Option<ThreadId>)>>);

impl Future for Stuck {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        self.0.lock().unwrap().0 = true;
        Poll::Pending
    }
}

impl Drop for Stuck {
    fn drop(&mut self) {
        self.0.lock().unwrap().1 = Some(thread::current().id());
    }
}

/// Runs its closure when dropped.
pub(super) struct OnDrop<F: FnMut()>(pub(super) F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
