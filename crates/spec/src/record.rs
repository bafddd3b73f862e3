//! What a run writes: `manifest.json` ([`Manifest`]) and one [`TrialRecord`] per line of
//! `trials.jsonl`. The schema is versioned by [`SCHEMA_VERSION`]; `docs/ARCHITECTURE.md`
//! describes every field.

use sandbench_protocol::{GuestCpu, Metrics};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Version of the results schema written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// Identity of one planned trial; unique within a run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrialKey {
    pub environment: String,
    pub workload: String,
    /// 0-based over warm-up and measured trials of this environment × workload.
    pub index: u32,
}

impl TrialKey {
    /// A file-name-safe identifier, e.g. `native.cpu.003`.
    pub fn slug(&self) -> String {
        format!("{}.{}.{:03}", self.environment, self.workload, self.index)
    }
}

/// Outcome of a trial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Ok,
    Failed,
    Timeout,
}

/// Everything that identifies the conditions of a trial.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Dimensions {
    pub environment: String,
    pub driver: crate::campaign::Driver,
    /// The OCI runtime (oci, docker) or the containerd shim (any name the daemon knows).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub runtime: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub machine: Option<crate::campaign::Machine>,
    /// The accelerator really used (`kvm` or `tcg`), after `auto` was resolved.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub accel: Option<crate::campaign::Accel>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disk_cache: Option<crate::campaign::DiskCache>,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub workload: String,
    /// The kind by name; a kind this build does not know (a record from another version) is
    /// kept by its name.
    pub kind: sandbench_protocol::RecordedKind,
    pub params: serde_json::Map<String, serde_json::Value>,
    /// 1-based measured trial number; 0 for warm-up trials.
    pub trial: u32,
    pub warmup: bool,
    pub mode: crate::campaign::Mode,
    /// A capacity run's trial: its step and stream.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub capacity: Option<crate::capacity::CapacityDims>,
}

/// One phase of a sandbox start, in milliseconds since the launch began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub name: String,
    pub at_ms: f64,
}

/// A phase of a running trial: when the host received it, and when the agent marked it, both
/// in milliseconds since the trial's `run` (host: sent; agent: received).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialPhase {
    pub name: String,
    pub host_ms: f64,
    pub guest_ms: f64,
}

/// How one sandbox came up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BootTimeline {
    /// `spawned` (runtime/VMM process started), `first_output` (first byte on the channel),
    /// `init` (VM initramfs ran), `agent_ready`; host milliseconds since launch began.
    pub phases: Vec<Phase>,
    /// Guest uptime when the agent became ready (VMs: time since the kernel started).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest_uptime_at_ready_ms: Option<f64>,
    /// Guest uptime when the initramfs `/init` ran: the kernel's own boot time.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest_uptime_at_init_ms: Option<f64>,
    /// The clock source the agent's timers read (`tsc`, `kvm-clock`, `jiffies`, …); a coarse
    /// one (`jiffies`) makes every guest-side millisecond figure a multiple of the tick.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest_clocksource: Option<String>,
    /// Launch to agent ready, host clock.
    pub total_ms: f64,
}

impl BootTimeline {
    pub fn phase(&self, name: &str) -> Option<f64> {
        self.phases.iter().find(|p| p.name == name).map(|p| p.at_ms)
    }

    /// Splits `total_ms` into VMM/runtime time (before the guest kernel ran), kernel time and
    /// guest userspace time, where the guest reported its uptime.
    pub fn split(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        m.insert("total_ms".into(), self.total_ms);
        if let Some(up) = self.guest_uptime_at_ready_ms {
            m.insert("before_kernel_ms".into(), (self.total_ms - up).max(0.0));
            if let Some(init) = self.guest_uptime_at_init_ms {
                m.insert("kernel_ms".into(), init);
                m.insert("guest_userspace_ms".into(), (up - init).max(0.0));
            }
        }
        m
    }
}

