//! The rows the model is made of and every part of the report reads: a series of one metric,
//! a comparison against the baseline, and their validity. Their own module so that the parts
//! that compute them (model, sweep, energy, sentences) need not reach into one another.

use sandbench_protocol::RecordedKind;
use sandbench_spec::campaign::{Accel, DiskCache, Driver};
use sandbench_stats::{Ci, Comparison, Outliers, Summary};

use serde::Serialize;

/// Whether a row can be taken as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Valid,
    Warn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Valid => "VALID",
            Status::Warn => "WARN",
        }
    }
}

impl PartialEq<&str> for Status {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// VALID or WARN with reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validity {
    pub status: Status,
    pub reasons: Vec<String>,
}

impl Validity {
    pub(crate) fn from(reasons: Vec<String>) -> Validity {
        Validity { status: if reasons.is_empty() { Status::Valid } else { Status::Warn }, reasons }
    }
}

/// One environment × workload × metric.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    pub environment: String,
    pub workload: String,
    pub kind: RecordedKind,
    pub driver: Driver,
    pub accel: Option<Accel>,
    pub disk_cache: Option<DiskCache>,
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

/// Choices of the analysis.
#[derive(Debug, Clone)]
pub struct Options {
    /// Environment compared against; default `native` if present, else the first.
    pub baseline: Option<String>,
    /// Equivalence margin as a fraction (0.05 = ±5 %).
    pub margin: f64,
    /// Resamples of bootstraps and permutation tests (≥ 10,000 for the report).
    pub resamples: usize,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { baseline: None, margin: 0.05, resamples: 10_000, seed: 1 }
    }
}

/// Host view of an environment × workload: CPU and memory.
#[derive(Debug, Clone, Serialize)]
pub struct HostRow {
    pub environment: String,
    pub workload: String,
    pub cpu_mean_pct: Option<Summary>,
    /// Mean CPU of the host processes by /proc, where it was sampled beside a cgroup.
    pub tree_cpu_mean_pct: Option<f64>,
    /// The AI paper's method: the mean of the samples at or above 100 % only, averaged over
    /// the trials that had such samples.
    pub cpu_busy_mean_pct: Option<f64>,
    /// The highest CPU sample of any trial.
    pub cpu_max_pct: Option<f64>,
    pub first_200pct_ms: Option<f64>,
    pub pss_max_mib: Option<f64>,
    pub cgroup_mem_max_mib: Option<f64>,
    /// The cgroup's peak working set (usage − inactive file pages), what `docker stats` shows.
    pub cgroup_working_set_max_mib: Option<f64>,
    /// The series CSV of the median trial (by headline metric), for the CPU-over-time figure.
    pub representative_series: Option<String>,
}
