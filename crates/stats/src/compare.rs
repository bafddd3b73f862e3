//! One environment against a baseline: ratio with a bootstrap CI, permutation test, effect
//! size, equivalence (two one-sided Welch t-tests), and Holm's correction across comparisons.

use crate::resample::{bootstrap_ratio_ci, permutation_test, Ci};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// What the tests allow saying, at α = 0.05 after Holm's correction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Both one-sided tests reject: the means differ by less than the margin.
    Equivalent,
    /// The candidate's mean is significantly higher than the baseline's (and not equivalent).
    Higher,
    Lower,
    /// Neither a difference nor equivalence is shown: more trials are needed.
    Inconclusive,
    /// Fewer than 2 values on a side.
    NotEnoughData,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub n: usize,
    pub n_baseline: usize,
    pub mean: f64,
    pub mean_baseline: f64,
    /// mean / mean_baseline.
    pub ratio: f64,
    pub ratio_ci: Option<Ci>,
    /// Two-sided permutation test of the difference in means.
    pub p_value: f64,
    /// `p_value` after Holm's correction across the report's comparisons ([`holm`]).
    pub p_holm: f64,
    /// Hedges' g (bias-corrected standardised mean difference).
    pub effect_size: f64,
    /// Equivalence margin, as a fraction of the baseline mean.
    pub margin: f64,
    /// max of the two one-sided p-values (TOST); < α means equivalent within the margin.
    pub tost_p: f64,
    pub verdict: Verdict,
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var)
}

/// Welch TOST p-value for |mean(a) − mean(b)| < margin·|mean(b)|.
pub fn tost(a: &[f64], b: &[f64], margin: f64) -> f64 {
    let ((ma, va), (mb, vb)) = (mean_var(a), mean_var(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let d = ma - mb;
    let delta = margin * mb.abs();
    let se2 = va / na + vb / nb;
    if se2 <= 0.0 {
        return if d.abs() < delta { 0.0 } else { 1.0 };
    }
    let se = se2.sqrt();
    let df = se2.powi(2) / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0));
    let Ok(t) = StudentsT::new(0.0, 1.0, df.max(1.0)) else { return 1.0 };
    let p_lower = 1.0 - t.cdf((d + delta) / se); // H0: d ≤ −Δ
    let p_upper = t.cdf((d - delta) / se); // H0: d ≥ +Δ
    p_lower.max(p_upper)
}

fn hedges_g(a: &[f64], b: &[f64]) -> f64 {
    let ((ma, va), (mb, vb)) = (mean_var(a), mean_var(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    if pooled == 0.0 {
        return 0.0;
    }
    let j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0);
    (ma - mb) / pooled * j
}

/// Compares `candidate` with `baseline`. `p_holm` equals `p_value` until [`holm`] is applied.
pub fn compare(candidate: &[f64], baseline: &[f64], margin: f64, resamples: usize, seed: u64) -> Comparison {
    let (n, nb) = (candidate.len(), baseline.len());
    let m = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let (mean, mean_baseline) = (m(candidate), m(baseline));
    let mut c = Comparison {
        n,
        n_baseline: nb,
        mean,
        mean_baseline,
        ratio: mean / mean_baseline,
        ratio_ci: None,
        p_value: 1.0,
        p_holm: 1.0,
        effect_size: 0.0,
        margin,
        tost_p: 1.0,
        verdict: Verdict::NotEnoughData,
    };
    if n < 2 || nb < 2 {
        return c;
    }
    c.ratio_ci = bootstrap_ratio_ci(candidate, baseline, 0.95, resamples, seed);
    c.p_value = permutation_test(candidate, baseline, resamples, seed ^ 0x5eed).unwrap_or(1.0);
    c.p_holm = c.p_value;
    c.effect_size = hedges_g(candidate, baseline);
    c.tost_p = tost(candidate, baseline, margin);
    c.verdict = verdict(&c, 0.05);
    c
}

fn verdict(c: &Comparison, alpha: f64) -> Verdict {
    if c.n < 2 || c.n_baseline < 2 {
        Verdict::NotEnoughData
    } else if c.tost_p < alpha {
        Verdict::Equivalent
    } else if c.p_holm < alpha {
        if c.mean > c.mean_baseline {
            Verdict::Higher
        } else {
            Verdict::Lower
        }
    } else {
        Verdict::Inconclusive
    }
}

/// Holm–Bonferroni: adjusts every comparison's `p_holm` for the family and re-derives verdicts.
pub fn holm(comparisons: &mut [&mut Comparison]) {
    let m = comparisons.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| comparisons[i].p_value.total_cmp(&comparisons[j].p_value));
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = ((m - rank) as f64 * comparisons[i].p_value).min(1.0);
        running = running.max(adj);
        comparisons[i].p_holm = running;
    }
    for c in comparisons.iter_mut() {
        c.verdict = verdict(c, 0.05);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(base: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| base + ((i * 7919) % 11) as f64 * 0.1 - 0.5).collect()
    }

    #[test]
    fn a_clear_difference_is_higher() {
        let c = compare(&series(110.0, 20), &series(100.0, 20), 0.05, 4000, 1);
        assert_eq!(c.verdict, Verdict::Higher);
        assert!((c.ratio - 1.1).abs() < 0.001);
        assert!(c.p_value < 0.001 && c.effect_size > 5.0);
    }

    #[test]
    fn the_same_distribution_is_equivalent_within_5_percent() {
        let c = compare(&series(100.0, 20), &series(100.0, 20), 0.05, 4000, 1);
        assert_eq!(c.verdict, Verdict::Equivalent);
        assert!(c.tost_p < 1e-6);
    }

    #[test]
    fn noisy_small_samples_are_inconclusive() {
        let a = [80.0, 120.0, 95.0];
        let b = [100.0, 70.0, 125.0];
        assert_eq!(compare(&a, &b, 0.05, 4000, 1).verdict, Verdict::Inconclusive);
        assert_eq!(compare(&a[..1], &b, 0.05, 100, 1).verdict, Verdict::NotEnoughData);
    }

    #[test]
    fn welch_tost_matches_a_hand_computation() {
        // a: mean 10, var 1 (n 4: 9, 9, 11, 11 → var 4/3), b: 10, 10, 10, 10 + tiny spread.
        let a = [9.0, 9.0, 11.0, 11.0];
        let b = [9.0, 9.0, 11.0, 11.0];
        // d = 0, se = sqrt(4/3/4 * 2) = 0.8165, Δ = 1 (10 %), df = 6:
        // p = 1 − T6(1 / 0.8165 = 1.2247) = 0.1333 (t-table).
        let p = tost(&a, &b, 0.10);
        assert!((p - 0.1333).abs() < 0.001, "{p}");
    }

    #[test]
    fn holm_by_hand() {
        let mut cs: Vec<Comparison> = [0.01, 0.04, 0.03]
            .iter()
            .map(|p| {
                let mut c = compare(&series(110.0, 5), &series(100.0, 5), 0.0, 10, 1);
                c.p_value = *p;
                c
            })
            .collect();
        let mut refs: Vec<&mut Comparison> = cs.iter_mut().collect();
        holm(&mut refs);
        // sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 → 0.03, 0.06, 0.06 (monotone).
        let got: Vec<f64> = cs.iter().map(|c| (c.p_holm * 1000.0).round() / 1000.0).collect();
        assert_eq!(got, vec![0.03, 0.06, 0.06]);
        assert_eq!(cs[0].verdict, Verdict::Higher);
        assert_eq!(cs[1].verdict, Verdict::Inconclusive);
    }
}