/// Summary of the host samples taken during a trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostSummary {
    pub samples: usize,
    /// Mean CPU of the sandbox, 100 % = one core.
    pub cpu_mean_pct: f64,
    pub cpu_max_pct: f64,
    pub user_mean_pct: f64,
    pub system_mean_pct: f64,
    pub guest_mean_pct: f64,
    /// Mean CPU of the accounted host processes (runtime, shim, VMM, agent) by /proc, next to
    /// `cpu_mean_pct`, which comes from the cgroup when the sandbox has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tree_cpu_mean_pct: Option<f64>,
    /// Peak PSS summed over the sandbox's host-side processes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pss_max_kib: Option<u64>,
    /// Peak USS (pages no other process maps) summed over the sandbox's host-side processes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub uss_max_kib: Option<u64>,
    /// Peak cgroup memory usage.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cgroup_mem_max_kib: Option<u64>,
    /// Peak of the cgroup's usage minus its inactive file pages: the working set `docker
    /// stats` shows (page cache the kernel drops first excluded).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cgroup_working_set_max_kib: Option<u64>,
    /// Mean of the samples at or above 100 % CPU (one core busy): the AI paper's figure, which
    /// averaged only `top`'s samples while the application was busy. `None` when none reached it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_busy_mean_pct: Option<f64>,
    /// Ms from trial start until the sandbox first used ≥ 200 % CPU (two cores).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub first_200pct_ms: Option<f64>,
    /// The CSV of the time series, relative to the results folder.
    pub series: String,
    /// CPU time the sampling thread itself used during the trial.
    #[serde(default)]
    pub sampler_cpu_ms: f64,
    /// The whole host's busy CPU over the trial (every process, 100 % = one core): beside the
    /// sandbox's own, it tells what else ran meanwhile.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host_busy_mean_pct: Option<f64>,
    /// Why sampling stopped before the trial ended (e.g. the sandbox exited).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sampler_error: Option<String>,
    /// Energy over the trial, where the campaign has a power source.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub energy: Option<crate::power::EnergySummary>,
    /// The board's temperature, clock and throttling over the trial, where it has sensors.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub board: Option<BoardSummary>,
}

/// What the board did during a trial (`sampler::board`): figures that make a number the
/// board's rather than the sandbox's.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BoardSummary {
    /// The hottest SoC/CPU thermal zone seen, °C.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub soc_temp_max_c: Option<f64>,
    /// The lowest CPU clock while the sandbox was busy (≥ one core), in % of its maximum.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cpu_freq_busy_min_pct: Option<f64>,
    /// `vcgencmd get_throttled` flags that concern the trial: "now" flags at its start or end,
    /// "has occurred" flags set during it (0: none; absent: no `vcgencmd`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throttled_flags: Option<u32>,
    /// Those flags in words.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throttled: Option<String>,
}

impl BoardSummary {
    /// A Pi 4 starts to throttle at 80 °C (soft limit from 60 °C with some firmware).
    pub const HOT_C: f64 = 80.0;
    /// A busy CPU below this share of its maximum clock was held back.
    pub const CLOCK_MIN_PCT: f64 = 95.0;

    /// Why the trial's numbers are the board's, if they are.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let (Some(flags), Some(words)) = (self.throttled_flags.filter(|&f| f != 0), &self.throttled) {
            out.push(format!("the board throttled ({flags:#x}: {words})"));
        }
        if let Some(pct) = self.cpu_freq_busy_min_pct.filter(|&p| p < Self::CLOCK_MIN_PCT) {
            out.push(format!("the CPU clock fell to {pct:.0} % of its maximum while busy"));
        }
        if let Some(t) = self.soc_temp_max_c.filter(|&t| t >= Self::HOT_C) {
            out.push(format!("the SoC reached {t:.1} °C"));
        }
        out
    }
}

/// The launch fact of a sandbox launched after a start that hung: each hang's error, how far
/// it got and its last console line (the runner writes it, the report warns on it).
pub const BOOT_RETRIES_FACT: &str = "boot_retries";

/// The launch fact of a sandbox that was the test stand-in (`sandbench run --debug-mode`): no
/// isolation, the workloads ran in a thread of sandbench (the report warns on it).
pub const STAND_IN_FACT: &str = "stand_in";

/// The sandbox a trial ran in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LaunchInfo {
    /// Counts launches within the run, so trials sharing a sandbox share this id.
    pub launch_id: u32,
    /// True when this trial's sandbox was launched for it (cold start, or first warm trial).
    pub fresh: bool,
    pub boot: BootTimeline,
    /// Driver facts: runtime version, QEMU command line, why `auto` chose TCG, limits applied.
    pub facts: BTreeMap<String, String>,
}

