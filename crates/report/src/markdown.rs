//! `report.md`: the summary, tables and verdicts for pull requests and papers.

use crate::model::{ReportModel, Series};
use std::fmt::Write;

use crate::fmt::num as f;

fn opt(x: Option<f64>) -> String {
    x.map(f).unwrap_or_else(|| "–".into())
}

fn series_table(out: &mut String, rows: &[&Series]) {
    let _ = writeln!(
        out,
        "| environment | driver | n | mean | sd | 95 % CI of mean | median | p95 | CV | failed | validity |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for s in rows {
        let driver = match &s.accel {
            Some(a) => format!("{} ({a})", s.driver),
            None => s.driver.to_string(),
        };
        let validity = if s.validity.reasons.is_empty() {
            "VALID".to_string()
        } else {
            format!("WARN: {}", s.validity.reasons.join("; "))
        };
        match &s.summary {
            Some(x) => {
                let ci = s.ci.map(|c| format!("{}–{}", f(c.lo), f(c.hi))).unwrap_or_else(|| "–".into());
                let _ = writeln!(
                    out,
                    "| {} | {driver} | {} | {} | {} | {ci} | {} | {} | {:.1} % | {} | {validity} |",
                    s.environment,
                    x.n,
                    f(x.mean),
                    f(x.sd),
                    f(x.median),
                    f(x.p95),
                    x.cv * 100.0,
                    s.failed
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "| {} | {driver} | 0 | – | – | – | – | – | – | {} | {validity} |",
                    s.environment, s.failed
                );
            }
        }
    }
}

/// Power, energy per unit of work and efficiency, where the run measured power.
fn energy(out: &mut String, m: &ReportModel) {
    if m.energy.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n## Energy\n");
    let _ = writeln!(out, "Source: {}\n", m.energy[0].source);
    let table = |out: &mut String, (headers, rows): (Vec<&str>, Vec<Vec<String>>)| {
        let _ = writeln!(out, "| {} |", headers.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(headers.len()));
        for r in rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
    };
    table(out, crate::cells::energy_table(m));
    if !m.efficiency.is_empty() {
        let _ = writeln!(out, "\nEfficiency against the baseline (throughput over the working interval):\n");
        table(out, crate::cells::efficiency_table(m));
    }
    if !m.energy_comparisons.is_empty() || !m.efficiency.is_empty() {
        let _ = writeln!(out);
    }
    for c in &m.energy_comparisons {
        let _ = writeln!(out, "- {}", c.sentence);
    }
    for e in &m.efficiency {
        let _ = writeln!(out, "- {}", e.sentence);
    }
}

/// One line per environment × workload: the headline metric, start-up, host CPU, memory.
fn overview(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "\n## Overview\n");
    let _ = writeln!(out, "| environment | workload | metric | mean ± sd | boot/start ms | host CPU % | PSS max MiB |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for s in m.series.iter().filter(|s| s.kind.headline().0 == s.metric) {
        let value = s.summary.as_ref().map(|x| format!("{} ± {}", f(x.mean), f(x.sd))).unwrap_or_else(|| "–".into());
        let boot =
            m.boot.iter().find(|b| b.environment == s.environment).and_then(|b| b.total_ms.as_ref()).map(|x| f(x.mean));
        let host = m.host.iter().find(|h| h.environment == s.environment && h.workload == s.workload);
        let cpu = host.and_then(|h| h.cpu_mean_pct.as_ref()).map(|x| f(x.mean));
        let env = match &s.accel {
            Some(a) => format!("{} ({a})", s.environment),
            None => s.environment.clone(),
        };
        let _ = writeln!(
            out,
            "| {env} | {} | {} ({}) | {value} | {} | {} | {} |",
            s.workload,
            s.metric,
            s.unit,
            boot.unwrap_or_else(|| "–".into()),
            cpu.unwrap_or_else(|| "–".into()),
            opt(host.and_then(|h| h.pss_max_mib))
        );
    }
}

