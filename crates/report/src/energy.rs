//! Energy in the report: per environment and workload, the power drawn, the energy per unit
//! of work and the work per joule; against the baseline, the MASCOTS sentence ("X draws N %
//! more power than Y and delivers M× its throughput: K× the work per joule").

use crate::fmt::mean;
use crate::types::{Series, Validity};
use sandbench_spec::record::plural;
use sandbench_spec::{EnergySummary, Manifest, Status, TrialRecord};
use sandbench_stats::{summarize, Ci, Summary};
use serde::Serialize;
use std::collections::BTreeMap;

/// Energy of one environment × workload.
#[derive(Debug, Clone, Serialize)]
pub struct EnergyRow {
    pub environment: String,
    pub workload: String,
    /// `inference`, `MiB`, `event`; empty for kinds without a count.
    pub unit: String,
    pub source: String,
    pub power_mean_w: Option<Summary>,
    pub power_max_w: Option<f64>,
    pub energy_j: Option<Summary>,
    pub energy_dynamic_j: Option<f64>,
    /// The attribution estimate (CPU share × dynamic energy), never a measurement.
    pub energy_attributed_j: Option<f64>,
    pub j_per_unit: Option<Summary>,
    pub j_per_unit_ci: Option<Ci>,
    pub units_per_j: Option<f64>,
    /// Units per second over the working interval.
    pub throughput_per_s: Option<f64>,
    pub validity: Validity,
}

/// One environment's efficiency against the baseline's on a workload.
#[derive(Debug, Clone, Serialize)]
pub struct Efficiency {
    pub workload: String,
    pub environment: String,
    pub baseline: String,
    pub power_ratio: f64,
    pub throughput_ratio: f64,
    pub work_per_joule_ratio: f64,
    pub sentence: String,
}

/// The energy rows of every environment × workload that has measured energy.
pub fn rows(latest: &[&TrialRecord], series: &[Series], manifest: &Manifest) -> Vec<EnergyRow> {
    let mut groups: BTreeMap<(String, String), Vec<(&TrialRecord, &EnergySummary)>> = BTreeMap::new();
    let mut order = Vec::new();
    for r in latest.iter().filter(|r| !r.dims.warmup && r.status == Status::Ok) {
        let Some(e) = r.host.as_ref().and_then(|h| h.energy.as_ref()) else { continue };
        let key = (r.key.environment.clone(), r.key.workload.clone());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push((r, e));
    }
    let drift = manifest.power_facts().and_then(|p| p.idle_drift_pct);
    order
        .into_iter()
        .map(|key| {
            let g = &groups[&key];
            let (env, wl) = key;
            let col =
                |f: &dyn Fn(&EnergySummary) -> Option<f64>| g.iter().filter_map(|(_, e)| f(e)).collect::<Vec<f64>>();
            let j_series = series.iter().find(|s| s.environment == env && s.workload == wl && s.metric == "j_per_unit");
            let mut reasons = grouped_warnings(g.iter().map(|(_, e)| e.warnings.as_slice()), g.len());
            if let Some(d) = drift.filter(|d| *d > crate::energy::MAX_IDLE_DRIFT_PCT) {
                reasons.push(format!("idle power drifted {d:.1} % between the run's start and end (> 5 %)"));
            }
            EnergyRow {
                unit: g.iter().find_map(|(_, e)| e.work.as_ref().map(|w| w.unit.clone())).unwrap_or_default(),
                source: g[0].1.source.clone(),
                power_mean_w: summarize(&col(&|e| Some(e.power_mean_w))),
                power_max_w: col(&|e| Some(e.power_max_w)).into_iter().reduce(f64::max),
                energy_j: summarize(&col(&|e| Some(e.energy_j))),
                energy_dynamic_j: mean(&col(&|e| Some(e.energy_dynamic_j))),
                energy_attributed_j: mean(&col(&|e| e.energy_attributed_j)),
                j_per_unit: j_series.and_then(|s| s.summary.clone()),
                j_per_unit_ci: j_series.and_then(|s| s.ci),
                units_per_j: mean(&col(&|e| e.work.as_ref().map(|w| w.units_per_j))),
                throughput_per_s: mean(&col(&|e| {
                    e.work.as_ref().filter(|w| w.duration_ms > 0.0).map(|w| w.units / (w.duration_ms / 1e3))
                })),
                validity: Validity::from(reasons),
                environment: env,
                workload: wl,
            }
        })
        .collect()
}

