//! `[capacity]`: how many sandboxes of one environment, each running a workload's load
//! scenario at once, stay within a latency budget (docs/CAMPAIGN.md), and what a run records
//! per number of streams ([`CapacityStep`], one line of `capacity.jsonl`).

use sandbench_protocol::Histogram;
use serde::{Deserialize, Serialize};

/// The `[capacity]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapacitySpec {
    /// The numbers of concurrent sandboxes to try, in order.
    pub streams: Streams,
    /// The budget every step is judged by.
    pub sla: Sla,
    /// Seconds between the last launch of a step and its first window.
    #[serde(default = "default_settle")]
    pub settle_s: f64,
    /// Memory that must stay available: no launch goes ahead when the step's projected
    /// footprint would leave less.
    #[serde(default = "default_reserve")]
    pub memory_reserve_mib: u64,
    #[serde(default)]
    pub ksm: Ksm,
    /// Most sandboxes launched at the same time.
    #[serde(default = "default_parallel")]
    pub parallel_launches: u32,
}

fn default_settle() -> f64 {
    2.0
}
fn default_reserve() -> u64 {
    1024
}
fn default_parallel() -> u32 {
    4
}

/// A list of stream counts, or a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Streams {
    List(Vec<u32>),
    Range {
        start: u32,
        max: u32,
        #[serde(default)]
        step: StreamStep,
    },
}

/// How a range of streams grows: doubling, or by a fixed count.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StreamStep {
    By(u32),
    #[default]
    #[serde(with = "double")]
    Double,
}

mod double {
    pub fn serialize<S: serde::Serializer>(s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("double")
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<(), D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        if s == "double" {
            Ok(())
        } else {
            Err(serde::de::Error::custom(format!("`step` = {s:?}: valid: \"double\" or a whole number")))
        }
    }
}

/// The most streams a step may have.
pub const MAX_STREAMS: u32 = 256;

impl Streams {
    /// The stream counts in the order they are tried.
    pub fn steps(&self) -> Vec<u32> {
        match self {
            Streams::List(v) => v.clone(),
            Streams::Range { start, max, step } => {
                let mut out = Vec::new();
                let mut n = (*start).max(1);
                while n <= *max && out.len() < MAX_STREAMS as usize {
                    out.push(n);
                    n = match step {
                        StreamStep::Double => n.saturating_mul(2),
                        StreamStep::By(k) => n.saturating_add((*k).max(1)),
                    };
                }
                out
            }
        }
    }
}

/// The latency budget: one of a percentile bound or a deadline-miss ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Sla {
    /// The 90th percentile of every query's latency, in ms.
    P90Ms(f64),
    /// The 99th percentile, in ms.
    P99Ms(f64),
    /// The share of camera frames skipped or late (`fixed_rate` scenarios).
    MissRatio(f64),
}

impl Sla {
    /// `p90 ≤ 200 ms`, `miss ratio ≤ 0.01`.
    pub fn describe(&self) -> String {
        match self {
            Sla::P90Ms(v) => format!("p90 ≤ {v} ms"),
            Sla::P99Ms(v) => format!("p99 ≤ {v} ms"),
            Sla::MissRatio(v) => format!("miss ratio ≤ {v}"),
        }
    }
}

/// Kernel samepage merging during a capacity run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ksm {
    /// Left as the host has it, and reported.
    #[default]
    Off,
    /// Turned on for the run (`/sys/kernel/mm/ksm/run = 1`, root) and put back after.
    On,
}

impl CapacitySpec {
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let steps = self.streams.steps();
        if steps.is_empty() {
            out.push("`capacity.streams` gives no stream count: a list of counts, or { start, max, step }".into());
        }
        if steps.iter().any(|&n| n == 0 || n > MAX_STREAMS) {
            out.push(format!("`capacity.streams`: every count must be 1 to {MAX_STREAMS}"));
        }
        if steps.windows(2).any(|w| w[1] <= w[0]) {
            out.push("`capacity.streams` must grow from one step to the next".into());
        }
        let ok = match self.sla {
            Sla::P90Ms(v) | Sla::P99Ms(v) => v > 0.0 && v.is_finite(),
            Sla::MissRatio(v) => (0.0..1.0).contains(&v),
        };
        if !ok {
            out.push(format!("`capacity.sla`: {} is not a budget (ms > 0, or a ratio in [0, 1))", self.sla.describe()));
        }
        if !(0.0..=600.0).contains(&self.settle_s) {
            out.push("`capacity.settle_s` must be 0 to 600".into());
        }
        if !(1..=64).contains(&self.parallel_launches) {
            out.push("`capacity.parallel_launches` must be 1 to 64".into());
        }
        out
    }
}

/// Whether a step met the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlaVerdict {
    /// Within the budget at 99 % confidence (the early-stopping estimate, or the upper bound of
    /// the miss ratio's interval, is at most the budget).
    Pass,
    /// Over the budget at 99 % confidence.
    Fail,
    /// Neither: the interval straddles the budget.
    Undecided,
}

/// Why a capacity series ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum CapacityStop {
    /// The step broke the budget with confidence.
    SlaBroken { streams: u32 },
    /// Every stream count was tried.
    Max { streams: u32 },
    /// A sandbox of the step failed to launch.
    LaunchFailed { streams: u32, error: String },
    /// The step's projected memory would leave less than the reserve free.
    MemoryReserve { streams: u32, projected_free_mib: f64, reserve_mib: u64 },
    /// Every window of the step failed.
    TrialsFailed { streams: u32, error: String },
}

