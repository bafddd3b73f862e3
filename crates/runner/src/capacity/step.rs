//! One step's records summed up: every sandbox's queries merged, the verdict, CPU, memory and
//! energy per inference ([`CapacityStep`]).

use super::judge::judge;
use sandbench_protocol::{Histogram, ScenarioKind};
use sandbench_spec::capacity::StepMemory;
use sandbench_spec::{CapacityStep, Sla, Status, TrialRecord};
use sandbench_workloads::ai::mean;

/// What the series loop measured around a step's windows.
pub(crate) struct StepFacts {
    pub streams: u32,
    pub scenario: ScenarioKind,
    pub windows: Vec<Vec<TrialRecord>>,
    pub memory: StepMemory,
    /// Host energy over each window, where there is a power source.
    pub energy_j: Option<f64>,
    pub energy_unsupported: Option<String>,
    pub launch_ms: Vec<f64>,
    pub launch_wall_ms: f64,
}

pub(crate) fn summarize(env: &str, wl: &str, sla: Sla, f: StepFacts) -> CapacityStep {
    let ok: Vec<&TrialRecord> = f.windows.iter().flatten().filter(|r| r.status == Status::Ok).collect();
    let failed = f.windows.iter().flatten().count() - ok.len();
    let mut hist = Histogram::default();
    for r in &ok {
        if let Some(h) = r.outputs.get("histogram").and_then(|v| serde_json::from_value::<Histogram>(v.clone()).ok()) {
            hist.merge(&h);
        }
    }
    let metric = |r: &TrialRecord, k: &str| r.metrics.get(k).map(|m| m.value).unwrap_or(0.0);
    let queries: f64 = ok.iter().map(|r| metric(r, "queries")).sum();
    let inferences: f64 = ok.iter().map(|r| metric(r, "inferences")).sum();
    // Per window: its queries over the host's longest trial of it.
    let rates: Vec<f64> = f
        .windows
        .iter()
        .map(|w| {
            let q: f64 = w.iter().filter(|r| r.status == Status::Ok).map(|r| metric(r, "queries")).sum();
            let wall = w.iter().map(|r| r.host_wall_ms).fold(0.0, f64::max) / 1e3;
            if wall > 0.0 {
                q / wall
            } else {
                0.0
            }
        })
        .collect();
    let throughput = mean(&rates);
    let offered: u64 = ok.iter().filter_map(|r| r.load.as_ref().and_then(|l| l.offered)).sum();
    let missed: f64 = ok.iter().map(|r| metric(r, "skipped_frames") + metric(r, "deadline_misses")).sum();
    let j = if f.scenario == ScenarioKind::Idle {
        // Nothing to judge: an idle step measures the footprint.
        super::judge::Judged {
            verdict: sandbench_spec::SlaVerdict::Pass,
            why: "idle: no queries to judge, the step measures footprint".into(),
            early_estimate_ms: None,
            miss_ratio_ci: None,
        }
    } else {
        judge(sla, &hist, offered, missed as u64)
    };
    let windows = f.windows.len().max(1) as f64;
    let cpu: f64 = ok.iter().filter_map(|r| r.host.as_ref().map(|h| h.cpu_mean_pct)).sum::<f64>() / windows;
    // Every trial of a window sampled the same host: its busy CPU is the mean of theirs.
    let busy: Vec<f64> = f
        .windows
        .iter()
        .filter_map(|w| {
            let v: Vec<f64> = w.iter().filter_map(|r| r.host.as_ref().and_then(|h| h.host_busy_mean_pct)).collect();
            (!v.is_empty()).then(|| mean(&v))
        })
        .collect();
    let other_cpu_pct = (!busy.is_empty()).then(|| (mean(&busy) - cpu).max(0.0));
    let sum_peak = |pick: fn(&sandbench_spec::HostSummary) -> Option<u64>| -> Option<f64> {
        f.windows
            .iter()
            .map(|w| w.iter().filter_map(|r| r.host.as_ref().and_then(pick)).map(|k| k as f64 / 1024.0).sum::<f64>())
            .fold(None, |a: Option<f64>, v| if v > 0.0 { Some(a.map_or(v, |a| a.max(v))) } else { a })
    };
    let memory = StepMemory {
        pss_mib: sum_peak(|h| h.pss_max_kib),
        uss_mib: sum_peak(|h| h.uss_max_kib),
        cgroup_mib: sum_peak(|h| h.cgroup_mem_max_kib),
        ..f.memory
    };
    let fixed_rate = f.scenario == ScenarioKind::FixedRate;
    CapacityStep {
        environment: env.into(),
        workload: wl.into(),
        streams: f.streams,
        scenario: f.scenario,
        windows: f.windows.len() as u32,
        trials_ok: ok.len() as u32,
        trials_failed: failed as u32,
        queries: queries as u64,
        throughput_qps: throughput,
        per_sandbox_qps: throughput / f.streams.max(1) as f64,
        p50_ms: hist.quantile(0.5),
        p90_ms: hist.quantile(0.9),
        p99_ms: hist.quantile(0.99),
        histogram: hist,
        early_estimate_ms: j.early_estimate_ms,
        miss_ratio: (fixed_rate && offered > 0).then(|| missed / offered as f64),
        miss_ratio_ci: j.miss_ratio_ci,
        sla: j.verdict,
        sla_why: j.why,
        cpu_pct: cpu,
        other_cpu_pct,
        memory,
        joules_per_inference: f.energy_j.filter(|_| inferences > 0.0).map(|e| e / inferences),
        energy_unsupported: f.energy_unsupported,
        launch_ms: f.launch_ms,
        launch_wall_ms: f.launch_wall_ms,
    }
}
