//! Descriptive statistics of one series.

use serde::Serialize;

/// Summary of one series of values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n − 1); 0 for n < 2.
    pub sd: f64,
    /// Coefficient of variation, sd / |mean|.
    pub cv: f64,
    pub min: f64,
    pub median: f64,
    /// Nearest-rank percentiles.
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Summarises `values`; `None` when empty or when a value is not finite.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt() } else { 0.0 };
    let median = if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 };
    Some(Summary {
        n,
        mean,
        sd,
        cv: if mean != 0.0 { sd / mean.abs() } else { 0.0 },
        min: sorted[0],
        median,
        p90: nearest_rank(&sorted, 0.90),
        p95: nearest_rank(&sorted, 0.95),
        p99: nearest_rank(&sorted, 0.99),
        max: sorted[n - 1],
    })
}

/// Nearest-rank percentile of sorted values: the smallest value with at least q of the data at
/// or below it.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Sample standard deviation of the first 10, 20, 30, … values (the AI paper's Appendix
/// Table 1): how the spread settles as trials accumulate. Returns (n, sd) pairs.
pub fn cumulative_sd(values: &[f64], step: usize) -> Vec<(usize, f64)> {
    let step = step.max(2);
    (1..=values.len() / step)
        .map(|k| k * step)
        .map(|n| (n, summarize(&values[..n]).map(|s| s.sd).unwrap_or(0.0)))
        .collect()
}

/// A distribution-free confidence interval for the median: the order statistics
/// `[x(k), x(n+1−k)]` with the largest `k` whose coverage, `1 − 2·P(Binomial(n, ½) < k)`, is at
/// least `level` (the sign-test interval). Fewer values than that level needs give the widest
/// interval, `[min, max]`, with its own smaller coverage. Returns `(lo, hi, coverage)`; `None`
/// when empty or when a value is not finite.
pub fn median_ci(values: &[f64], level: f64) -> Option<(f64, f64, f64)> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    // P(Binomial(n, ½) ≤ j), for j = 0..n.
    let mut below = Vec::with_capacity(n + 1);
    let (mut term, mut sum) = (0.5f64.powi(n as i32), 0.0);
    for j in 0..=n {
        sum += term;
        below.push(sum);
        term *= (n - j) as f64 / (j + 1) as f64;
    }
    let coverage = |k: usize| 1.0 - 2.0 * below[k - 1];
    let k = (1..=n.div_ceil(2)).take_while(|&k| coverage(k) >= level).last().unwrap_or(1);
    Some((sorted[k - 1], sorted[n - k], coverage(k).max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_summary() {
        // mean 5, squared deviations 9+1+1+9+0 = 20, sd = sqrt(20/4) = sqrt(5)
        let s = summarize(&[2.0, 4.0, 6.0, 8.0, 5.0]).unwrap();
        assert_eq!(s.n, 5);
        assert_eq!(s.mean, 5.0);
        assert!((s.sd - 5f64.sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.median, s.max), (2.0, 5.0, 8.0));
        assert_eq!(s.p90, 8.0);
    }

    #[test]
    fn nearest_rank_matches_definition() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&v, 0.90), 90.0);
        assert_eq!(nearest_rank(&v, 0.99), 99.0);
        assert_eq!(nearest_rank(&[7.0], 0.5), 7.0);
    }

    #[test]
    fn cumulative_sd_in_steps() {
        let v: Vec<f64> = (0..25).map(|i| (i % 2) as f64).collect();
        let c = cumulative_sd(&v, 10);
        assert_eq!(c.iter().map(|x| x.0).collect::<Vec<_>>(), vec![10, 20]);
        // 5 zeros and 5 ones: sd = sqrt(10 × 0.25 / 9) = 0.527.
        assert!((c[0].1 - (2.5f64 / 9.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs() {
        assert!(summarize(&[]).is_none());
        assert!(summarize(&[1.0, f64::NAN]).is_none());
        let one = summarize(&[3.0]).unwrap();
        assert_eq!((one.sd, one.median), (0.0, 3.0));
        assert_eq!(summarize(&[1.0, 3.0]).unwrap().median, 2.0);
    }
    #[test]
    fn the_median_interval_is_the_sign_test_one() {
        // n = 5: only [min, max] reaches 90 % (1 − 2/32 = 93.75 %).
        let (lo, hi, c) = median_ci(&[1.3, 0.9, 1.0, 1.1, 0.95], 0.90).unwrap();
        assert_eq!((lo, hi), (0.9, 1.3));
        assert!((c - 0.9375).abs() < 1e-12, "{c}");
        // n = 10: k = 2 gives 1 − 2·11/1024 = 97.9 %, k = 3 gives 1 − 2·56/1024 = 89.1 %.
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let (lo, hi, c) = median_ci(&v, 0.90).unwrap();
        assert_eq!((lo, hi), (2.0, 9.0));
        assert!((c - (1.0 - 22.0 / 1024.0)).abs() < 1e-12, "{c}");
        // Too few values for the level: the widest interval, with its own coverage.
        let (lo, hi, c) = median_ci(&[2.0, 1.0, 3.0], 0.90).unwrap();
        assert_eq!((lo, hi), (1.0, 3.0));
        assert!((c - 0.75).abs() < 1e-12, "{c}");
        assert_eq!(median_ci(&[4.0], 0.9), Some((4.0, 4.0, 0.0)));
        assert!(median_ci(&[], 0.9).is_none());
        assert!(median_ci(&[1.0, f64::NAN], 0.9).is_none());
    }
}
