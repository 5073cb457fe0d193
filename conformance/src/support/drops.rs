//! Drop signals: how a check sees that a future was dropped ([`DropSignal`],
//! [`pending_with`]), and a value whose `Drop` panics on purpose ([`PanicOnDrop`]).

use std::{sync::mpsc, thread};

use super::process::thread_name;

/// Sends the name of the dropping thread on its channel when dropped.
///
/// ```
/// use loopbridge_conformance::support::DropSignal;
/// let (signal, dropped) = DropSignal::new();
/// drop(signal);
/// assert!(dropped.recv().is_ok());
/// ```
#[derive(Debug)]
pub struct DropSignal(Option<mpsc::Sender<String>>);

impl DropSignal {
    /// A signal and the receiver it reports to.
    ///
    /// ```
    /// let (signal, dropped) = loopbridge_conformance::support::DropSignal::new();
    /// drop(signal);
    /// assert!(dropped.try_recv().is_ok());
    /// ```
    #[must_use]
    pub fn new() -> (DropSignal, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel();
        (DropSignal(Some(tx)), rx)
    }
}

/// Reports its drop like a [`DropSignal`], then panics: for checks that a panic in a `Drop`
/// cannot hurt the bridge.
///
/// ```
/// use std::panic::{self, AssertUnwindSafe};
/// use loopbridge_conformance::support::PanicOnDrop;
///
/// let (bomb, dropped) = PanicOnDrop::new();
/// assert!(panic::catch_unwind(AssertUnwindSafe(move || drop(bomb))).is_err());
/// assert!(dropped.try_recv().is_ok());
/// ```
#[derive(Debug)]
pub struct PanicOnDrop(Option<DropSignal>);

impl PanicOnDrop {
    /// A bomb and the receiver its drop reports to, before it panics.
    ///
    /// ```
    /// let (bomb, _dropped) = loopbridge_conformance::support::PanicOnDrop::new();
    /// std::mem::forget(bomb);
    /// ```
    #[must_use]
    pub fn new() -> (PanicOnDrop, mpsc::Receiver<String>) {
        let (signal, dropped) = DropSignal::new();
        (PanicOnDrop(Some(signal)), dropped)
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        drop(self.0.take());
        if !thread::panicking() {
            panic!("loopbridge conformance: a panic in Drop, on purpose");
        }
    }
}

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(thread_name());
        }
    }
}

/// A future that never completes and holds `guard` (a [`DropSignal`] or a [`PanicOnDrop`],
/// say), so its drop is observable.
///
/// ```
/// use loopbridge_conformance::support::{pending_with, DropSignal};
/// let (signal, dropped) = DropSignal::new();
/// drop(pending_with(signal));
/// assert!(dropped.recv().is_ok());
/// ```
pub async fn pending_with<G>(guard: G) {
    let _guard = guard;
    futures_lite::future::pending::<()>().await
}
