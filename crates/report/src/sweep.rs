//! Parameter sweeps: workloads of one kind that differ in exactly one numeric parameter (block
//! size, message size, threads, …) become one figure of the headline metric against that
//! parameter, a line per environment (the papers' Fig. 8–9 and the network figure).

use crate::model::{headline_metric, Series};
use sandbench_spec::TrialRecord;
use serde::Serialize;
use std::collections::BTreeMap;

/// (parameter value, mean, 95 % CI).
pub type Point = (f64, f64, Option<(f64, f64)>);

#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub kind: String,
    pub parameter: String,
    pub metric: String,
    pub unit: String,
    pub higher_is_better: bool,
    /// Per environment: (parameter value, mean, 95 % CI) in ascending parameter order.
    pub lines: Vec<(String, Vec<Point>)>,
}

/// Finds the sweeps among the workloads of `records`.
pub fn sweeps(records: &[TrialRecord], series: &[Series]) -> Vec<Sweep> {
    // kind → workload name → params
    let mut kinds: BTreeMap<String, BTreeMap<String, serde_json::Map<String, serde_json::Value>>> = BTreeMap::new();
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
        let varying: Vec<&String> = keys
            .iter()
            .filter(|k| {
                workloads
                    .values()
                    .map(|p| p.get(*k).map(|v| v.to_string()))
                    .collect::<Vec<_>>()
                    .windows(2)
                    .any(|w| w[0] != w[1])
            })
            .collect();
        let [param] = varying.as_slice() else { continue };
        let Some(values): Option<BTreeMap<String, f64>> = workloads
            .iter()
            .map(|(name, p)| p.get(*param).and_then(|v| v.as_f64()).map(|x| (name.clone(), x)))
            .collect()
        else {
            continue;
        };
        let (metric, higher) = headline_metric(&kind);
        let mut envs: Vec<String> = Vec::new();
        for s in series.iter().filter(|s| s.kind == kind && s.metric == metric) {
            if !envs.contains(&s.environment) {
                envs.push(s.environment.clone());
            }
        }
        let unit =
            series.iter().find(|s| s.kind == kind && s.metric == metric).map(|s| s.unit.clone()).unwrap_or_default();
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
        out.push(Sweep {
            kind,
            parameter: param.to_string(),
            metric: metric.to_string(),
            unit,
            higher_is_better: higher,
            lines,
        });
    }
    out
}
