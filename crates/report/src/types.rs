//! The rows the model is made of and every part of the report reads: a series of one metric,
//! a comparison against the baseline, and their validity. Their own module so that the parts
//! that compute them (model, sweep, energy, sentences) need not reach into one another.

use sandbench_stats::{Ci, Comparison, Outliers, Summary};
use serde::Serialize;

/// VALID or WARN with reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validity {
    pub status: &'static str,
    pub reasons: Vec<String>,
}

impl Validity {
    pub(crate) fn from(reasons: Vec<String>) -> Validity {
        Validity { status: if reasons.is_empty() { "VALID" } else { "WARN" }, reasons }
    }
}

/// One environment × workload × metric.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub environment: String,
    pub workload: String,
    pub kind: String,
    pub driver: String,
    pub accel: Option<String>,
    pub disk_cache: Option<String>,
    pub metric: String,
    pub unit: String,
    pub higher_is_better: bool,
    /// Measured, ok trials in trial order.
    pub values: Vec<f64>,
    pub summary: Option<Summary>,
    pub ci: Option<Ci>,
    pub outliers: Option<Outliers>,
    /// (n, sd) for n = 10, 20, …
    pub cumulative_sd: Vec<(usize, f64)>,
    pub failed: usize,
    pub validity: Validity,
    /// Under a stopping rule: why the series stopped ("precision reached at n = 17 …").
    pub stop: Option<String>,
}

/// One environment against the baseline for one workload's headline metric.
#[derive(Debug, Clone, Serialize)]
pub struct ComparisonRow {
    pub workload: String,
    pub metric: String,
    pub environment: String,
    pub baseline: String,
    pub higher_is_better: bool,
    pub comparison: Comparison,
    pub sentence: String,
    pub validity: Validity,
}
