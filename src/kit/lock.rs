//! The kit's one lock helper.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex of the kit, recovering it from poisoning: the kit's state stays consistent
/// across a panic, because no lock is held across user code.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
