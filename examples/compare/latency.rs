//! Latency samples as an HDR histogram: percentiles to three significant digits, memory
//! allocated once up front (recording allocates nothing, so it does not disturb the
//! allocation counts), and per-thread histograms that merge.

use std::time::Duration;

use hdrhistogram::Histogram;

/// Round trips from 1 ns to 60 s, to three significant digits.
pub struct Latencies(Histogram<u64>);

impl Latencies {
    pub fn new() -> Latencies {
        Latencies(Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds"))
    }

    pub fn record(&mut self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.0.saturating_record(nanos.max(1));
    }

    /// Adds another thread's samples.
    pub fn merge(&mut self, other: &Latencies) {
        self.0.add(&other.0).expect("histograms of the same bounds");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency at `quantile` (0.5 for the median), in nanoseconds; 0 without samples.
    pub fn quantile_ns(&self, quantile: f64) -> u64 {
        self.0.value_at_quantile(quantile)
    }

    pub fn median(&self) -> Duration {
        Duration::from_nanos(self.quantile_ns(0.5))
    }
}
