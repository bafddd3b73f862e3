//! Per-query latencies as a load scenario reports them: a log-bucketed histogram (1 % wide
//! buckets of microseconds), small and bounded whatever the query count, which the host merges
//! across the sandboxes of a capacity step to take percentiles over all their queries.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Each bucket is this much wider than the one below it.
pub const GROWTH: f64 = 1.01;
/// The highest bucket index: latencies above about 10⁴ s land in it.
pub const MAX_BUCKET: u32 = 2400;

/// Query latencies, counted per bucket. Bucket `i` holds latencies in
/// `[GROWTH^i, GROWTH^(i+1))` µs (bucket 0 also everything under 1 µs).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<(u32, u64)>", into = "Vec<(u32, u64)>")]
pub struct Histogram {
    buckets: BTreeMap<u32, u64>,
}

/// A histogram from a guest that cannot be one.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("latency histogram: bucket {bucket} is above the highest, {MAX_BUCKET}")]
pub struct BadHistogram {
    pub bucket: u32,
}

impl TryFrom<Vec<(u32, u64)>> for Histogram {
    type Error = BadHistogram;
    fn try_from(v: Vec<(u32, u64)>) -> Result<Self, BadHistogram> {
        let mut h = Histogram::default();
        for (bucket, count) in v {
            if bucket > MAX_BUCKET {
                return Err(BadHistogram { bucket });
            }
            let c = h.buckets.entry(bucket).or_default();
            *c = c.saturating_add(count);
        }
        h.buckets.retain(|_, c| *c > 0);
        Ok(h)
    }
}

impl From<Histogram> for Vec<(u32, u64)> {
    fn from(h: Histogram) -> Self {
        h.buckets.into_iter().collect()
    }
}

impl Histogram {
    /// Counts one latency of `ms` milliseconds.
    pub fn record(&mut self, ms: f64) {
        *self.buckets.entry(bucket_of(ms)).or_default() += 1;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (&b, &c) in &other.buckets {
            let mine = self.buckets.entry(b).or_default();
            *mine = mine.saturating_add(c);
        }
    }

    /// How many latencies it holds.
    pub fn count(&self) -> u64 {
        self.buckets.values().fold(0u64, |a, &c| a.saturating_add(c))
    }

    /// The latency (ms, the bucket's geometric middle) of the `rank`-th fastest query, 1-based;
    /// `None` past the last one.
    pub fn at_rank(&self, rank: u64) -> Option<f64> {
        let mut seen = 0u64;
        for (&b, &c) in &self.buckets {
            seen = seen.saturating_add(c);
            if seen >= rank.max(1) {
                return Some(middle_ms(b));
            }
        }
        None
    }

    /// The nearest-rank `q` quantile in ms (`q` in 0..=1); `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        self.at_rank(((q * n as f64).ceil() as u64).clamp(1, n))
    }

    /// How many latencies exceed `ms` (to the bucket: a bucket straddling `ms` counts as over
    /// when its middle is).
    pub fn over(&self, ms: f64) -> u64 {
        self.buckets.iter().filter(|(&b, _)| middle_ms(b) > ms).map(|(_, &c)| c).sum()
    }
}

fn bucket_of(ms: f64) -> u32 {
    let us = ms * 1e3;
    if us.is_nan() || us <= 1.0 {
        return 0;
    }
    ((us.ln() / GROWTH.ln()).floor() as u64).min(MAX_BUCKET as u64) as u32
}

fn middle_ms(bucket: u32) -> f64 {
    GROWTH.powf(bucket as f64 + 0.5) / 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_half_a_percent() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.record(i as f64);
        }
        assert_eq!(h.count(), 1000);
        for (q, want) in [(0.5, 500.0), (0.9, 900.0), (0.99, 990.0), (1.0, 1000.0)] {
            let got = h.quantile(q).unwrap();
            assert!((got / want - 1.0).abs() < 0.006, "q {q}: {got} vs {want}");
        }
        let over = h.over(950.0);
        // 1 % buckets: the one straddling 950 ms holds about ten of these latencies.
        assert!((44..=56).contains(&over), "{over} over 950 ms");
    }

    #[test]
    fn merge_adds_and_serde_round_trips() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(1.0);
        b.record(1.0);
        b.record(50.0);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        let text = serde_json::to_string(&a).unwrap();
        let back: Histogram = serde_json::from_str(&text).unwrap();
        assert_eq!(back, a);
        assert!(serde_json::from_str::<Histogram>("[[99999, 1]]").is_err());
        assert_eq!(Histogram::default().quantile(0.9), None);
        // A huge latency lands in the top bucket, never outside.
        a.record(f64::INFINITY);
        assert!(a.buckets.contains_key(&MAX_BUCKET));
    }
}
