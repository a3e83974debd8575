//! Latency statistics: every timing goes into an HDR histogram (microsecond resolution) and
//! percentiles are read from it, never computed by hand from a sorted sample.

use crate::model::Percentiles;
use hdrhistogram::Histogram;
use std::time::Duration;

/// Records durations; values beyond an hour are clamped (a probe never waits that long).
pub struct Latencies {
    histogram: Histogram<u64>,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies::new()
    }
}

impl Latencies {
    pub fn new() -> Latencies {
        let histogram = Histogram::new_with_bounds(1, 3_600_000_000, 3)
            .expect("constant bounds (1 µs .. 1 h, 3 significant figures) are valid");
        Latencies { histogram }
    }

    pub fn record(&mut self, d: Duration) {
        let micros = (d.as_micros() as u64).clamp(1, 3_600_000_000);
        self.histogram.saturating_record(micros);
    }

    pub fn len(&self) -> u64 {
        self.histogram.len()
    }

    pub fn is_empty(&self) -> bool {
        self.histogram.is_empty()
    }

    /// `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        if self.histogram.is_empty() {
            return None;
        }
        let ms = |micros: u64| (micros as f64 / 1000.0 * 1000.0).round() / 1000.0;
        Some(Percentiles {
            count: self.histogram.len(),
            min: ms(self.histogram.min()),
            p50: ms(self.histogram.value_at_quantile(0.50)),
            p95: ms(self.histogram.value_at_quantile(0.95)),
            p99: ms(self.histogram.value_at_quantile(0.99)),
            max: ms(self.histogram.max()),
            mean: (self.histogram.mean() / 1000.0 * 1000.0).round() / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut l = Latencies::new();
        assert!(l.percentiles().is_none());
        for ms in 1..=100u64 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.percentiles().expect("recorded");
        assert_eq!(p.count, 100);
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
        assert!((p.min - 1.0).abs() < 0.01, "{p:?}");
    }
}
