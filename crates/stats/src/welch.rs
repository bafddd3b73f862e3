//! Welch's t on the effect of a candidate against a baseline: on log values when every value
//! is positive (the effect is then a log ratio, its interval the ratio's), else on the raw
//! values (the effect is a difference, read against the baseline mean). One model gives the
//! point estimate, the interval, the p value and the equivalence test, so they cannot disagree.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// The scale the effect was estimated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// ln(candidate) − ln(baseline): the ratio of geometric means.
    Log,
    /// candidate − baseline, divided by the baseline mean for the ratio (a value ≤ 0 forbade logs).
    Raw,
}

/// The fitted model of one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Welch {
    pub scale: Scale,
    /// The effect: mean log difference, or mean difference.
    pub effect: f64,
    /// Its standard error (0 when neither side varies).
    pub se: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// The baseline mean (raw scale: the unit the difference is read in).
    pub baseline_mean: f64,
}

/// Mean and sample variance; a series whose values agree to 12 digits has no spread (its
/// rounding noise would otherwise pass for one).
fn mean_var(v: &[f64]) -> (f64, f64) {
    let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    if hi - lo <= 1e-12 * lo.abs().max(hi.abs()) {
        return (v[0], 0.0);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var)
}

impl Welch {
    /// Fits the model; `None` with fewer than 2 values on a side or a non-finite value.
    pub fn fit(candidate: &[f64], baseline: &[f64]) -> Option<Welch> {
        if candidate.len() < 2 || baseline.len() < 2 || !candidate.iter().chain(baseline).all(|x| x.is_finite()) {
            return None;
        }
        let positive = candidate.iter().chain(baseline).all(|&x| x > 0.0);
        let (scale, a, b): (Scale, Vec<f64>, Vec<f64>) = if positive {
            (Scale::Log, candidate.iter().map(|x| x.ln()).collect(), baseline.iter().map(|x| x.ln()).collect())
        } else {
            (Scale::Raw, candidate.to_vec(), baseline.to_vec())
        };
        let ((ma, va), (mb, vb)) = (mean_var(&a), mean_var(&b));
        let (na, nb) = (a.len() as f64, b.len() as f64);
        let se2 = va / na + vb / nb;
        let df = if se2 > 0.0 {
            se2.powi(2) / ((va / na).powi(2) / (na - 1.0) + (vb / nb).powi(2) / (nb - 1.0))
        } else {
            na + nb - 2.0
        };
        Some(Welch { scale, effect: ma - mb, se: se2.sqrt(), df, baseline_mean: mean_var(baseline).0 })
    }

    fn t(&self) -> Option<StudentsT> {
        StudentsT::new(0.0, 1.0, self.df.max(1.0)).ok()
    }

    /// The two-sided interval of the effect at confidence `level`.
    pub fn effect_interval(&self, level: f64) -> (f64, f64) {
        if self.se == 0.0 {
            return (self.effect, self.effect);
        }
        let q = self.t().map(|t| t.inverse_cdf(1.0 - (1.0 - level) / 2.0)).unwrap_or(f64::INFINITY);
        (self.effect - q * self.se, self.effect + q * self.se)
    }

    /// Two-sided p value of "no effect".
    pub fn p_value(&self) -> f64 {
        if self.se == 0.0 {
            return if self.effect == 0.0 { 1.0 } else { 0.0 };
        }
        self.t().map(|t| 2.0 * (1.0 - t.cdf((self.effect / self.se).abs()))).unwrap_or(1.0).clamp(0.0, 1.0)
    }

    /// An effect as a ratio to the baseline (NaN on the raw scale with a baseline mean of 0).
    pub fn as_ratio(&self, effect: f64) -> f64 {
        match self.scale {
            Scale::Log => effect.exp(),
            Scale::Raw => 1.0 + effect / self.baseline_mean,
        }
    }

    /// The effects that a ratio of `1 ± margin` stands for: the equivalence bounds.
    pub fn margin_bounds(&self, margin: f64) -> (f64, f64) {
        match self.scale {
            Scale::Log => ((1.0 - margin).max(f64::MIN_POSITIVE).ln(), (1.0 + margin).ln()),
            Scale::Raw => (-margin * self.baseline_mean.abs(), margin * self.baseline_mean.abs()),
        }
    }

    /// Two one-sided tests against the margin's bounds: the larger of their p values. It is
    /// below (1 − level) / 2 exactly when the interval at `level` lies inside the bounds.
    pub fn tost_p(&self, margin: f64) -> f64 {
        let (lo, hi) = self.margin_bounds(margin);
        if self.se == 0.0 {
            return if lo < self.effect && self.effect < hi { 0.0 } else { 1.0 };
        }
        let Some(t) = self.t() else { return 1.0 };
        let p_lower = 1.0 - t.cdf((self.effect - lo) / self.se);
        let p_upper = t.cdf((self.effect - hi) / self.se);
        p_lower.max(p_upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_welch_on_raw_values() {
        // a: 9, 9, 11, 11 (mean 10, var 4/3); b the same shifted by −2 plus a zero: raw scale.
        let w = Welch::fit(&[9.0, 9.0, 11.0, 11.0], &[0.0, 8.0, 8.0, 16.0]).unwrap();
        assert_eq!(w.scale, Scale::Raw);
        assert!((w.effect - 2.0).abs() < 1e-12);
        // se² = (4/3)/4 + (128/3)/4 = 11; df = 121 / ((1/9)/3 + (32/3)²/3) ≈ 3.18.
        assert!((w.se - 11f64.sqrt()).abs() < 1e-12);
        assert!((w.df - 121.0 / ((1.0 / 9.0) / 3.0 + (32.0f64 / 3.0).powi(2) / 3.0)).abs() < 1e-9);
    }

    #[test]
    fn a_scaled_series_has_the_scale_as_its_ratio_on_the_log_scale() {
        let b = [100.0, 102.0, 98.0, 101.0];
        let a: Vec<f64> = b.iter().map(|x| x * 0.5).collect();
        let w = Welch::fit(&a, &b).unwrap();
        assert_eq!(w.scale, Scale::Log);
        assert!((w.as_ratio(w.effect) - 0.5).abs() < 1e-12);
        let (lo, hi) = w.effect_interval(0.95);
        assert!((w.as_ratio(lo) - 0.5).abs() < 0.02 && w.as_ratio(hi) < 0.52);
        assert!(w.p_value() < 1e-6);
    }

    #[test]
    fn no_spread_decides_by_the_effect_alone() {
        let w = Welch::fit(&[2.0, 2.0], &[1.0, 1.0]).unwrap();
        assert_eq!(w.effect_interval(0.95), (w.effect, w.effect));
        assert_eq!(w.p_value(), 0.0);
        let same = Welch::fit(&[1.0, 1.0], &[1.0, 1.0]).unwrap();
        assert_eq!((same.p_value(), same.tost_p(0.05)), (1.0, 0.0));
    }

    #[test]
    fn too_few_or_non_finite_values_fit_nothing() {
        assert!(Welch::fit(&[1.0], &[1.0, 2.0]).is_none());
        assert!(Welch::fit(&[1.0, f64::NAN], &[1.0, 2.0]).is_none());
    }
}
