//! One environment against a baseline. The verdict, the ratio, its interval and the p value
//! all come from one model (Welch's t, on log values when every value is positive: see
//! [`crate::welch`]), so they cannot contradict each other:
//! - `higher`/`lower` exactly when the interval excludes 1 (and is not inside the margin);
//! - `equivalent` exactly when the interval lies inside `1 ± margin`;
//! - `inconclusive` exactly when the interval holds 1 and reaches past the margin.
//!
//! Across a report's comparisons the family-wise error is held by Bonferroni: each comparison
//! is decided at α = 0.05 / m and its interval printed at 1 − 0.05 / m (simultaneous intervals),
//! which keeps test and interval in step where Holm's step-down would not. A permutation test
//! on the same values is kept as a robustness check where the trial counts let it reach α.

use crate::resample::{permutation_test, splits, Ci};
use crate::welch::{Scale, Welch};
use serde::Serialize;

/// The family-wise significance level.
pub const ALPHA: f64 = 0.05;

/// What the interval allows saying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval lies inside `1 ± margin`.
    Equivalent,
    /// The interval lies above 1 (and reaches past the margin).
    Higher,
    /// The interval lies below 1 (and reaches past the margin).
    Lower,
    /// The interval holds 1 and reaches past the margin: more trials are needed.
    Inconclusive,
    /// Fewer than 2 values on a side.
    NotEnoughData,
}

/// The permutation test on the same values, as a check on the t test's assumptions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PermutationCheck {
    pub p_value: f64,
    /// The smallest p these trial counts allow (2 / C(n + m, n) for equal groups).
    pub min_p: f64,
    /// `min_p` < α: the check can say anything at all.
    pub possible: bool,
    /// Whether it finds a difference exactly when Welch's t does (only when `possible`).
    pub agrees: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub n: usize,
    pub n_baseline: usize,
    /// Arithmetic means of the two series.
    pub mean: f64,
    pub mean_baseline: f64,
    /// The model's ratio: of geometric means on the log scale, of means on the raw scale.
    pub ratio: f64,
    /// The ratio's interval at `1 − alpha`.
    pub ratio_ci: Option<Ci>,
    /// The fitted model (which test decided, on what scale); `None` without enough data.
    pub model: Option<Welch>,
    /// Comparisons in the family, and the α each is decided at (0.05 / family).
    pub family: usize,
    pub alpha: f64,
    /// Welch's two-sided p value, unadjusted.
    pub p_value: f64,
    /// Bonferroni-adjusted: min(1, family × p); below 0.05 exactly when the verdict is a difference.
    pub p_adjusted: f64,
    pub permutation: Option<PermutationCheck>,
    /// Hedges' g (bias-corrected standardised mean difference).
    pub effect_size: f64,
    /// Equivalence margin, as a fraction of the baseline.
    pub margin: f64,
    /// Larger of the two one-sided p values against the margin (TOST); below α / 2 exactly when
    /// the interval lies inside the margin.
    pub tost_p: f64,
    pub verdict: Verdict,
}

impl Comparison {
    /// "Welch's t on log values" / "Welch's t on raw values (a value ≤ 0)".
    pub fn test_name(&self) -> &'static str {
        match self.model.map(|m| m.scale) {
            Some(Scale::Log) => "Welch's t on log values",
            Some(Scale::Raw) => "Welch's t on raw values (a value ≤ 0 rules out logs)",
            None => "none (fewer than 2 trials on a side)",
        }
    }

    /// The interval's confidence, e.g. 0.95 for a family of one.
    pub fn level(&self) -> f64 {
        1.0 - self.alpha
    }
}

fn hedges_g(a: &[f64], b: &[f64]) -> f64 {
    let mv = |v: &[f64]| {
        let n = v.len() as f64;
        let m = v.iter().sum::<f64>() / n;
        (m, v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0))
    };
    let ((ma, va), (mb, vb)) = (mv(a), mv(b));
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let pooled = (((na - 1.0) * va + (nb - 1.0) * vb) / (na + nb - 2.0)).sqrt();
    if pooled == 0.0 || !pooled.is_finite() {
        return 0.0;
    }
    let j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0);
    (ma - mb) / pooled * j
}

/// The smallest p a two-sided permutation test of `n` against `m` values can give: exact
/// (2 / C(n + m, n) for equal groups, whose mirror split is as extreme, else 1 / C) when it
/// enumerates, 1 / (resamples + 1) when it samples.
pub fn permutation_min_p(n: usize, m: usize, resamples: usize) -> f64 {
    let all = splits(n, m);
    if all <= resamples as f64 {
        (if n == m { 2.0 } else { 1.0 } / all).min(1.0)
    } else {
        1.0 / (resamples + 1) as f64
    }
}

