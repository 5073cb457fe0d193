//! How long a cancelled call takes to return: a caller blocked in a call under a
//! `CancelToken`, the token cancelled from another thread, and the time from `cancel()` to the
//! caller's return, for the bridges in both drive modes. It should be the cost of a wake, not
//! of a polling period.

use std::{
    sync::{Arc, Barrier, mpsc},
    thread,
    time::{Duration, Instant},
};

use loopbridge::{CancelToken, Scope};

use crate::{
    latency::Latencies,
    patterns::{Kind, Strategy},
};

/// The strategies measured.
pub const KINDS: [Kind; 6] = [
    Kind::BridgeSmol,
    Kind::BridgeTokioCurrent,
    Kind::BridgeTokioMulti,
    Kind::CallerSmol,
    Kind::CallerTokioCurrent,
    Kind::CallerTokioMulti,
];

/// One strategy's figures.
#[derive(Debug)]
pub struct Figures {
    pub kind: Kind,
    pub trials: u64,
    pub median_ns: u64,
    pub p99_ns: u64,
}

/// Measures `trials` cancels per strategy.
pub fn measure(trials: usize) -> Vec<Figures> {
    KINDS
        .iter()
        .map(|&kind| {
            let strategy = Strategy::start(kind);
            let Strategy::Bridge(bridge) = &strategy else {
                unreachable!("the cancel figures are the bridges'")
            };
            let mut latencies = Latencies::new();
            for _ in 0..trials {
                let token = CancelToken::new();
                let blocked = Arc::new(Barrier::new(2));
                let (returned_tx, returned) = mpsc::channel();
                let caller = {
                    let (bridge, token, blocked) = (bridge.clone(), token.clone(), blocked.clone());
                    thread::spawn(move || {
                        let (started_tx, started) = async_channel::bounded::<()>(1);
                        let waiter = thread::spawn(move || {
                            let _ = started.recv_blocking();
                            blocked.wait();
                        });
                        let outcome = Scope::new().cancel_on(&token).run(|| {
                            bridge.call(async move {
                                let _ = started_tx.send(()).await;
                                std::future::pending::<()>().await
                            })
                        });
                        let _ = returned_tx.send(Instant::now());
                        waiter.join().expect("the waiter");
                        assert!(outcome.is_err_and(|e| e.is_cancelled()));
                    })
                };
                // The call is in flight; give the caller a moment to park, as a real one
                // blocked in a long call has.
                blocked.wait();
                thread::sleep(Duration::from_millis(1));
                let cancelled = Instant::now();
                token.cancel();
                let back = returned.recv().expect("the caller returns");
                latencies.record(back.saturating_duration_since(cancelled));
                caller.join().expect("the caller");
            }
            strategy.stop();
            Figures {
                kind,
                trials: latencies.count(),
                median_ns: latencies.quantile_ns(0.5),
                p99_ns: latencies.quantile_ns(0.99),
            }
        })
        .collect()
}
