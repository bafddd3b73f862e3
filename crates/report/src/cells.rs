//! Table cells built once for both exporters (Markdown and HTML).

use crate::fmt::{num, small};
use crate::ReportModel;
use sandbench_spec::record::plural;

/// The energy table both exporters print: headers and one row per environment × workload.
pub fn energy_table(m: &ReportModel) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let opt = |x: Option<f64>| x.map(num).unwrap_or_else(|| "–".into());
    let headers = vec![
        "environment",
        "workload",
        "power W (mean ± sd)",
        "max W",
        "energy J / trial",
        "J per unit (95 % CI)",
        "units per J",
        "attributed J (estimate)",
        "validity",
    ];
    let rows = m
        .energy
        .iter()
        .map(|r| {
            let unit = if r.unit.is_empty() { String::new() } else { format!(" /{}", r.unit) };
            vec![
                r.environment.clone(),
                r.workload.clone(),
                r.power_mean_w
                    .as_ref()
                    .map(|s| format!("{} ± {}", num(s.mean), num(s.sd)))
                    .unwrap_or_else(|| "–".into()),
                opt(r.power_max_w),
                opt(r.energy_j.as_ref().map(|s| s.mean)),
                match (&r.j_per_unit, r.j_per_unit_ci) {
                    (Some(s), Some(ci)) => format!("{}{unit} ({}–{})", small(s.mean), small(ci.lo), small(ci.hi)),
                    (Some(s), None) => format!("{}{unit}", small(s.mean)),
                    _ => "–".into(),
                },
                r.units_per_j.map(|k| format!("{} {}/J", num(k), plural(&r.unit))).unwrap_or_else(|| "–".into()),
                opt(r.energy_attributed_j),
                if r.validity.reasons.is_empty() {
                    "VALID".into()
                } else {
                    format!("WARN: {}", r.validity.reasons.join("; "))
                },
            ]
        })
        .collect();
    (headers, rows)
}

/// The efficiency table both exporters print: each environment against the baseline.
pub fn efficiency_table(m: &ReportModel) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let headers = vec!["environment", "workload", "baseline", "power ×", "throughput ×", "work per joule ×"];
    let rows = m
        .efficiency
        .iter()
        .map(|e| {
            vec![
                e.environment.clone(),
                e.workload.clone(),
                e.baseline.clone(),
                format!("{:.3}", e.power_ratio),
                format!("{:.3}", e.throughput_ratio),
                format!("{:.3}", e.work_per_joule_ratio),
            ]
        })
        .collect();
    (headers, rows)
}