/// One line of `trials.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    pub schema: u32,
    pub key: TrialKey,
    /// Position in the run's plan.
    pub seq: u32,
    /// 1 for the first try; a resumed run retries failed trials with the next number.
    pub attempt: u32,
    pub dims: Dimensions,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The last lines the sandbox printed outside the protocol (kernel log, runtime errors).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub console_tail: Vec<String>,
    pub started_unix_ms: f64,
    /// Host wall time from sending `run` to receiving the result.
    pub host_wall_ms: f64,
    /// Wall time the agent measured inside the sandbox.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest_wall_ms: Option<f64>,
    pub metrics: Metrics,
    #[serde(default)]
    pub outputs: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub guest_cpu: Option<GuestCpu>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<HostSummary>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub launch: Option<LaunchInfo>,
    /// Phases the agent reported while the trial ran (`model_loaded`, `first_inference`).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub phases: Vec<TrialPhase>,
    /// The VMM's own counters for this trial (Firecracker's metrics: block and net bytes,
    /// vCPU exits), where the driver has them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub vmm_metrics: Option<serde_json::Value>,
    /// Set on the trial after which its series met the stopping rule (or its `max`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub stop: Option<crate::trials::Stop>,
    /// A trial under a load scenario: what the host checked and what is the guest's word.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub load: Option<LoadCheck>,
}

/// How far the host vouches for a load scenario's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadCheck {
    /// The scenario the host asked for (`single_stream`, `server`, `fixed_rate`, `idle`).
    pub scenario: sandbench_protocol::ScenarioKind,
    /// Queries (or frames) the scenario offered, as the host computes them from the
    /// parameters it sent (server: the seeded arrivals; fixed rate: the frames); `None` for a
    /// single stream, which has no schedule.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offered: Option<u64>,
    /// Figures the host checked against its own clock and schedule.
    pub host_checked: Vec<String>,
    /// Figures only the guest can know (per-query latencies), taken on its word.
    pub guest_word: Vec<String>,
}

impl TrialRecord {
    /// A metric of the trial by name; `host_wall_ms` is the host-measured wall time, and the
    /// [`ENERGY_METRICS`] come from the host's power source.
    pub fn metric(&self, name: &str) -> Option<f64> {
        let energy = || self.host.as_ref().and_then(|h| h.energy.as_ref());
        match name {
            "host_wall_ms" => Some(self.host_wall_ms),
            "energy_j" => energy().map(|e| e.energy_j),
            "power_mean_w" => energy().map(|e| e.power_mean_w),
            "energy_dynamic_j" => energy().map(|e| e.energy_dynamic_j),
            "j_per_unit" => energy().and_then(|e| e.work.as_ref()).map(|w| w.j_per_unit),
            "units_per_j" => energy().and_then(|e| e.work.as_ref()).map(|w| w.units_per_j),
            _ => self.metrics.get(name).map(|m| m.value),
        }
    }

    /// The unit of a metric: the agent's for its own, fixed for the host's.
    pub fn unit(&self, name: &str) -> Option<String> {
        let work = || self.host.as_ref().and_then(|h| h.energy.as_ref()).and_then(|e| e.work.as_ref());
        match name {
            "host_wall_ms" => Some("ms".into()),
            "energy_j" | "energy_dynamic_j" => Some("J".into()),
            "power_mean_w" => Some("W".into()),
            "j_per_unit" => work().map(|w| format!("J/{}", w.unit)),
            "units_per_j" => work().map(|w| format!("{}/J", plural(&w.unit))),
            _ => self.metrics.get(name).map(|m| m.unit.clone()),
        }
    }
}

/// Host-measured energy metrics [`TrialRecord::metric`] resolves, with whether higher is better.
pub const ENERGY_METRICS: [(&str, bool); 4] =
    [("power_mean_w", false), ("energy_j", false), ("j_per_unit", false), ("units_per_j", true)];

/// `inference` → `inferences`; units (`MiB`) stay as they are.
pub fn plural(unit: &str) -> String {
    if unit.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
        format!("{unit}s")
    } else {
        unit.to_string()
    }
}

/// `manifest.json`: everything that could explain a number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: u32,
    pub run_id: String,
    pub created_unix_ms: f64,
    pub sandbench_version: String,
    pub git_revision: Option<String>,
    /// Path of the campaign file as given, and its full text.
    pub campaign_path: String,
    pub campaign_text: String,
    pub host: BTreeMap<String, String>,
    /// Versions of every runtime, VMM and guest kernel the campaign uses.
    pub versions: BTreeMap<String, String>,
    /// Guest image: cache key, kernel package and version, agent hash.
    pub image: BTreeMap<String, String>,
    /// The planned trial order, as keys.
    pub plan: Vec<TrialKey>,
    /// `running`, `complete`, `interrupted` or `failed: …`, updated as the run goes.
    pub state: RunState,
    /// Times this run was resumed.
    #[serde(default)]
    pub resumes: u32,
    /// Under a stopping rule (`trials = { min, max, precision }`): why each series
    /// (`environment/workload`) stopped, written when the plan is done.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stops: BTreeMap<String, crate::trials::Stop>,
    /// The run's power source and its idle baselines (absent in runs made before this field:
    /// [`Manifest::power_facts`] reads those from `host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<PowerFacts>,
    /// What the run knew of its host's `sandbench validate` record (absent in runs made
    /// before this field: [`Manifest::validation_rows`] reads those from `host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<crate::validation::HostValidation>,
}

