//! How many measured trials a series gets: a fixed count (`trials = 10`), or a stopping rule
//! (`trials = { min = 5, max = 50, precision = 0.02 }`): after `min`, a series keeps running
//! until the 95 % confidence interval of its headline mean is within `precision` of the mean
//! (half-width / mean), or until `max`.
//!
//! The rule looks at the precision of the estimate, never at a p value or at another series:
//! stopping when a test turns significant would inflate its error rate, while stopping on a
//! precision target does not depend on which way the answer goes.

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The `trials` key.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Trials {
    Fixed(u32),
    UntilPrecise(StopRule),
}

/// `{ min, max, precision }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopRule {
    /// Trials every series runs before the rule is looked at (at least 2).
    pub min: u32,
    /// Trials a series runs at most.
    pub max: u32,
    /// Target 95 % CI half-width of the headline mean, as a fraction of the mean (0.02 = ±2 %).
    pub precision: f64,
}

impl Default for Trials {
    fn default() -> Self {
        Trials::Fixed(5)
    }
}

impl Trials {
    /// The most measured trials a series can get: what the plan holds.
    pub fn max(&self) -> u32 {
        match self {
            Trials::Fixed(n) => *n,
            Trials::UntilPrecise(r) => r.max,
        }
    }

    pub fn rule(&self) -> Option<StopRule> {
        match self {
            Trials::Fixed(_) => None,
            Trials::UntilPrecise(r) => Some(*r),
        }
    }

    /// What is wrong with the values, if anything.
    pub fn problem(&self) -> Option<String> {
        match self {
            Trials::Fixed(0) => Some("`trials` must be at least 1".into()),
            Trials::Fixed(_) => None,
            Trials::UntilPrecise(r) if r.min < 2 => {
                Some(format!("`trials.min` = {} must be at least 2 (an interval needs two values)", r.min))
            }
            Trials::UntilPrecise(r) if r.max < r.min => {
                Some(format!("`trials.max` = {} must be at least `trials.min` = {}", r.max, r.min))
            }
            Trials::UntilPrecise(r) if !(r.precision > 0.0 && r.precision < 1.0) => Some(format!(
                "`trials.precision` = {} must lie in (0, 1): the CI half-width as a fraction of the mean, e.g. 0.02",
                r.precision
            )),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Trials {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Trials;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a count of trials (e.g. 10) or a stopping rule { min = 5, max = 50, precision = 0.02 }")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Trials, E> {
                u32::try_from(v)
                    .map(Trials::Fixed)
                    .map_err(|_| E::custom(format!("`trials` = {v} is not a count from 1 to {}", u32::MAX)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Trials, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(-1))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Trials, A::Error> {
                StopRule::deserialize(de::value::MapAccessDeserializer::new(map)).map(Trials::UntilPrecise)
            }
        }
        d.deserialize_any(V)
    }
}

/// `environment/workload`, the key of a series in the manifest's `stops`.
pub fn series_key(environment: &str, workload: &str) -> String {
    format!("{environment}/{workload}")
}

/// Where a series stands against the rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Stop {
    /// Fewer than `min` values, or the half-width is still above the target.
    Continue,
    /// The 95 % CI half-width reached the target at `n` values.
    PrecisionReached { n: usize, half_width: f64 },
    /// `max` values without reaching the target.
    MaxReached { n: usize, half_width: f64 },
    /// The planned trials ran out before either (some failed): `n` values.
    PlanEnded { n: usize, half_width: f64 },
}

impl Stop {
    pub fn stopped(&self) -> bool {
        !matches!(self, Stop::Continue)
    }

