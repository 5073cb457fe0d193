//! The ledger of futures: every future the stress test makes is tracked from creation to
//! drop, so that a future dropped twice, or never, is found.

use std::{
    future::Future,
    panic::{self},
    pin::Pin,
    sync::{
        Arc, Once,
        atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering},
    },
    task::{Context, Poll},
};

/// What became of every future, by id.
pub(crate) struct Ledger {
    /// 0: never created; 1: created; 2: dropped; more: dropped more than once.
    pub(super) state: Vec<AtomicU8>,
    /// How many times the future returned `Ready`.
    pub(super) completed: Vec<AtomicU8>,
    /// Set just before the future panics on purpose.
    pub(super) panicked: Vec<AtomicBool>,
    /// How many results (values or panics) carrying this id reached a caller.
    pub(super) delivered: Vec<AtomicU8>,
    pub(super) next: AtomicUsize,
    pub(super) created: AtomicUsize,
    pub(super) dropped: AtomicUsize,
    pub(super) double_drops: AtomicUsize,
    pub(super) polled_after_ready: AtomicUsize,
}

impl Ledger {
    pub(super) fn new(capacity: usize) -> Ledger {
        Ledger {
            state: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            completed: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            panicked: (0..capacity).map(|_| AtomicBool::new(false)).collect(),
            delivered: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicUsize::new(0),
            created: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
            double_drops: AtomicUsize::new(0),
            polled_after_ready: AtomicUsize::new(0),
        }
    }

    pub(super) fn allocate(&self) -> usize {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(
            id < self.state.len(),
            "the ledger is full: raise its capacity"
        );
        self.state[id].store(1, Ordering::Relaxed);
        self.created.fetch_add(1, Ordering::AcqRel);
        id
    }

    pub(super) fn on_drop(&self, id: usize) {
        let before = self.state[id].fetch_add(1, Ordering::AcqRel);
        if before == 1 {
            self.dropped.fetch_add(1, Ordering::AcqRel);
        } else {
            // Never panic here: this may run on a runtime thread, inside the bridge.
            self.double_drops.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(super) fn deliver(&self, id: usize) {
        self.delivered[id].fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn created(&self) -> usize {
        self.created.load(Ordering::Acquire)
    }

    pub(super) fn dropped(&self) -> usize {
        self.dropped.load(Ordering::Acquire)
    }
}

pub(super) type BoxedFuture = Pin<Box<dyn Future<Output = usize> + Send + 'static>>;

/// A future whose creation, completion and drop are recorded in the ledger under its id.
pub(crate) struct Tracked {
    pub(super) id: usize,
    pub(super) ledger: Arc<Ledger>,
    pub(super) inner: BoxedFuture,
    pub(super) done: bool,
}

impl Future for Tracked {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        if self.done {
            self.ledger
                .polled_after_ready
                .fetch_add(1, Ordering::AcqRel);
            return Poll::Pending;
        }
        match self.inner.as_mut().poll(cx) {
            Poll::Ready(value) => {
                self.done = true;
                self.ledger.completed[self.id].fetch_add(1, Ordering::AcqRel);
                Poll::Ready(value)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.ledger.on_drop(self.id);
    }
}

/// The payload of a deliberate panic, carrying the id of the future that panicked.
#[derive(Debug)]
pub(crate) struct StressPanic(pub usize);

/// Keeps deliberate panics ([`StressPanic`]) out of the output; every other panic still goes
/// to the previous hook.
pub(super) fn quiet_deliberate_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<StressPanic>().is_none() {
                previous(info);
            }
        }));
    });
}