/// What a run measured energy with, and the host's idle power around it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PowerFacts {
    /// The source as doctor names it (`rapl: package-0 …`, `unsupported: why`, or a test
    /// stand-in saying so).
    pub source: String,
    /// Idle power before the first trial, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_w: Option<f64>,
    /// Idle power after the last trial, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_end_w: Option<f64>,
    /// |end − start| / start, %.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_drift_pct: Option<f64>,
    /// CPU time the meter's own polling thread used, ms, and its polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_cpu_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampler_polls: Option<u64>,
}

impl PowerFacts {
    /// The facts as the `host` rows runs before the typed field wrote, formatted the same way
    /// (the report's system table shows them so).
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let mut rows = vec![("power", self.source.clone())];
        rows.extend(self.idle_w.map(|w| ("power_idle_w", format!("{w:.3}"))));
        rows.extend(self.idle_end_w.map(|w| ("power_idle_end_w", format!("{w:.3}"))));
        rows.extend(self.idle_drift_pct.map(|d| ("power_idle_drift_pct", format!("{d:.2}"))));
        if let (Some(ms), Some(polls)) = (self.sampler_cpu_ms, self.sampler_polls) {
            rows.push(("power_sampler_cpu_ms", format!("{ms:.1} over {polls} polls")));
        }
        rows
    }
}

impl Manifest {
    /// The host's validation as rows of the system table (`validation`,
    /// `validation_outside`, `validation_file`): from the typed field, or for a run made before
    /// it, the `host` rows it wrote instead.
    pub fn validation_rows(&self) -> Vec<(&'static str, String)> {
        match &self.validation {
            Some(v) => v.rows(),
            None => ["validation", "validation_outside", "validation_file"]
                .into_iter()
                .filter_map(|k| self.host.get(k).map(|v| (k, v.clone())))
                .collect(),
        }
    }

    /// The checks the host's record could not place within ±10 %, described, or `None` when
    /// it placed them all (or there is no record).
    pub fn validation_outside(&self) -> Option<String> {
        let outside = match &self.validation {
            Some(v) => v.not_agreeing().iter().map(|c| c.describe()).collect::<Vec<_>>().join("; "),
            None => self.host.get("validation_outside").cloned().unwrap_or_default(),
        };
        (!outside.is_empty() && outside != "none").then_some(outside)
    }

    /// The run's power facts: the typed field, or for a run made before it, the `host` rows
    /// it wrote instead (the one place they are parsed).
    pub fn power_facts(&self) -> Option<PowerFacts> {
        if let Some(p) = &self.power {
            return Some(p.clone());
        }
        let source = self.host.get("power")?.clone();
        let num = |k: &str| self.host.get(k).and_then(|v| v.parse::<f64>().ok());
        let sampler = self.host.get("power_sampler_cpu_ms").and_then(|v| {
            let (ms, rest) = v.split_once(" over ")?;
            Some((ms.parse::<f64>().ok()?, rest.strip_suffix(" polls")?.parse::<u64>().ok()?))
        });
        Some(PowerFacts {
            source,
            idle_w: num("power_idle_w"),
            idle_end_w: num("power_idle_end_w"),
            idle_drift_pct: num("power_idle_drift_pct"),
            sampler_cpu_ms: sampler.map(|s| s.0),
            sampler_polls: sampler.map(|s| s.1),
        })
    }
}

/// Where a run is. In JSON, the strings `running`, `complete`, `interrupted` and
/// `failed: <why>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunState {
    Running,
    Complete,
    Interrupted,
    Failed(String),
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunState::Running => f.write_str("running"),
            RunState::Complete => f.write_str("complete"),
            RunState::Interrupted => f.write_str("interrupted"),
            RunState::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

impl std::str::FromStr for RunState {
    type Err = std::convert::Infallible;

    /// Any text that is not one of the three states is a failure with that text as its reason.
    fn from_str(s: &str) -> Result<RunState, Self::Err> {
        Ok(match s {
            "running" => RunState::Running,
            "complete" => RunState::Complete,
            "interrupted" => RunState::Interrupted,
            other => RunState::Failed(other.strip_prefix("failed: ").unwrap_or(other).to_string()),
        })
    }
}