/// Compares `candidate` with `baseline` as a family of one (α = 0.05, 95 % interval);
/// [`adjust_family`] then sets the family's size.
pub fn compare(candidate: &[f64], baseline: &[f64], margin: f64, resamples: usize, seed: u64) -> Comparison {
    let m = |v: &[f64]| if v.is_empty() { f64::NAN } else { v.iter().sum::<f64>() / v.len() as f64 };
    let model = Welch::fit(candidate, baseline);
    let mut c = Comparison {
        n: candidate.len(),
        n_baseline: baseline.len(),
        mean: m(candidate),
        mean_baseline: m(baseline),
        ratio: m(candidate) / m(baseline),
        ratio_ci: None,
        model,
        family: 1,
        alpha: ALPHA,
        p_value: 1.0,
        p_adjusted: 1.0,
        permutation: None,
        effect_size: 0.0,
        margin,
        tost_p: 1.0,
        verdict: Verdict::NotEnoughData,
    };
    if let Some(w) = model {
        c.ratio = w.as_ratio(w.effect);
        c.p_value = w.p_value();
        c.effect_size = hedges_g(candidate, baseline);
        c.tost_p = w.tost_p(margin);
        let values = |v: &[f64]| -> Vec<f64> {
            match w.scale {
                Scale::Log => v.iter().map(|x| x.ln()).collect(),
                Scale::Raw => v.to_vec(),
            }
        };
        let p = permutation_test(&values(candidate), &values(baseline), resamples, seed ^ 0x5eed).unwrap_or(1.0);
        let min_p = permutation_min_p(c.n, c.n_baseline, resamples);
        c.permutation = Some(PermutationCheck { p_value: p, min_p, possible: false, agrees: None });
    }
    decide(&mut c, 1);
    c
}

/// Sets the family's size on every comparison: α = 0.05 / m, intervals at 1 − α, verdicts
/// re-derived.
pub fn adjust_family(comparisons: &mut [&mut Comparison]) {
    let m = comparisons.len().max(1);
    for c in comparisons.iter_mut() {
        decide(c, m);
    }
}

fn decide(c: &mut Comparison, family: usize) {
    c.family = family;
    c.alpha = ALPHA / family as f64;
    c.p_adjusted = (c.p_value * family as f64).min(1.0);
    let Some(w) = c.model else {
        c.verdict = Verdict::NotEnoughData;
        return;
    };
    let (lo, hi) = w.effect_interval(c.level());
    let (r_lo, r_hi) = (w.as_ratio(lo), w.as_ratio(hi));
    c.ratio_ci =
        (r_lo.is_finite() && r_hi.is_finite() && r_lo <= r_hi).then_some(Ci { lo: r_lo, hi: r_hi, level: c.level() });
    let (b_lo, b_hi) = w.margin_bounds(c.margin);
    c.verdict = if b_lo < lo && hi < b_hi {
        Verdict::Equivalent
    } else if lo > 0.0 {
        Verdict::Higher
    } else if hi < 0.0 {
        Verdict::Lower
    } else {
        Verdict::Inconclusive
    };
    // The interval excludes 1 (an equivalent verdict may too).
    let differs = lo > 0.0 || hi < 0.0;
    if let Some(p) = c.permutation.as_mut() {
        p.possible = p.min_p < c.alpha;
        p.agrees = p.possible.then_some((p.p_value < c.alpha) == differs);
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
        assert_eq!(c.permutation.unwrap().agrees, Some(true));
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

    /// The quick campaign's case: a microVM under TCG at a fifth of native's speed, 3 trials
    /// against 3, in a family of 6. A permutation test can never go below 0.1 here; Welch's t
    /// on log values decides, and its interval excludes 1.
    #[test]
    fn three_trials_against_three_show_a_large_difference() {
        let vm = [0.2150, 0.2165, 0.2160];
        let native = [1.0, 1.004, 0.997];
        let mut cs: Vec<Comparison> = (0..6).map(|_| compare(&vm, &native, 0.05, 4000, 1)).collect();
        let mut refs: Vec<&mut Comparison> = cs.iter_mut().collect();
        adjust_family(&mut refs);
        let c = &cs[0];
        assert_eq!(c.verdict, Verdict::Lower);
        let ci = c.ratio_ci.unwrap();
        assert!(ci.hi < 1.0 && ci.lo < c.ratio && c.ratio < ci.hi, "{ci:?}");
        assert!((ci.level - (1.0 - 0.05 / 6.0)).abs() < 1e-12);
        let perm = c.permutation.unwrap();
        assert!(!perm.possible && (perm.min_p - 0.1).abs() < 1e-12, "{perm:?}");
        assert!(c.p_adjusted < 0.05);
    }

    #[test]
    fn permutation_floor_by_hand() {
        // C(6, 3) = 20 splits, the observed one and its mirror: 2 / 20.
        assert!((permutation_min_p(3, 3, 100_000) - 0.1).abs() < 1e-12);
        // 5 vs 5: 2 / 252; 2 vs 3: 1 / 10; never below 1 / (resamples + 1).
        assert!((permutation_min_p(5, 5, 100_000) - 2.0 / 252.0).abs() < 1e-12);
        assert!((permutation_min_p(2, 3, 100_000) - 0.1).abs() < 1e-12);
        assert!((permutation_min_p(30, 30, 999) - 0.001).abs() < 1e-12);
        assert_eq!(permutation_min_p(1, 1, 999), 1.0);
    }

    #[test]
    fn a_family_widens_the_interval_and_adjusts_p() {
        let (a, b) = (series(103.0, 8), series(100.0, 8));
        let one = compare(&a, &b, 0.01, 1000, 1);
        let mut cs = [one.clone(), one.clone(), one.clone()];
        let mut refs: Vec<&mut Comparison> = cs.iter_mut().collect();
        adjust_family(&mut refs);
        let (w1, w3) = (one.ratio_ci.unwrap(), cs[0].ratio_ci.unwrap());
        assert!(w3.lo < w1.lo && w3.hi > w1.hi);
        assert!((cs[0].p_adjusted - (3.0 * one.p_value).min(1.0)).abs() < 1e-15);
        assert_eq!(cs[0].family, 3);
    }
}
