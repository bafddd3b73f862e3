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
}
