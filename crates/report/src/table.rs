//! The summary rows every exporter shares: one per environment × workload.

use sandbench_spec::{Status, TrialKey, TrialRecord};
use sandbench_stats::{summarize, Summary};
use std::collections::BTreeMap;

/// The metric a workload kind is judged by, and whether higher is better.
pub fn headline_metric(kind: &str) -> (&'static str, bool) {
    match kind {
        "cpu" => ("events_per_s", true),
        _ => ("host_wall_ms", false),
    }
}

/// One environment × workload.
#[derive(Debug, Clone)]
pub struct Row {
    pub environment: String,
    pub workload: String,
    pub driver: String,
    pub accel: Option<String>,
    pub metric: String,
    pub unit: String,
    pub value: Option<Summary>,
    pub host_cpu_pct: Option<Summary>,
    pub boot_ms: Option<Summary>,
    pub pss_max_mib: Option<f64>,
    pub ok: usize,
    pub failed: usize,
}

/// The latest attempt of every trial (a resumed run may retry failures).
pub fn latest(records: &[TrialRecord]) -> Vec<&TrialRecord> {
    let mut by_key: BTreeMap<&TrialKey, &TrialRecord> = BTreeMap::new();
    for r in records {
        let keep = by_key.get(&r.key).is_none_or(|old| r.attempt >= old.attempt);
        if keep {
            by_key.insert(&r.key, r);
        }
    }
    by_key.into_values().collect()
}

/// Summary rows in the order environments and workloads first appear.
pub fn rows(records: &[TrialRecord]) -> Vec<Row> {
    let latest = latest(records);
    let mut order: Vec<(String, String)> = Vec::new();
    for r in records {
        let k = (r.key.environment.clone(), r.key.workload.clone());
        if !order.contains(&k) {
            order.push(k);
        }
    }
    order
        .into_iter()
        .map(|(env, wl)| {
            let group: Vec<&&TrialRecord> =
                latest.iter().filter(|r| r.key.environment == env && r.key.workload == wl).collect();
            let measured: Vec<&&TrialRecord> = group.iter().copied().filter(|r| !r.dims.warmup).collect();
            let ok: Vec<&&TrialRecord> = measured.iter().copied().filter(|r| r.status == Status::Ok).collect();
            let first = group[0];
            let (metric, _) = headline_metric(&first.dims.kind);
            let (values, unit): (Vec<f64>, String) = if metric == "host_wall_ms" {
                (ok.iter().map(|r| r.host_wall_ms).collect(), "ms".into())
            } else {
                (
                    ok.iter().filter_map(|r| r.metrics.get(metric).map(|m| m.value)).collect(),
                    ok.iter().find_map(|r| r.metrics.get(metric).map(|m| m.unit.clone())).unwrap_or_default(),
                )
            };
            let cpu: Vec<f64> = ok.iter().filter_map(|r| r.host.as_ref().map(|h| h.cpu_mean_pct)).collect();
            // Boot times of every launch of this environment, whichever workload's trial it
            // served first (a launch is a launch, warm-up included).
            let boots: Vec<f64> = latest
                .iter()
                .filter(|r| r.key.environment == env)
                .filter_map(|r| r.launch.as_ref().filter(|l| l.fresh).map(|l| l.boot.total_ms))
                .collect();
            let pss =
                ok.iter().filter_map(|r| r.host.as_ref().and_then(|h| h.pss_max_kib)).max().map(|k| k as f64 / 1024.0);
            Row {
                environment: env,
                workload: wl,
                driver: first.dims.driver.clone(),
                accel: first.dims.accel.clone(),
                metric: metric.to_string(),
                unit,
                value: summarize(&values),
                host_cpu_pct: summarize(&cpu),
                boot_ms: summarize(&boots),
                pss_max_mib: pss,
                ok: ok.len(),
                failed: measured.len() - ok.len(),
            }
        })
        .collect()
}
