//! Seeded resampling: bootstrap confidence intervals and a permutation test.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ci {
    pub lo: f64,
    pub hi: f64,
    /// Coverage, e.g. 0.95.
    pub level: f64,
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn resample_mean(v: &[f64], rng: &mut ChaCha8Rng) -> f64 {
    let mut s = 0.0;
    for _ in 0..v.len() {
        s += v[rng.gen_range(0..v.len())];
    }
    s / v.len() as f64
}

fn percentile_ci(mut stats: Vec<f64>, level: f64) -> Ci {
    stats.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    let at = |q: f64| {
        let idx = ((q * (stats.len() - 1) as f64).round() as usize).min(stats.len() - 1);
        stats[idx]
    };
    Ci { lo: at(alpha), hi: at(1.0 - alpha), level }
}

/// Percentile bootstrap CI of the mean, `resamples` draws, seeded. `None` for an empty series.
pub fn bootstrap_mean_ci(v: &[f64], level: f64, resamples: usize, seed: u64) -> Option<Ci> {
    if v.is_empty() {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let stats = (0..resamples.max(1)).map(|_| resample_mean(v, &mut rng)).collect();
    Some(percentile_ci(stats, level))
}

/// Percentile bootstrap CI of mean(a) / mean(b), each group resampled on its own.
pub fn bootstrap_ratio_ci(a: &[f64], b: &[f64], level: f64, resamples: usize, seed: u64) -> Option<Ci> {
    if a.is_empty() || b.is_empty() || mean(b) == 0.0 {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let stats: Vec<f64> = (0..resamples.max(1))
        .filter_map(|_| {
            let (ma, mb) = (resample_mean(a, &mut rng), resample_mean(b, &mut rng));
            (mb != 0.0).then_some(ma / mb)
        })
        .collect();
    (!stats.is_empty()).then(|| percentile_ci(stats, level))
}

/// The number of ways to choose `n` of `n + m`, as a float.
pub fn splits(n: usize, m: usize) -> f64 {
    (1..=n).fold(1.0, |acc, i| acc * (m + i) as f64 / i as f64)
}

/// Two-sided permutation test of a difference in means. Exact (every relabelling counted) when
/// there are at most `resamples` of them; else the share of `resamples` random relabellings whose
/// |mean difference| is at least the observed one, counted as (k + 1) / (resamples + 1).
pub fn permutation_test(a: &[f64], b: &[f64], resamples: usize, seed: u64) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let observed = (mean(a) - mean(b)).abs();
    let mut pool: Vec<f64> = a.iter().chain(b).copied().collect();
    let total: f64 = pool.iter().sum();
    // Tolerance so ties with the observed value count as extreme despite rounding.
    let extreme_at = observed - 1e-12 * observed.abs().max(1.0);
    if splits(a.len(), b.len()) <= resamples as f64 {
        return Some(exact_permutation(&pool, a.len(), total, extreme_at));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = a.len();
    let mut extreme = 0usize;
    for _ in 0..resamples {
        // Partial Fisher–Yates: the first n slots become group a.
        let mut sa = 0.0;
        for i in 0..n {
            let j = rng.gen_range(i..pool.len());
            pool.swap(i, j);
            sa += pool[i];
        }
        let diff = (sa / n as f64 - (total - sa) / (pool.len() - n) as f64).abs();
        if diff >= extreme_at {
            extreme += 1;
        }
    }
    Some((extreme + 1) as f64 / (resamples + 1) as f64)
}

/// Every choice of `n` of `pool` as group a: the share whose |mean difference| reaches
/// `extreme_at`.
fn exact_permutation(pool: &[f64], n: usize, total: f64, extreme_at: f64) -> f64 {
    let m = pool.len() - n;
    let mut idx: Vec<usize> = (0..n).collect();
    let (mut extreme, mut all) = (0u64, 0u64);
    loop {
        let sa: f64 = idx.iter().map(|&i| pool[i]).sum();
        if (sa / n as f64 - (total - sa) / m as f64).abs() >= extreme_at {
            extreme += 1;
        }
        all += 1;
        // The next combination in lexicographic order.
        let Some(i) = (0..n).rev().find(|&i| idx[i] < pool.len() - n + i) else { break };
        idx[i] += 1;
        for j in i + 1..n {
            idx[j] = idx[j - 1] + 1;
        }
    }
    extreme as f64 / all as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_is_seeded_and_brackets_the_mean() {
        let v: Vec<f64> = (0..50).map(|i| 10.0 + (i % 7) as f64).collect();
        let a = bootstrap_mean_ci(&v, 0.95, 2000, 1).unwrap();
        assert_eq!(Some(a), bootstrap_mean_ci(&v, 0.95, 2000, 1));
        let m = mean(&v);
        assert!(a.lo < m && m < a.hi, "{a:?} {m}");
        // Standard error here is about sd/sqrt(n) = 2.0/7.07 ≈ 0.28: the 95 % CI is about ±0.56.
        assert!((a.hi - a.lo) > 0.7 && (a.hi - a.lo) < 1.5, "{a:?}");
        assert!(bootstrap_mean_ci(&[], 0.95, 10, 1).is_none());
    }

    #[test]
    fn ratio_ci_of_scaled_series_is_near_the_scale() {
        let b: Vec<f64> = (0..40).map(|i| 100.0 + (i % 5) as f64).collect();
        let a: Vec<f64> = b.iter().map(|x| x * 1.1).collect();
        let ci = bootstrap_ratio_ci(&a, &b, 0.95, 4000, 3).unwrap();
        assert!(ci.lo < 1.1 && ci.hi > 1.1 && ci.lo > 1.08 && ci.hi < 1.12, "{ci:?}");
    }

    #[test]
    fn permutation_test_known_answers() {
        // Fully separated groups of 5: only the observed split (and its mirror is a different
        // sign, counted by the absolute value) is as extreme: p = 2 / C(10,5) = 2/252 ≈ 0.0079.
        let a = [1.0, 2.0, 3.0, 4.0, 5.0];
        let b = [11.0, 12.0, 13.0, 14.0, 15.0];
        let p = permutation_test(&a, &b, 20_000, 7).unwrap();
        assert!((p - 2.0 / 252.0).abs() < 0.003, "{p}");
        // Identical groups: every relabelling is as extreme.
        let p = permutation_test(&[3.0; 6], &[3.0; 6], 1000, 7).unwrap();
        assert_eq!(p, 1.0);
        // Few relabellings: counted exactly. 3 vs 3 separated: 2 of C(6, 3) = 20.
        let p = permutation_test(&[1.0, 2.0, 3.0], &[11.0, 12.0, 13.0], 1000, 7).unwrap();
        assert_eq!(p, 0.1);
        // 2 vs 3: the one split of {1, 2} (no mirror of the same sizes): 1 of 10.
        let p = permutation_test(&[1.0, 2.0], &[11.0, 12.0, 13.0], 1000, 7).unwrap();
        assert_eq!(p, 0.1);
    }
}
