//! MLPerf LoadGen's early-stopping estimate of a latency percentile (LoadGen
//! `early_stopping.cc` and `results.cc`, SingleStream): with `n` queries, discard the largest
//! number of slowest queries that still lets one conclude, at confidence `c`, that the true
//! `p` percentile is at most the next slowest one. A short run then gives a valid, slightly
//! pessimistic estimate instead of "too few samples".
//!
//! The probability that at most `t` of `h + t` queries are over a latency whose true
//! exceedance rate is `1 - p` is the regularised incomplete beta `I_p(h, t + 1)`; for `t`
//! over-latency queries, `min_passing` is the least `h` under-latency ones that make it at
//! most `1 - c`.

use statrs::function::beta::beta_reg;

/// LoadGen's confidence for every early-stopping estimate.
pub const CONFIDENCE: f64 = 0.99;

/// The fewest under-latency queries that, with `t` over-latency ones, show the true `p`
/// percentile meets the bound at confidence `c` (LoadGen's `MinPassingQueriesFinder`, with
/// tolerance 0).
pub fn min_passing(t: u64, p: f64, c: f64) -> u64 {
    let odds = |h: u64| beta_reg(h as f64, t as f64 + 1.0, p);
    let target = 1.0 - c;
    // Exponential bracketing, then a binary search: `odds` falls as `h` grows.
    let (mut lo, mut hi) = (1u64, 2u64);
    while odds(hi) >= target {
        lo = hi;
        hi *= 2;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if odds(mid) < target {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The early-stopping estimate for `n` queries: which order statistic stands for the `p`
/// percentile, or how many queries it would need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyStop {
    /// The `rank`-th fastest query (1-based) is the estimate; `discarded` slower ones are
    /// dropped (LoadGen's "Would discard N highest latency queries").
    Estimate { rank: u64, discarded: u64 },
    /// Too few queries for any estimate: at least `need` are required.
    TooFew { need: u64 },
}

/// LoadGen's SingleStream estimate for `n` queries at percentile `p` and confidence `c`.
pub fn estimate(n: u64, p: f64, c: f64) -> EarlyStop {
    let need = min_passing(1, p, c) + 1;
    if n < need {
        return EarlyStop::TooFew { need };
    }
    // The largest t with n >= min_passing(t) + t (monotone in t): LoadGen walks t up one at a
    // time; a binary search gives the same t in log(n) steps.
    let fits = |t: u64| n >= min_passing(t, p, c) + t;
    let (mut lo, mut hi) = (1u64, n);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    EarlyStop::Estimate { rank: n + 1 - lo, discarded: lo - 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// LoadGen's summaries as MLPerf submissions print them (SingleStream, 90th percentile):
    /// "Processed at least 64 queries (n). Would discard d highest latency queries."
    #[test]
    fn matches_loadgen_summaries() {
        for (n, discarded) in [(2048, 172), (2116, 178), (2145, 181), (7469, 685)] {
            match estimate(n, 0.9, CONFIDENCE) {
                EarlyStop::Estimate { rank, discarded: d } => {
                    assert_eq!(d, discarded, "n = {n}");
                    assert_eq!(rank, n - discarded);
                }
                other => panic!("n = {n}: {other:?}"),
            }
        }
    }

    /// The minimum query counts of the MLPerf Inference rules' early-stopping table: 64 for
    /// the 90th percentile, 662 for the 99th (c = 0.99, tolerance 0).
    #[test]
    fn minimum_query_counts() {
        assert_eq!(estimate(63, 0.9, CONFIDENCE), EarlyStop::TooFew { need: 64 });
        assert_eq!(estimate(64, 0.9, CONFIDENCE), EarlyStop::Estimate { rank: 64, discarded: 0 });
        assert_eq!(min_passing(1, 0.99, CONFIDENCE) + 1, 662);
    }

    #[test]
    fn the_estimate_lies_above_the_plain_percentile() {
        for n in [100u64, 500, 1000, 5000, 20_000] {
            let EarlyStop::Estimate { rank, .. } = estimate(n, 0.9, CONFIDENCE) else { panic!() };
            assert!(rank as f64 >= 0.9 * n as f64, "n = {n}, rank {rank}");
            // … and converges on it as n grows.
            assert!((rank as f64) < 0.9 * n as f64 + 4.0 * (n as f64).sqrt() + 10.0);
        }
    }
}

/// One-sided Clopper–Pearson bounds of a binomial rate with `x` events in `n` trials: the
/// lower bound below which, and the upper bound above which, the true rate lies with
/// probability at most `1 - c` each. `n = 0` gives `(0, 1)`.
pub fn binomial_bounds(x: u64, n: u64, c: f64) -> (f64, f64) {
    use statrs::distribution::{Beta, ContinuousCDF};
    if n == 0 {
        return (0.0, 1.0);
    }
    let x = x.min(n);
    let (xf, nf) = (x as f64, n as f64);
    let lo = if x == 0 { 0.0 } else { Beta::new(xf, nf - xf + 1.0).map(|b| b.inverse_cdf(1.0 - c)).unwrap_or(0.0) };
    let hi = if x == n { 1.0 } else { Beta::new(xf + 1.0, nf - xf).map(|b| b.inverse_cdf(c)).unwrap_or(1.0) };
    (lo, hi)
}

#[cfg(test)]
mod bound_tests {
    use super::binomial_bounds;

    #[test]
    fn clopper_pearson_one_sided() {
        // No event in n: the upper bound is 1 - (1 - c)^(1/n) (the "rule of three" at 95 %).
        let (lo, hi) = binomial_bounds(0, 100, 0.95);
        assert_eq!(lo, 0.0);
        assert!((hi - (1.0 - 0.05f64.powf(0.01))).abs() < 1e-9, "{hi}");
        let (lo, hi) = binomial_bounds(50, 100, 0.99);
        assert!(lo < 0.5 && hi > 0.5 && (0.5 - lo - (hi - 0.5)).abs() < 1e-9);
        assert_eq!(binomial_bounds(3, 0, 0.99), (0.0, 1.0));
    }
}