/// Renders the whole Markdown report.
pub fn render(m: &ReportModel) -> String {
    let mut out = String::new();
    summary(&mut out, m);
    if let Some(c) = &m.capacity {
        crate::capacity::markdown(&mut out, c);
    }
    // A capacity run's trials are its steps' streams, not series: no series tables then.
    if !m.series.is_empty() {
        overview(&mut out, m);
        metric_sections(&mut out, m);
        sweeps(&mut out, m);
        energy(&mut out, m);
        host(&mut out, m);
        boot(&mut out, m);
        cumulative_sd(&mut out, m);
    }
    system(&mut out, m);
    out
}

/// The title, the headline sentences and the run's warnings.
fn summary(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "# sandbench report: {} ({})\n", m.run_id, m.state);
    let _ = writeln!(out, "## Summary\n");
    for h in &m.headlines {
        let _ = writeln!(out, "- {h}");
    }
    if !m.warnings.is_empty() {
        let _ = writeln!(out, "\n**Warnings**\n");
        for w in &m.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
}

/// One section per workload × metric: the series table, why it stopped, the verdicts.
fn metric_sections(out: &mut String, m: &ReportModel) {
    let mut workloads: Vec<(String, String)> = Vec::new();
    for s in &m.series {
        if !workloads.iter().any(|(w, mt)| *w == s.workload && *mt == s.metric) {
            workloads.push((s.workload.clone(), s.metric.clone()));
        }
    }
    for (wl, metric) in &workloads {
        let rows: Vec<&Series> = m.series.iter().filter(|s| &s.workload == wl && &s.metric == metric).collect();
        let first = rows[0];
        let better = if first.higher_is_better { "higher is better" } else { "lower is better" };
        let _ = writeln!(out, "\n## {wl}: {metric} ({}, {better})\n", first.unit);
        series_table(out, &rows);
        let stops: Vec<String> =
            rows.iter().filter_map(|s| s.stop.as_ref().map(|why| format!("{}: {why}", s.environment))).collect();
        if !stops.is_empty() {
            let _ = writeln!(out, "\nStopping rule: {}.", stops.join("; "));
        }
        comparisons_table(out, m, wl, metric, first);
    }
}

/// The comparisons of one workload's headline metric against the baseline.
fn comparisons_table(out: &mut String, m: &ReportModel, wl: &str, metric: &str, first: &Series) {
    let comps: Vec<_> = m.comparisons.iter().filter(|c| c.workload == wl && c.metric == metric).collect();
    if !comps.is_empty() && first.kind.headline().0 == metric {
        let _ = writeln!(
            out,
            "\nAgainst `{}` (equivalence margin ±{:.0} %; {}; permutation checks with {} resamples):\n",
            comps[0].baseline,
            m.margin * 100.0,
            crate::model::family_note(&comps[0].comparison),
            m.resamples
        );
        let _ = writeln!(out, "| environment | ratio | CI | p (adjusted) | Hedges' g | TOST p | verdict |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for c in comps {
            let x = &c.comparison;
            let ci = x.ratio_ci.map(|ci| format!("{:.3}–{:.3}", ci.lo, ci.hi)).unwrap_or_else(|| "–".into());
            let warn = if c.validity.reasons.is_empty() {
                String::new()
            } else {
                format!(" (WARN: {})", c.validity.reasons.join("; "))
            };
            let _ = writeln!(
                out,
                "| {} | {:.3} | {ci} | {:.4} | {:.2} | {:.4} | {:?}{warn} |",
                c.environment, x.ratio, x.p_adjusted, x.effect_size, x.tost_p, x.verdict
            );
        }
    }
}

/// Metric by parameter, where workloads of one kind differ in one number.
fn sweeps(out: &mut String, m: &ReportModel) {
    for sw in &m.sweeps {
        let _ = writeln!(out, "\n## {} by {} ({} in {})\n", sw.kind, sw.parameter, sw.metric, sw.unit);
        if !sw.fixed.is_empty() {
            let _ = writeln!(out, "All points: {}\n", sw.fixed);
        }
        let mut xs: Vec<f64> = sw.lines.iter().flat_map(|(_, p)| p.iter().map(|x| x.0)).collect();
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        let header: Vec<String> = xs.iter().map(|x| format!("{} = {x}", sw.parameter)).collect();
        let _ = writeln!(out, "| environment | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|{}", "---|".repeat(xs.len()));
        for (env, pts) in &sw.lines {
            let cells: Vec<String> = xs
                .iter()
                .map(|x| pts.iter().find(|p| p.0 == *x).map(|p| f(p.1)).unwrap_or_else(|| "–".into()))
                .collect();
            let _ = writeln!(out, "| {env} | {} |", cells.join(" | "));
        }
    }
}

