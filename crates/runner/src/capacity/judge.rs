//! A capacity step's verdict against the budget, from every query of every sandbox (pure).
//!
//! - Percentile budgets (`p90_ms`, `p99_ms`): **pass** when MLPerf's early-stopping estimate
//!   of the percentile (c = 0.99) is within the budget; **fail** when the share of queries over
//!   the budget is, at 99 % confidence (one-sided Clopper–Pearson), above what the percentile
//!   allows; else undecided.
//! - `miss_ratio`: pass when the upper 99 % bound of the miss ratio is within the budget, fail
//!   when its lower bound is above it.

use sandbench_protocol::Histogram;
use sandbench_spec::{Sla, SlaVerdict};
use sandbench_stats::early_stopping::{binomial_bounds, estimate, EarlyStop, CONFIDENCE};

/// A step's verdict with what it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub verdict: SlaVerdict,
    pub why: String,
    pub early_estimate_ms: Option<f64>,
    pub miss_ratio_ci: Option<(f64, f64)>,
}

/// Judges a step: `hist` holds every answered query; `offered` and `missed` are the frames
/// and the frames skipped or late (fixed rate; 0 otherwise).
pub fn judge(sla: Sla, hist: &Histogram, offered: u64, missed: u64) -> Judged {
    match sla {
        Sla::P90Ms(b) => percentile(0.90, b, hist),
        Sla::P99Ms(b) => percentile(0.99, b, hist),
        Sla::MissRatio(b) => miss_ratio(b, offered, missed),
    }
}

fn percentile(p: f64, budget: f64, hist: &Histogram) -> Judged {
    let n = hist.count();
    let over = hist.over(budget);
    let (lo, _) = binomial_bounds(over, n, CONFIDENCE);
    let name = format!("p{}", (p * 100.0).round());
    let stop = estimate(n, p, CONFIDENCE);
    let early = match stop {
        EarlyStop::Estimate { rank, .. } => hist.at_rank(rank),
        EarlyStop::TooFew { .. } => None,
    };
    let share = format!("{over} of {n} queries over {budget} ms");
    let (verdict, why) = if lo > 1.0 - p {
        (SlaVerdict::Fail, format!("{share}: more than {:.0} % at 99 % confidence", (1.0 - p) * 100.0))
    } else {
        match (early, stop) {
            (Some(e), _) if e <= budget => {
                (SlaVerdict::Pass, format!("early-stopping {name} estimate {e:.1} ms ≤ {budget} ms ({share})"))
            }
            (Some(e), _) => {
                (SlaVerdict::Undecided, format!("early-stopping {name} estimate {e:.1} ms > {budget} ms, but {share}"))
            }
            (None, EarlyStop::TooFew { need }) => (
                SlaVerdict::Undecided,
                format!("{n} queries, fewer than the {need} the early-stopping {name} estimate needs"),
            ),
            (None, _) => (SlaVerdict::Undecided, format!("no latency for the {name} estimate")),
        }
    };
    Judged { verdict, why, early_estimate_ms: early, miss_ratio_ci: None }
}

fn miss_ratio(budget: f64, offered: u64, missed: u64) -> Judged {
    let (lo, hi) = binomial_bounds(missed, offered, CONFIDENCE);
    let ratio = if offered > 0 { missed as f64 / offered as f64 } else { 0.0 };
    let what = format!("{missed} of {offered} frames missed ({ratio:.4}; 99 % bounds {lo:.4}–{hi:.4})");
    let verdict = if offered == 0 {
        SlaVerdict::Undecided
    } else if hi <= budget {
        SlaVerdict::Pass
    } else if lo > budget {
        SlaVerdict::Fail
    } else {
        SlaVerdict::Undecided
    };
    Judged { verdict, why: what, early_estimate_ms: None, miss_ratio_ci: Some((lo, hi)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = f64>) -> Histogram {
        let mut h = Histogram::default();
        for v in values {
            h.record(v);
        }
        h
    }

    #[test]
    fn percentile_budgets() {
        // 1000 queries at 50 ms: well within 100 ms.
        let j = judge(Sla::P90Ms(100.0), &hist(std::iter::repeat_n(50.0, 1000)), 0, 0);
        assert_eq!(j.verdict, SlaVerdict::Pass, "{}", j.why);
        // Half of them at 300 ms: broken with confidence.
        let h = hist((0..1000).map(|i| if i % 2 == 0 { 50.0 } else { 300.0 }));
        assert_eq!(judge(Sla::P90Ms(100.0), &h, 0, 0).verdict, SlaVerdict::Fail);
        // 30 queries: too few for the estimate, and nothing over the budget.
        let j = judge(Sla::P90Ms(100.0), &hist(std::iter::repeat_n(50.0, 30)), 0, 0);
        assert_eq!(j.verdict, SlaVerdict::Undecided);
        assert!(j.why.contains("64"), "{}", j.why);
        // 9 % over the budget with 1000 queries: the p90 holds, but the estimate lands over.
        let h = hist((0..1000).map(|i| if i % 100 < 9 { 300.0 } else { 50.0 }));
        assert_eq!(judge(Sla::P90Ms(100.0), &h, 0, 0).verdict, SlaVerdict::Undecided);
    }

    #[test]
    fn miss_ratio_budgets() {
        assert_eq!(judge(Sla::MissRatio(0.05), &Histogram::default(), 1000, 10).verdict, SlaVerdict::Pass);
        assert_eq!(judge(Sla::MissRatio(0.05), &Histogram::default(), 1000, 200).verdict, SlaVerdict::Fail);
        assert_eq!(judge(Sla::MissRatio(0.05), &Histogram::default(), 100, 5).verdict, SlaVerdict::Undecided);
    }
}
