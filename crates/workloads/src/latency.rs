//! Latency distributions as every workload reports them: nearest-rank percentiles, as fio,
//! sysbench and netperf print them.

use sandbench_protocol::{Metric, Metrics};

/// The nearest-rank `q` quantile of sorted `xs` (`q` in 0..=1); `xs` must not be empty.
pub fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

/// Adds `<prefix>_avg`, `_min`, `_p50`, `_p90`, `_p95`, `_p99`, `_max` in `unit` for `values`.
/// Nothing is added for an empty list.
pub fn insert_summary(m: &mut Metrics, prefix: &str, mut values: Vec<f64>, unit: &str) {
    if values.is_empty() {
        return;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len() as f64;
    m.insert(format!("{prefix}_avg"), Metric::new(values.iter().sum::<f64>() / n, unit));
    m.insert(format!("{prefix}_min"), Metric::new(values[0], unit));
    for (name, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)] {
        m.insert(format!("{prefix}_{name}"), Metric::new(nearest_rank(&values, q), unit));
    }
    m.insert(format!("{prefix}_max"), Metric::new(values[values.len() - 1], unit));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(nearest_rank(&xs, 0.5), 50.0);
        assert_eq!(nearest_rank(&xs, 0.99), 99.0);
        assert_eq!(nearest_rank(&xs, 0.0), 1.0);
        let mut m = Metrics::new();
        insert_summary(&mut m, "lat", vec![3.0, 1.0, 2.0], "us");
        assert_eq!(m["lat_min"].value, 1.0);
        assert_eq!(m["lat_max"].value, 3.0);
        assert_eq!(m["lat_avg"].value, 2.0);
        assert_eq!(m["lat_p50"].value, 2.0);
        insert_summary(&mut m, "none", Vec::new(), "us");
        assert!(!m.contains_key("none_avg"));
    }
}