impl CapacityStop {
    pub fn describe(&self) -> String {
        match self {
            CapacityStop::SlaBroken { streams } => format!("budget broken at {streams} streams"),
            CapacityStop::Max { streams } => format!("every count tried (up to {streams}) within budget"),
            CapacityStop::LaunchFailed { streams, error } => format!("launch failed at {streams} streams: {error}"),
            CapacityStop::MemoryReserve { streams, projected_free_mib, reserve_mib } => format!(
                "{streams} streams would leave {projected_free_mib:.0} MiB free, under the {reserve_mib} MiB reserve"
            ),
            CapacityStop::TrialsFailed { streams, error } => format!("trials failed at {streams} streams: {error}"),
        }
    }
}

/// Host memory around one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepMemory {
    /// `MemAvailable` before the series' first launch minus after this step's settle.
    pub mem_available_drop_mib: f64,
    /// PSS of every sandbox's host-side processes, summed (peak over the windows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pss_mib: Option<f64>,
    /// USS of every sandbox's host-side processes, summed (peak over the windows): what the
    /// sandboxes would give back by exiting.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uss_mib: Option<f64>,
    /// Cgroup memory of the sandboxes, summed (peak), where they have a cgroup.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cgroup_mib: Option<f64>,
    /// `MemAvailable` drop per sandbox added since the previous step.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub marginal_mib: Option<f64>,
    /// KSM's `pages_sharing` after the settle, where KSM exists.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ksm_pages_sharing: Option<u64>,
}

/// One number of streams of one environment × workload, measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    pub environment: String,
    pub workload: String,
    pub streams: u32,
    /// The workload's scenario (`fixed_rate`, …).
    pub scenario: sandbench_protocol::ScenarioKind,
    /// Windows run, and how many of their trials (streams × windows) ended ok.
    pub windows: u32,
    pub trials_ok: u32,
    pub trials_failed: u32,
    /// Every query of every ok trial: the guest's own timings, merged.
    pub histogram: Histogram,
    pub queries: u64,
    /// Queries per second over all sandboxes (guest counts over the host's window), and per
    /// sandbox.
    pub throughput_qps: f64,
    pub per_sandbox_qps: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p90_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub p99_ms: Option<f64>,
    /// MLPerf's early-stopping estimate of the budget's percentile (percentile budgets).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub early_estimate_ms: Option<f64>,
    /// Share of frames skipped or late over all sandboxes (fixed rate), with its 99 % interval.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub miss_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub miss_ratio_ci: Option<(f64, f64)>,
    pub sla: SlaVerdict,
    /// Why the verdict is what it is, in words.
    pub sla_why: String,
    /// Host CPU of all sandboxes, summed means (100 % = one core).
    pub cpu_pct: f64,
    /// The rest of the host's busy CPU meanwhile (everything but the sandboxes): a neighbour
    /// that takes cores makes the step's latencies its doing too.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub other_cpu_pct: Option<f64>,
    pub memory: StepMemory,
    /// Joules per inference over the windows (host energy), or why there is no figure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub joules_per_inference: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub energy_unsupported: Option<String>,
    /// Host milliseconds from launch to ready of each sandbox launched for this step.
    pub launch_ms: Vec<f64>,
    /// Host milliseconds from the step's first launch until its last sandbox was ready (the
    /// launches run `parallel_launches` at a time).
    #[serde(default)]
    pub launch_wall_ms: f64,
}

/// The end of one environment × workload's capacity series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityEnd {
    pub environment: String,
    pub workload: String,
    /// The most streams that passed the budget; `None` when none did.
    pub capacity: Option<u32>,
    pub stop: CapacityStop,
}

/// One line of `capacity.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum CapacityLine {
    Step(Box<CapacityStep>),
    End(CapacityEnd),
}

impl CapacityLine {
    /// The environment and workload of its series.
    pub fn series(&self) -> (&str, &str) {
        match self {
            CapacityLine::Step(s) => (&s.environment, &s.workload),
            CapacityLine::End(e) => (&e.environment, &e.workload),
        }
    }
}

/// Where a capacity trial stood: its step's stream count, which of them, which window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapacityDims {
    pub streams: u32,
    /// 1-based.
    pub stream: u32,
    /// 1-based.
    pub window: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        capacity: CapacitySpec,
    }

    fn parse(s: &str) -> Result<CapacitySpec, String> {
        toml::from_str::<T>(s).map(|t| t.capacity).map_err(|e| e.to_string())
    }

    #[test]
    fn streams_as_a_list_or_a_range() {
        let c = parse("[capacity]\nstreams = [1, 2, 3]\nsla = { p90_ms = 200 }").unwrap();
        assert_eq!((c.streams.steps(), c.sla), (vec![1, 2, 3], Sla::P90Ms(200.0)));
        let c = parse("[capacity]\nstreams = { start = 1, max = 16 }\nsla = { miss_ratio = 0.01 }").unwrap();
        assert_eq!(c.streams.steps(), vec![1, 2, 4, 8, 16]);
        let c = parse("[capacity]\nstreams = { start = 2, max = 9, step = 3 }\nsla = { p99_ms = 5 }").unwrap();
        assert_eq!(c.streams.steps(), vec![2, 5, 8]);
        assert!(c.problems().is_empty());
        let c = parse("[capacity]\nstreams = [2, 1]\nsla = { p90_ms = -1 }").unwrap();
        assert_eq!(c.problems().len(), 2, "{:?}", c.problems());
        let e = parse("[capacity]\nstreams = [1]\nsla = { p95_ms = 1 }").unwrap_err();
        assert!(e.contains("p90_ms") && e.contains("miss_ratio"), "{e}");
    }
}
