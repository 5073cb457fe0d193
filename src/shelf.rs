//! A value that lives across blocking calls but is used only on the runtime (a stream, a
//! reader, a writer): each call borrows it there, one at a time, and gives it back when it
//! ends, even when it is cancelled; its owner's handle lives on the caller's side.

use std::time::Duration;

use event_listener::Event;
use futures_lite::future;

use crate::{
    bridge::Bridge,
    generation::{self, Generation},
    sync::{Arc, Mutex, Weak, lock},
};

/// How long a call waits for a value lent to a call of a generation that has since closed,
/// before it takes the value for lost: the closed runtime drops that call soon, unless one of
/// its threads is stuck, and then maybe never.
const LOST_AFTER: Duration = Duration::from_secs(1);

pub(crate) struct Shelf<T> {
    place: Mutex<Place<T>>,
    /// Notified when a loan ends.
    returned: Event,
}

enum Place<T> {
    Here(T),
    /// Lent to a call running on this generation (none on a one-off thread).
    Lent(Option<Weak<Generation>>),
    /// Ended (a stream that finished, a writer closed) or lost (a panic while lent).
    Gone,
    /// Lent when its owner let go: the loan drops it when it ends.
    Orphaned,
}

/// Why a call could not borrow the value.
pub(crate) enum Unavailable {
    /// It ended, or was lost to a panic.
    Gone,
    /// It is lent to a call on a runtime that closed and has not given it back.
    Stuck,
}

impl<T: Send + 'static> Shelf<T> {
    pub(crate) fn new(value: T) -> Arc<Shelf<T>> {
        Arc::new(Shelf {
            place: Mutex::new(Place::Here(value)),
            returned: Event::new(),
        })
    }

    /// On the runtime: borrows the value, waiting for an earlier call that was cancelled to
    /// give it back (its runtime drops it soon).
    pub(crate) async fn lend(self: &Arc<Self>) -> Result<Loan<T>, Unavailable> {
        let mut waited_for_closed = false;
        loop {
            let listener = {
                let mut place = lock(&self.place);
                match std::mem::replace(&mut *place, Place::Gone) {
                    Place::Here(value) => {
                        *place = Place::Lent(generation::stepping().map(|g| Arc::downgrade(&g)));
                        return Ok(Loan {
                            shelf: self.clone(),
                            value: Some(value),
                        });
                    }
                    Place::Gone | Place::Orphaned => return Err(Unavailable::Gone),
                    Place::Lent(lender) => {
                        let closed = lender
                            .as_ref()
                            .is_some_and(|lender| lender.upgrade().is_none_or(|g| g.is_closed()));
                        *place = Place::Lent(lender);
                        if closed && waited_for_closed {
                            return Err(Unavailable::Stuck);
                        }
                        waited_for_closed |= closed;
                        (self.returned.listen(), closed)
                    }
                }
            };
            match listener {
                (listener, false) => listener.await,
                (listener, true) => {
                    let returned = async {
                        listener.await;
                        true
                    };
                    let lost = async {
                        sleep(LOST_AFTER).await;
                        false
                    };
                    if !future::or(returned, lost).await {
                        return Err(Unavailable::Stuck);
                    }
                }
            }
        }
    }

    /// The owner lets go: returns the value if it is here, to be disposed of on the runtime.
    /// A value that is lent is dropped by its loan when it ends.
    pub(crate) fn abandon(&self) -> Option<T> {
        let mut place = lock(&self.place);
        match std::mem::replace(&mut *place, Place::Gone) {
            Place::Here(value) => Some(value),
            Place::Lent(_) => {
                *place = Place::Orphaned;
                None
            }
            Place::Gone | Place::Orphaned => None,
        }
    }
}

impl<T: Send + 'static> Shelf<T> {
    /// The owner lets go: the value is dropped on `bridge`'s runtime, without waiting (on
    /// this thread if the bridge is shut down and has no runtime left). A value that is lent
    /// is dropped by its loan, on the runtime, when that call ends.
    pub(crate) fn drop_on(&self, bridge: &Bridge) {
        if let Some(value) = self.abandon() {
            if let Ok(task) = bridge.spawn(async move { drop(value) }) {
                task.detach();
            }
        }
    }
}

/// A sleep on the runtime of the current step, or async-io's timer on a one-off thread.
async fn sleep(duration: Duration) {
    match generation::stepping() {
        Some(generation) => {
            let timer = generation.runtime.sleep(duration);
            drop(generation);
            timer.await;
        }
        None => {
            async_io::Timer::after(duration).await;
        }
    }
}

/// A value borrowed from its shelf by one call, given back when the loan is dropped.
pub(crate) struct Loan<T> {
    shelf: Arc<Shelf<T>>,
    value: Option<T>,
}

impl<T> Loan<T> {
    pub(crate) fn get(&mut self) -> &mut T {
        self.value
            .as_mut()
            .expect("a loan holds its value until it ends")
    }

    /// Ends the loan and the value with it: it is dropped here, and later calls find it gone.
    pub(crate) fn finish(mut self) -> T {
        let value = self
            .value
            .take()
            .expect("a loan holds its value until it ends");
        *lock(&self.shelf.place) = Place::Gone;
        self.shelf.returned.notify(usize::MAX);
        value
    }
}

impl<T> Drop for Loan<T> {
    fn drop(&mut self) {
        let Some(value) = self.value.take() else {
            return;
        };
        let mut place = lock(&self.shelf.place);
        // A value that panicked mid-use may be broken: it is not lent again.
        let orphaned = matches!(*place, Place::Orphaned) || std::thread::panicking();
        let unwanted = match orphaned {
            true => {
                *place = Place::Gone;
                Some(value)
            }
            false => {
                *place = Place::Here(value);
                None
            }
        };
        drop(place);
        self.shelf.returned.notify(usize::MAX);
        drop(unwanted);
    }
}