    /// "precision reached at n = 17 (half-width 1.9 %)" / "max reached at n = 50 with half-width 3.4 %".
    pub fn describe(&self) -> String {
        match self {
            Stop::Continue => "still running".into(),
            Stop::PrecisionReached { n, half_width } => {
                format!("precision reached at n = {n} (half-width {:.1} %)", half_width * 100.0)
            }
            Stop::MaxReached { n, half_width } => {
                format!("max reached at n = {n} with half-width {:.1} %", half_width * 100.0)
            }
            Stop::PlanEnded { n, half_width } => format!(
                "planned trials ran out at n = {n} successful (failed trials do not count) with half-width {:.1} %",
                half_width * 100.0
            ),
        }
    }
}

/// The 95 % t-interval half-width of the mean of `values`, as a fraction of |mean|; infinite
/// for fewer than two values or a mean of 0.
pub fn relative_half_width(values: &[f64]) -> f64 {
    let n = values.len();
    if n < 2 {
        return f64::INFINITY;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    if mean == 0.0 {
        return f64::INFINITY;
    }
    t975(n - 1) * (var / n as f64).sqrt() / mean.abs()
}

/// Student's t 97.5 % quantile for `df` degrees of freedom (table to 30, then the
/// Cornish–Fisher expansion, exact to 3 decimals).
fn t975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    if (1..=30).contains(&df) {
        return TABLE[df - 1];
    }
    let z: f64 = 1.959_964;
    let v = df as f64;
    z + (z.powi(3) + z) / (4.0 * v) + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * v * v)
}

impl StopRule {
    /// Whether a series with these measured values (in trial order) is done.
    pub fn judge(&self, values: &[f64]) -> Stop {
        let n = values.len();
        if n < self.min as usize {
            return Stop::Continue;
        }
        let half_width = relative_half_width(values);
        if half_width <= self.precision {
            Stop::PrecisionReached { n, half_width }
        } else if n >= self.max as usize {
            Stop::MaxReached { n, half_width }
        } else {
            Stop::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Doc {
        trials: Trials,
    }

    fn parse(text: &str) -> Result<Trials, String> {
        toml::from_str::<Doc>(text).map(|d| d.trials).map_err(|e| e.to_string())
    }

    #[test]
    fn a_count_or_a_rule() {
        assert_eq!(parse("trials = 7").unwrap(), Trials::Fixed(7));
        let r = parse("trials = { min = 5, max = 50, precision = 0.02 }").unwrap();
        assert_eq!(r, Trials::UntilPrecise(StopRule { min: 5, max: 50, precision: 0.02 }));
        assert_eq!(r.max(), 50);
        assert!(parse("trials = -1").unwrap_err().contains("not a count"));
        let e = parse("trials = { min = 5, most = 50, precision = 0.02 }").unwrap_err();
        assert!(e.contains("most") && e.contains("max"), "{e}");
        assert!(parse("trials = \"many\"").unwrap_err().contains("stopping rule"));
    }

    #[test]
    fn bad_rules_are_named() {
        let rule = |min, max, precision| Trials::UntilPrecise(StopRule { min, max, precision }).problem();
        assert!(rule(1, 10, 0.02).unwrap().contains("trials.min"));
        assert!(rule(5, 4, 0.02).unwrap().contains("trials.max"));
        assert!(rule(5, 50, 0.0).unwrap().contains("trials.precision"));
        assert!(rule(5, 50, f64::NAN).unwrap().contains("trials.precision"));
        assert_eq!(rule(5, 50, 0.02), None);
        assert!(Trials::Fixed(0).problem().is_some());
    }

    #[test]
    fn the_rule_by_hand() {
        let rule = StopRule { min: 3, max: 6, precision: 0.02 };
        // Two values: below min whatever they are.
        assert_eq!(rule.judge(&[100.0, 100.0]), Stop::Continue);
        // 100, 101, 99: sd 1, se 0.577, t(2) 4.303 → half-width 2.48 % > 2 %.
        assert_eq!(rule.judge(&[100.0, 101.0, 99.0]), Stop::Continue);
        // Add 100: sd 0.816, se 0.408, t(3) 3.182 → 1.30 %: reached at n = 4.
        match rule.judge(&[100.0, 101.0, 99.0, 100.0]) {
            Stop::PrecisionReached { n: 4, half_width } => assert!((half_width - 0.012_99).abs() < 1e-4),
            other => panic!("{other:?}"),
        }
        // Noisy to the end: max reached, with its half-width.
        let noisy = [50.0, 150.0, 60.0, 140.0, 70.0, 130.0];
        assert!(matches!(rule.judge(&noisy), Stop::MaxReached { n: 6, .. }));
        assert!(rule.judge(&noisy).describe().starts_with("max reached at n = 6 with half-width"));
    }

    #[test]
    fn t_quantiles_past_the_table() {
        assert!((t975(40) - 2.021).abs() < 0.001);
        assert!((t975(120) - 1.980).abs() < 0.001);
    }
}
