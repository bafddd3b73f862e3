//! Parameter sweeps: workloads of one kind that differ in exactly one numeric parameter (block
//! size, message size, threads, …) become one figure of the headline metric against that
//! parameter, a line per environment (the papers' Fig. 8–9 and the network figure).

use crate::types::Series;
use sandbench_protocol::RecordedKind;
use sandbench_spec::TrialRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// (parameter value, mean, 95 % CI).
pub type Point = (f64, f64, Option<(f64, f64)>);

#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub kind: RecordedKind,
    pub parameter: String,
    /// The parameters every point shares (`mode = "seqrd"`), empty when none.
    pub fixed: String,
    pub metric: String,
    pub unit: String,
    pub higher_is_better: bool,
    /// Per environment: (parameter value, mean, 95 % CI) in ascending parameter order.
    pub lines: Vec<(String, Vec<Point>)>,
}

/// Finds the sweeps among the workloads of `records`.
pub fn sweeps(records: &[TrialRecord], series: &[Series]) -> Vec<Sweep> {
    // kind → workload name → params
    let mut kinds: BTreeMap<RecordedKind, BTreeMap<String, serde_json::Map<String, serde_json::Value>>> =
        BTreeMap::new();
    for r in records {
        kinds
            .entry(r.dims.kind.clone())
            .or_default()
            .entry(r.key.workload.clone())
            .or_insert_with(|| r.dims.params.clone());
    }
    let mut out = Vec::new();
    for (kind, workloads) in kinds {
        if workloads.len() < 2 {
            continue;
        }
        let keys: Vec<String> = workloads.values().flat_map(|p| p.keys().cloned()).fold(Vec::new(), |mut v, k| {
            if !v.contains(&k) {
                v.push(k)
            }
            v
        });
        // For each parameter: the workloads that agree on every other parameter form a group;
        // a group with two or more values of it is a sweep (fileio's block sizes per mode,
        // net's message sizes per mode).
        for param in &keys {
            let mut groups: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
            for (name, p) in &workloads {
                let Some(x) = p.get(param).and_then(numeric) else { continue };
                let mut rest = p.clone();
                rest.remove(param);
                groups.entry(fixed_label(&rest)).or_default().insert(name.clone(), x);
            }
            for (fixed, values) in groups {
                let mut distinct: Vec<f64> = values.values().copied().collect();
                distinct.sort_by(f64::total_cmp);
                distinct.dedup();
                if distinct.len() >= 2 {
                    out.push(sweep(&kind, param, fixed, &values, series));
                }
            }
        }
    }
    out
}

/// A parameter value as a number: JSON numbers, and sizes written as strings (`"4K"`).
fn numeric(v: &serde_json::Value) -> Option<f64> {
    v.as_f64().or_else(|| v.as_str().and_then(sandbench_protocol::parse_size).map(|n| n as f64))
}

/// `mode = "seqrd", direct = true`: what a sweep's workloads share, for its title.
fn fixed_label(rest: &serde_json::Map<String, serde_json::Value>) -> String {
    rest.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ")
}

fn sweep(kind: &RecordedKind, param: &str, fixed: String, values: &BTreeMap<String, f64>, series: &[Series]) -> Sweep {
    let kind = kind.clone();
    let (metric, higher) = kind.headline();
    let mut envs: Vec<String> = Vec::new();
    for s in series.iter().filter(|s| s.kind == kind && s.metric == metric) {
        if !envs.contains(&s.environment) {
            envs.push(s.environment.clone());
        }
    }
    let unit = series.iter().find(|s| s.kind == kind && s.metric == metric).map(|s| s.unit.clone()).unwrap_or_default();
    let lines = envs
        .into_iter()
        .map(|env| {
            let mut pts: Vec<Point> = series
                .iter()
                .filter(|s| s.environment == env && s.metric == metric && values.contains_key(&s.workload))
                .filter_map(|s| Some((values[&s.workload], s.summary.as_ref()?.mean, s.ci.map(|c| (c.lo, c.hi)))))
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            (env, pts)
        })
        .collect();
    Sweep {
        kind,
        parameter: param.to_string(),
        fixed,
        metric: metric.to_string(),
        unit,
        higher_is_better: higher,
        lines,
    }
}