/// The trials' warnings once per kind (the same words with other numbers), with how many
/// trials had it: "3 of 3 trials, e.g.: other host load 156 % of a core …".
fn grouped_warnings<'a>(per_trial: impl Iterator<Item = &'a [String]>, trials: usize) -> Vec<String> {
    let shape = |w: &str| w.chars().filter(|c| !c.is_ascii_digit() && *c != '.').collect::<String>();
    let mut kinds: Vec<(String, String, usize)> = Vec::new();
    for warnings in per_trial {
        let mut seen = Vec::new();
        for w in warnings {
            let k = shape(w);
            if seen.contains(&k) {
                continue;
            }
            match kinds.iter_mut().find(|(kind, _, _)| *kind == k) {
                Some((_, _, n)) => *n += 1,
                None => kinds.push((k.clone(), w.clone(), 1)),
            }
            seen.push(k);
        }
    }
    kinds
        .into_iter()
        .map(|(_, first, n)| {
            if n > 1 {
                format!("{n} of {trials} trials, e.g.: {first}")
            } else {
                format!("1 of {trials} trials: {first}")
            }
        })
        .collect()
}

/// Idle drift (percent) above which a run's energy is flagged.
pub const MAX_IDLE_DRIFT_PCT: f64 = 5.0;

/// A ratio to two decimals, or to three significant digits when that would print 0.00.
fn ratio(x: f64) -> String {
    if x < 0.01 {
        crate::fmt::small(x)
    } else {
        format!("{x:.2}")
    }
}

/// Every environment against the baseline on each workload with energy per unit.
pub fn efficiency(rows: &[EnergyRow], baseline: Option<&str>) -> Vec<Efficiency> {
    let Some(base) = baseline else { return Vec::new() };
    let mut out = Vec::new();
    for r in rows.iter().filter(|r| r.environment != base) {
        let Some(b) = rows.iter().find(|b| b.environment == base && b.workload == r.workload) else { continue };
        let (Some(p), Some(pb)) = (r.power_mean_w.as_ref().map(|s| s.mean), b.power_mean_w.as_ref().map(|s| s.mean))
        else {
            continue;
        };
        let (Some(t), Some(tb), Some(k), Some(kb)) =
            (r.throughput_per_s, b.throughput_per_s, r.units_per_j, b.units_per_j)
        else {
            continue;
        };
        if pb <= 0.0 || tb <= 0.0 || kb <= 0.0 {
            continue;
        }
        let (power_ratio, throughput_ratio, work_per_joule_ratio) = (p / pb, t / tb, k / kb);
        let draws = if power_ratio >= 1.0 {
            format!("draws {:.1} % more power than {base}", (power_ratio - 1.0) * 100.0)
        } else {
            format!("draws {:.1} % less power than {base}", (1.0 - power_ratio) * 100.0)
        };
        out.push(Efficiency {
            sentence: format!(
                "{} on {} {draws} and delivers {}× its throughput: {}× the work per joule ({} vs {} {}/J)",
                r.environment,
                r.workload,
                ratio(throughput_ratio),
                ratio(work_per_joule_ratio),
                crate::fmt::small(k),
                crate::fmt::small(kb),
                plural(&r.unit),
            ),
            workload: r.workload.clone(),
            environment: r.environment.clone(),
            baseline: base.to_string(),
            power_ratio,
            throughput_ratio,
            work_per_joule_ratio,
        });
    }
    out
}
