//! The one place the crate takes its synchronization primitives from.
//!
//! State machines (the result slot, the generation registry, the bridge state, the shutdown
//! flag) use only what this module exports. Built with `--cfg loopbridge_loom`, it exports
//! loom's types instead, and the models in `src/models.rs` explore every interleaving of
//! those state machines (see the README's "Reliability" section for the command). Timers stay
//! outside the modelled state: a model expresses a timeout as an explicit cancel.
//!
//! `Arc` and `Weak` are std's in both builds: loom's `Arc` cannot become an `Arc<dyn Trait>`,
//! and reference counts are not part of any protocol here (a model counts drops instead).
//! Process-wide statics (id counters, the spin heuristics) stay std's too: loom's types
//! cannot be built in a `static`, and they decide nothing a model checks.

#[cfg(not(loopbridge_loom))]
pub(crate) use std::{
    sync::{
        Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    thread,
};

#[cfg(loopbridge_loom)]
pub(crate) use loom::{
    sync::{
        Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    thread,
};

pub(crate) use std::sync::{Arc, Weak};

use std::sync::PoisonError;

/// Locks `mutex`, recovering the guard if a panicking thread poisoned it.
///
/// Every critical section in this crate leaves its data consistent before it can panic, so a
/// poisoned lock carries no broken invariant.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `lock`, recovering from poisoning (see [`lock`]).
pub(crate) fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `lock`, recovering from poisoning (see [`lock`]).
pub(crate) fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar`, recovering from poisoning (see [`lock`]).
pub(crate) fn wait_on<'a, T>(condvar: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    condvar.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar` for at most `timeout`, recovering from poisoning (see [`lock`]).
pub(crate) fn wait_on_timeout<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: std::time::Duration,
) -> MutexGuard<'a, T> {
    condvar
        .wait_timeout(guard, timeout)
        .unwrap_or_else(PoisonError::into_inner)
        .0
}
