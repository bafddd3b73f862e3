//! The capacity answer (`capacity.jsonl` of a `[capacity]` run): per environment × workload the
//! most streams within the budget and why the series stopped, memory and energy at that
//! count, the curves against N, and verdicts between environments in words.

use crate::html_parts::{esc, figure, table};
use sandbench_protocol::ScenarioKind;
use sandbench_spec::{Campaign, CapacityLine, CapacityStep, SlaVerdict};
use serde::Serialize;
use std::fmt::Write;

/// Other host load (100 % = one core) above which a step is flagged.
pub const OTHER_LOAD_MAX_PCT: f64 = 25.0;

/// One environment × workload's answer.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityRow {
    pub environment: String,
    pub workload: String,
    /// The scenario in words: `cpu, fixed_rate at 10 fps`.
    pub scenario: String,
    /// Which scenario it was.
    #[serde(skip)]
    pub scenario_kind: Option<ScenarioKind>,
    pub capacity: Option<u32>,
    /// Why the series ended; `None` while it is still running (an interrupted run).
    pub stop: Option<String>,
    /// At the capacity's step: `MemAvailable` drop per sandbox, PSS per sandbox, marginal.
    pub mem_per_sandbox_mib: Option<f64>,
    pub pss_per_sandbox_mib: Option<f64>,
    pub uss_per_sandbox_mib: Option<f64>,
    pub marginal_mib: Option<f64>,
    pub p90_ms: Option<f64>,
    pub throughput_qps: Option<f64>,
    pub j_per_inference: Option<f64>,
}

/// The capacity section of a report.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityReport {
    /// The budget in words.
    pub sla: String,
    pub rows: Vec<CapacityRow>,
    /// Every measured step.
    pub steps: Vec<CapacityStep>,
    pub verdicts: Vec<String>,
    pub notes: Vec<String>,
}

/// The section, when the run was a capacity run.
pub fn build(campaign: Option<&Campaign>, lines: &[CapacityLine]) -> Option<CapacityReport> {
    let cap = campaign.and_then(|c| c.capacity.as_ref())?;
    let steps: Vec<CapacityStep> = lines
        .iter()
        .filter_map(|l| match l {
            CapacityLine::Step(s) => Some(s.as_ref().clone()),
            CapacityLine::End(_) => None,
        })
        .collect();
    let mut rows = Vec::new();
    for (env, wl) in series_order(lines) {
        let mine: Vec<&CapacityStep> = steps.iter().filter(|s| s.environment == env && s.workload == wl).collect();
        let end = lines.iter().rev().find_map(|l| match l {
            CapacityLine::End(e) if e.environment == env && e.workload == wl => Some(e),
            _ => None,
        });
        let capacity = match end {
            Some(e) => e.capacity,
            None => mine.iter().filter(|s| s.sla == SlaVerdict::Pass).map(|s| s.streams).max(),
        };
        let at = capacity.and_then(|n| mine.iter().find(|s| s.streams == n));
        rows.push(CapacityRow {
            scenario: describe_scenario(campaign, &wl, mine.first().map(|s| s.scenario)),
            scenario_kind: mine.first().map(|s| s.scenario),
            environment: env,
            workload: wl,
            capacity,
            stop: end.map(|e| e.stop.describe()),
            mem_per_sandbox_mib: at.map(|s| s.memory.mem_available_drop_mib / s.streams as f64),
            pss_per_sandbox_mib: at.and_then(|s| s.memory.pss_mib.map(|p| p / s.streams as f64)),
            uss_per_sandbox_mib: at.and_then(|s| s.memory.uss_mib.map(|p| p / s.streams as f64)),
            marginal_mib: at.and_then(|s| s.memory.marginal_mib),
            p90_ms: at.and_then(|s| s.p90_ms),
            throughput_qps: at.map(|s| s.throughput_qps),
            j_per_inference: at.and_then(|s| s.joules_per_inference),
        });
    }
    let mut notes = Vec::new();
    let scenarios: Vec<&String> = rows.iter().map(|r| &r.scenario).collect();
    if scenarios.windows(2).any(|w| w[0] != w[1]) {
        notes.push(
            "the environments ran different workloads or scenarios: their capacities answer different questions".into(),
        );
    }
    let busy: Vec<String> = steps
        .iter()
        .filter(|s| s.other_cpu_pct.is_some_and(|o| o > OTHER_LOAD_MAX_PCT))
        .map(|s| format!("{} at {} ({:.0} %)", s.environment, s.streams, s.other_cpu_pct.unwrap_or(0.0)))
        .collect();
    if !busy.is_empty() {
        notes.push(format!(
            "WARN: something besides the sandboxes used more than {OTHER_LOAD_MAX_PCT:.0} % of a core during {}: \
             those steps' latencies are partly its doing; run them again on a quiet host",
            busy.join(", ")
        ));
    }
    if steps.iter().any(|s| s.energy_unsupported.is_some()) {
        notes.push("joules per inference: none, the run had no power source (the power warning says why)".into());
    }
    let sla = cap.sla.describe();
    Some(CapacityReport { verdicts: verdicts(&rows, &sla), sla, rows, steps, notes })
}

