//! Latency statistics: every timing goes into an HDR histogram (microsecond resolution) and
//! percentiles are read from it, never computed by hand from a sorted sample. The plots' buckets
//! are read from the same histogram, so a plot and the percentiles beside it agree.

use crate::model::{Bucket, Distribution, Percentiles};
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

impl Latencies {
    /// The value at quantile `q` (0–1) in milliseconds; `None` when nothing was recorded.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        (!self.histogram.is_empty()).then(|| self.histogram.value_at_quantile(q) as f64 / 1000.0)
    }

    /// The largest recorded value in milliseconds; `None` when nothing was recorded.
    pub fn max_ms(&self) -> Option<f64> {
        (!self.histogram.is_empty()).then(|| self.histogram.max() as f64 / 1000.0)
    }

    /// Adds every sample of `other` (same bounds, so this cannot fail).
    pub fn merge(&mut self, other: &Latencies) {
        let _ = self.histogram.add(&other.histogram);
    }

    /// Coordinated-omission correction for a closed loop (HdrHistogram's `clone_correct`): a
    /// sample longer than `interval` stands for the requests a paced client would have sent
    /// meanwhile, so `value - interval`, `value - 2·interval`, … are recorded too.
    pub fn corrected(&self, interval: Duration) -> Latencies {
        let micros = (interval.as_micros() as u64).max(1);
        Latencies {
            histogram: self.histogram.clone_correct(micros),
        }
    }
}

/// Buckets a plot shows at most.
pub const PLOT_BUCKETS: usize = 24;

impl Latencies {
    /// The samples as at most [`PLOT_BUCKETS`] adjacent buckets from min to max: log-spaced
    /// when the samples span more than a factor of 4 (latencies have long tails), linear
    /// otherwise. `None` when nothing was recorded.
    pub fn distribution(&self, check_id: &str, target_ms: Option<f64>) -> Option<Distribution> {
        if self.histogram.is_empty() {
            return None;
        }
        let (lo, hi) = (self.histogram.min(), self.histogram.max());
        let (min, max) = (lo as f64, hi as f64);
        let n = if self.histogram.equivalent(lo, hi) {
            1
        } else {
            PLOT_BUCKETS
        };
        let log = max / min.max(1.0) > 4.0;
        let edge = |i: usize| -> f64 {
            let t = i as f64 / n as f64;
            if log {
                min * (max / min).powf(t)
            } else {
                min + (max - min) * t
            }
        };
        let edges: Vec<f64> = (0..=n).map(edge).collect();
        let mut counts = vec![0u64; n];
        for v in self.histogram.iter_recorded() {
            // The bucket of the value's equivalence range midpoint, clamped to the sample range.
            let value =
                (self.histogram.median_equivalent(v.value_iterated_to()) as f64).clamp(min, max);
            let i = edges[1..].partition_point(|e| *e <= value).min(n - 1);
            counts[i] += v.count_at_value();
        }
        let ms = |micros: f64| (micros / 1000.0 * 1000.0).round() / 1000.0;
        Some(Distribution {
            check_id: check_id.to_owned(),
            target_ms,
            count: self.histogram.len(),
            buckets: counts
                .iter()
                .enumerate()
                .map(|(i, &count)| Bucket {
                    low_ms: ms(edges[i]),
                    high_ms: ms(edges[i + 1]),
                    count,
                })
                .collect(),
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

    #[test]
    fn buckets_hold_every_sample_in_order() {
        let mut l = Latencies::new();
        assert!(l.distribution("x", None).is_none());
        for ms in [1u64, 2, 2, 3, 50, 400, 400, 999] {
            l.record(Duration::from_millis(ms));
        }
        let d = l
            .distribution("switch.latency", Some(500.0))
            .expect("recorded");
        assert_eq!(d.count, 8);
        assert_eq!(d.buckets.iter().map(|b| b.count).sum::<u64>(), 8);
        assert_eq!(d.buckets.len(), PLOT_BUCKETS);
        assert!(d.buckets.windows(2).all(|w| w[0].high_ms == w[1].low_ms));
        assert!((d.buckets[0].low_ms - 1.0).abs() < 0.01, "{d:?}");
        // Log-spaced: the 1 ms sample and the 999 ms one land in the first and last bucket.
        assert!(d.buckets[0].count >= 1 && d.buckets[PLOT_BUCKETS - 1].count >= 1);
        assert_eq!(d.target_ms, Some(500.0));
    }

    #[test]
    fn one_value_is_one_bucket() {
        let mut l = Latencies::new();
        l.record(Duration::from_millis(7));
        let d = l.distribution("ws.reconnect_time", None).expect("recorded");
        assert_eq!(d.buckets.len(), 1);
        assert_eq!(d.buckets[0].count, 1);
    }
}