/// Host CPU and memory per environment × workload.
fn host(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "\n## Host CPU and memory\n");
    let _ = writeln!(
        out,
        "CPU in percent where 100 % is one core, sampled from the host over each trial: from the sandbox's cgroup where it has one (what `docker stats` reads), and from its host processes by /proc. \"CPU while busy\" is the AI paper's method: the mean of only the samples at or above 100 %, leaving out loading and idle time; it is never lower than the plain mean beside it.\n"
    );
    let _ = writeln!(
        out,
        "| environment | workload | mean host CPU % | CPU while busy % (AI paper's method) | host processes CPU % | first ≥ 200 % at | PSS max MiB | cgroup max MiB | working set max MiB |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for h in &m.host {
        let cpu = h.cpu_mean_pct.as_ref().map(|s| format!("{} ± {}", f(s.mean), f(s.sd))).unwrap_or_else(|| "–".into());
        let cross = h.first_200pct_ms.map(|v| format!("{} ms", f(v))).unwrap_or_else(|| "never".into());
        let _ = writeln!(
            out,
            "| {} | {} | {cpu} | {} | {} | {cross} | {} | {} | {} |",
            h.environment,
            h.workload,
            crate::model::busy_cell(h),
            opt(h.tree_cpu_mean_pct),
            opt(h.pss_max_mib),
            opt(h.cgroup_mem_max_mib),
            opt(h.cgroup_working_set_max_mib)
        );
    }
}

/// Start-up of each environment's sandboxes.
fn boot(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "\n## Start-up (launch → agent ready)\n");
    let _ = writeln!(out, "| environment | launches | total ms | before kernel ms | kernel ms | guest userspace ms |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for b in &m.boot {
        let total = b
            .total_ms
            .as_ref()
            .map(|s| if s.n > 1 { format!("{} ± {}", f(s.mean), f(s.sd)) } else { f(s.mean) })
            .unwrap_or_else(|| "–".into());
        let part = |k: &str| b.split_ms.get(k).map(|v| f(*v)).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            out,
            "| {} | {} | {total} | {} | {} | {} |",
            b.environment,
            b.launches,
            part("before_kernel_ms"),
            part("kernel_ms"),
            part("guest_userspace_ms")
        );
    }
}

/// The standard deviation as trials accumulate.
fn cumulative_sd(out: &mut String, m: &ReportModel) {
    let steps = m.series.iter().map(|s| s.cumulative_sd.len()).max().unwrap_or(0);
    if steps > 0 {
        let _ = writeln!(out, "\n## Standard deviation as trials accumulate\n");
        let header: Vec<String> = (1..=steps).map(|k| format!("n = {}", k * 10)).collect();
        let _ = writeln!(out, "| environment | workload | metric | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|---|---|{}", "---|".repeat(steps));
        for s in m.series.iter().filter(|s| !s.cumulative_sd.is_empty()) {
            let cells: Vec<String> = (0..steps)
                .map(|i| s.cumulative_sd.get(i).map(|(_, sd)| f(*sd)).unwrap_or_else(|| "–".into()))
                .collect();
            let _ = writeln!(out, "| {} | {} | {} | {} |", s.environment, s.workload, s.metric, cells.join(" | "));
        }
    }
}

/// The host, versions and image the run used.
fn system(out: &mut String, m: &ReportModel) {
    let _ = writeln!(out, "\n## System\n");
    let _ = writeln!(out, "| | |\n|---|---|");
    for (k, v) in m.system.iter().chain(m.versions.iter()).chain(m.image.iter()) {
        let _ = writeln!(out, "| {k} | {} |", v.replace('|', "/"));
    }
}