/// Each series (environment, workload) once, in the order it first comes.
fn series_order(lines: &[CapacityLine]) -> Vec<(String, String)> {
    crate::fmt::first_order(lines.iter().map(|l| l.series()).map(|(e, w)| (e.to_string(), w.to_string())))
}

/// `fixed_rate at 10 fps`, `server at 5 queries/s`, from the campaign's workload.
fn describe_scenario(c: Option<&Campaign>, wl: &str, scenario: Option<ScenarioKind>) -> String {
    let w = c.and_then(|c| c.workload_specs().find(|w| w.name == wl));
    let num = |k: &str| w.and_then(|w| w.params.get(k)).and_then(|v| v.as_f64());
    let kind = w.map(|w| w.kind.name()).unwrap_or("?");
    let name = scenario.map_or("?", ScenarioKind::name);
    let how = match (scenario, num("fps"), num("rate")) {
        (Some(ScenarioKind::FixedRate), Some(f), _) => format!("{name} at {f} fps"),
        (Some(ScenarioKind::Server), _, Some(r)) => format!("{name} at {r} queries/s"),
        _ => name.to_string(),
    };
    format!("{kind}, {how}")
}

/// Per scenario (environments that ran the same one): "native holds 8 stream(s) (classify,
/// fixed_rate at 10 fps) within p90 ≤ 100 ms; runc 4: 2.0× fewer". Capacities of different
/// scenarios are never compared.
fn verdicts(rows: &[CapacityRow], sla: &str) -> Vec<String> {
    let mut scenarios: Vec<&str> = Vec::new();
    for r in rows {
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    scenarios
        .into_iter()
        .map(|sc| verdict(&rows.iter().filter(|r| r.scenario == sc).collect::<Vec<_>>(), sla))
        .collect()
}

fn verdict(rows: &[&CapacityRow], sla: &str) -> String {
    if rows.iter().all(|r| r.scenario_kind == Some(ScenarioKind::Idle)) {
        return footprint(rows);
    }
    let mut sorted = rows.to_vec();
    sorted.sort_by_key(|r| std::cmp::Reverse(r.capacity));
    let best = sorted[0];
    let Some(n) = best.capacity else {
        let envs: Vec<&str> = sorted.iter().map(|r| r.environment.as_str()).collect();
        return format!("{} held no stream count within {sla} ({})", envs.join(", "), best.scenario);
    };
    let mut out = format!("{} holds {n} stream(s) ({}) within {sla}", best.environment, best.scenario);
    for r in &sorted[1..] {
        let _ = match r.capacity {
            Some(m) if m == n => write!(out, "; {} as many", r.environment),
            Some(m) => write!(out, "; {} {m}: {:.1}× fewer", r.environment, n as f64 / m as f64),
            None => write!(out, "; {} none", r.environment),
        };
    }
    out
}

/// Idle sandboxes: "footprint of idle sandboxes (noop, idle): native 8 up, 1.2 MiB
/// MemAvailable drop and 3.4 MiB PSS each; …".
fn footprint(rows: &[&CapacityRow]) -> String {
    let each = rows
        .iter()
        .map(|r| {
            format!(
                "{} {} up, {} MiB MemAvailable drop, {} MiB PSS and {} MiB USS each (marginal {} MiB)",
                r.environment,
                r.capacity.map_or("none".into(), |n| n.to_string()),
                opt(r.mem_per_sandbox_mib, 1),
                opt(r.pss_per_sandbox_mib, 1),
                opt(r.uss_per_sandbox_mib, 1),
                opt(r.marginal_mib, 1)
            )
        })
        .collect::<Vec<_>>();
    format!("footprint of idle sandboxes ({}): {}", rows[0].scenario, each.join("; "))
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn table_rows(r: &CapacityReport) -> Vec<Vec<String>> {
    r.rows
        .iter()
        .map(|x| {
            vec![
                x.environment.clone(),
                x.workload.clone(),
                x.scenario.clone(),
                x.capacity.map_or("none".into(), |n| n.to_string()),
                x.stop.clone().unwrap_or_else(|| "still running (resume it)".into()),
                opt(x.p90_ms, 1),
                opt(x.throughput_qps, 1),
                opt(x.mem_per_sandbox_mib, 1),
                opt(x.pss_per_sandbox_mib, 1),
                opt(x.uss_per_sandbox_mib, 1),
                opt(x.j_per_inference, 3),
            ]
        })
        .collect()
}

const HEADERS: [&str; 11] = [
    "environment",
    "workload",
    "scenario",
    "capacity (streams)",
    "stopped because",
    "p90 ms at capacity",
    "queries/s at capacity",
    "MemAvailable drop / sandbox MiB",
    "PSS / sandbox MiB",
    "USS / sandbox MiB",
    "J / inference",
];

fn step_rows(r: &CapacityReport) -> Vec<Vec<String>> {
    r.steps
        .iter()
        .map(|s| {
            vec![
                s.environment.clone(),
                s.workload.clone(),
                s.streams.to_string(),
                format!("{}/{}", s.trials_ok, s.trials_ok + s.trials_failed),
                s.queries.to_string(),
                opt(s.p90_ms, 1),
                opt(s.early_estimate_ms, 1),
                opt(s.p99_ms, 1),
                opt(s.miss_ratio, 3),
                format!("{:.1}", s.throughput_qps),
                format!("{:.0}", s.cpu_pct),
                opt(s.other_cpu_pct, 0),
                format!("{:.0}", s.memory.mem_available_drop_mib),
                opt(s.memory.pss_mib, 0),
                launches(s),
                format!("{:?}: {}", s.sla, s.sla_why).to_lowercase(),
            ]
        })
        .collect()
}

/// `3 in 812 ms (slowest 640)`: the sandboxes a step launched, its launch wall time, the
/// slowest one's launch → ready.
fn launches(s: &CapacityStep) -> String {
    match s.launch_ms.iter().copied().reduce(f64::max) {
        Some(slowest) => format!("{} in {:.0} ms (slowest {slowest:.0})", s.launch_ms.len(), s.launch_wall_ms),
        None => "–".into(),
    }
}

const STEP_HEADERS: [&str; 16] = [
    "environment",
    "workload",
    "N",
    "trials ok",
    "queries",
    "p90 ms",
    "early p90 ms",
    "p99 ms",
    "miss ratio",
    "queries/s",
    "host CPU %",
    "other load %",
    "MemAvailable drop MiB",
    "PSS MiB",
    "launched",
    "verdict",
];

/// The section in Markdown.
pub fn markdown(out: &mut String, r: &CapacityReport) {
    let _ = writeln!(out, "\n## Capacity (budget: {})\n", r.sla);
    for v in &r.verdicts {
        let _ = writeln!(out, "- {v}");
    }
    for n in &r.notes {
        let _ = writeln!(out, "- note: {n}");
    }
    md_table(out, &HEADERS, &table_rows(r));
    let _ = writeln!(out, "\n### Every step\n");
    md_table(out, &STEP_HEADERS, &step_rows(r));
}

fn md_table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "\n| {} |", headers.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(headers.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| c.replace('|', "/")).collect::<Vec<_>>().join(" | "));
    }
}