impl PartialEq<&str> for RunState {
    fn eq(&self, other: &&str) -> bool {
        match self {
            RunState::Running => *other == "running",
            RunState::Complete => *other == "complete",
            RunState::Interrupted => *other == "interrupted",
            RunState::Failed(why) => other.strip_prefix("failed: ") == Some(why.as_str()),
        }
    }
}

impl Serialize for RunState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RunState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RunState, D::Error> {
        let text = String::deserialize(d)?;
        Ok(text.parse().unwrap_or(RunState::Failed(text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_comes_typed_or_from_an_older_runs_host_rows() {
        let legacy: BTreeMap<String, String> = [
            ("validation", "cpu ×1.00 of sysbench (1 agrees)"),
            ("validation_outside", "none"),
            ("validation_file", "/v.json"),
            ("kernel", "6.1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "schema": 1, "run_id": "r", "created_unix_ms": 0, "sandbench_version": "0", "campaign_path": "c",
            "campaign_text": "", "host": legacy, "versions": {}, "image": {}, "git_revision": null, "plan": [],
            "state": "complete"
        }))
        .unwrap();
        let rows = m.validation_rows();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0], ("validation", "cpu ×1.00 of sysbench (1 agrees)".to_string()));
        assert_eq!(m.validation_outside(), None, "`none` is no warning");
        m.host.insert("validation_outside".into(), "net stream 4096 B ×0.80 differs".into());
        assert_eq!(m.validation_outside().as_deref(), Some("net stream 4096 B ×0.80 differs"));
        m.validation = Some(crate::validation::HostValidation::NotMeasured { why: "not measured: x".into() });
        assert_eq!(m.validation_rows(), vec![("validation", "not measured: x".to_string())]);
        assert_eq!(m.validation_outside(), None, "the typed field wins over the old rows");
    }

    #[test]
    fn power_facts_come_typed_or_from_an_older_runs_host_rows_and_print_as_those_rows() {
        let legacy: BTreeMap<String, String> = [
            ("power", "rapl: package-0"),
            ("power_idle_w", "12.000"),
            ("power_idle_end_w", "12.900"),
            ("power_idle_drift_pct", "7.50"),
            ("power_sampler_cpu_ms", "3.2 over 40 polls"),
            ("kernel", "6.1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "schema": 1, "run_id": "r", "created_unix_ms": 0.0, "sandbench_version": "0", "git_revision": null,
            "campaign_path": "c.toml", "campaign_text": "", "host": legacy, "versions": {}, "image": {},
            "plan": [], "state": "complete"
        }))
        .unwrap();
        assert_eq!(m.power, None, "an older manifest has no typed field");
        let p = m.power_facts().unwrap();
        assert_eq!(
            (p.idle_w, p.idle_drift_pct, p.sampler_cpu_ms, p.sampler_polls),
            (Some(12.0), Some(7.5), Some(3.2), Some(40))
        );
        let rows: BTreeMap<String, String> = p.rows().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let mut only_power = legacy.clone();
        only_power.remove("kernel");
        assert_eq!(rows, only_power, "the typed facts print as the rows they replace");
        m.power = Some(PowerFacts { source: "unsupported: none".into(), ..Default::default() });
        assert_eq!(m.power_facts().unwrap().source, "unsupported: none", "the typed field wins");
        let text = serde_json::to_string(&m).unwrap();
        assert!(text.contains(r#""power":{"source":"unsupported: none"}"#), "{text}");
    }

    #[test]
    fn run_states_keep_their_json_strings() {
        for (state, json) in [
            (RunState::Running, "\"running\""),
            (RunState::Complete, "\"complete\""),
            (RunState::Interrupted, "\"interrupted\""),
            (RunState::Failed("disk full".into()), "\"failed: disk full\""),
        ] {
            assert_eq!(serde_json::to_string(&state).unwrap(), json);
            assert_eq!(serde_json::from_str::<RunState>(json).unwrap(), state);
        }
    }

    #[test]
    fn boot_split_uses_guest_uptime() {
        let b = BootTimeline {
            phases: vec![],
            guest_uptime_at_ready_ms: Some(900.0),
            guest_uptime_at_init_ms: Some(700.0),
            total_ms: 1000.0,
            ..Default::default()
        };
        let s = b.split();
        assert_eq!(s["before_kernel_ms"], 100.0);
        assert_eq!(s["kernel_ms"], 700.0);
        assert_eq!(s["guest_userspace_ms"], 200.0);
    }
}
