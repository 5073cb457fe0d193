//! The bridge's own tests, of what only the crate's internals can show.

use std::{
    thread,
    time::{Duration, Instant},
};

use crate::{
    Bridge,
    spin::{Spinning, max_spinners},
};

/// How long a test retries before it gives up: other tests of this binary spin too, and may
/// hold the spinning slots for a moment.
const PATIENCE: Duration = Duration::from_secs(10);

/// Takes a spinning slot, retrying while other callers hold them all.
fn take_slot() -> Option<Spinning> {
    let give_up = Instant::now() + PATIENCE;
    loop {
        if let Some(slot) = Spinning::enter() {
            return Some(slot);
        }
        if Instant::now() > give_up {
            return None;
        }
        thread::yield_now();
    }
}

/// A caller parked in a long call takes no core, so it must not keep the others from
/// spinning. (Before, every waiting caller counted, parked or not: on 2 cores one long
/// call in flight switched spinning off for every caller of every bridge.)
#[test]
fn a_parked_call_leaves_room_to_spin() {
    /// Ends the long call when dropped, even if an assertion fails first.
    struct Release(async_channel::Sender<()>);
    impl Drop for Release {
        fn drop(&mut self) {
            let _ = self.0.try_send(());
        }
    }
    let bridge = Bridge::new();
    let (release, released) = async_channel::bounded::<()>(1);
    let (started, has_started) = std::sync::mpsc::channel();
    thread::scope(|scope| {
        let parked = scope.spawn(|| {
            bridge.call(async move {
                let _ = started.send(());
                let _ = released.recv().await;
            })
        });
        let release = Release(release);
        has_started
            .recv_timeout(PATIENCE)
            .expect("the long call started");
        // Every spare slot but one is taken, as by callers spinning elsewhere.
        let others: Vec<_> = (1..max_spinners())
            .map(|_| take_slot().expect("a spinning slot"))
            .collect();
        // The long call's caller spins for a moment, then parks: from then on the last
        // slot is free.
        let last = take_slot();
        assert!(
            last.is_some(),
            "a caller parked in a long call kept the others from spinning"
        );
        drop((last, others, release));
        parked.join().expect("the long call").expect("its outcome");
    });
}