/// A figure's name, unit and the step's value it plots.
type Curve = (&'static str, &'static str, fn(&CapacityStep) -> Option<f64>);

/// The section in HTML, with the curves against N.
pub fn html(o: &mut String, r: &CapacityReport) {
    let _ = write!(o, "<h2>Capacity <small>(budget: {})</small></h2><ul class=\"head\">", esc(&r.sla));
    for v in &r.verdicts {
        let _ = write!(o, "<li>{}</li>", esc(v));
    }
    for n in &r.notes {
        let _ = write!(o, "<li class=\"warn\">{}</li>", esc(n));
    }
    o.push_str("</ul>");
    table(o, &HEADERS, &table_rows(r));
    let curves: [Curve; 4] = [
        ("p90 latency", "ms", |s| s.p90_ms),
        ("p99 latency", "ms", |s| s.p99_ms),
        ("aggregate throughput", "queries/s", |s| Some(s.throughput_qps)),
        ("MemAvailable drop", "MiB", |s| Some(s.memory.mem_available_drop_mib)),
    ];
    for (name, unit, pick) in curves {
        let lines: Vec<(String, Vec<(f64, f64)>)> =
            crate::fmt::first_order(r.steps.iter().map(|s| (s.environment.clone(), s.workload.clone())))
                .into_iter()
                .map(|(e, w)| {
                    let pts = r
                        .steps
                        .iter()
                        .filter(|s| s.environment == e && s.workload == w)
                        .filter_map(|s| pick(s).map(|v| (s.streams as f64, v)))
                        .collect();
                    (format!("{e} · {w}"), pts)
                })
                .collect();
        if lines.iter().all(|(_, p)| p.is_empty()) {
            continue;
        }
        figure(
            o,
            crate::figures::sweep(
                &format!("{name} against streams"),
                "streams (sandboxes at once)",
                &format!("{name} ({unit})"),
                &lines,
            ),
            "One point per step, over every query of every sandbox in all its windows.",
        );
    }
    o.push_str("<h3>Every step</h3>");
    table(o, &STEP_HEADERS, &step_rows(r));
}
