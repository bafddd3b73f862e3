//! `report.html`: one self-contained file (inline SVG and CSS, no scripts, no network),
//! readable on a phone, a laptop and on paper.

use crate::figures;
use crate::model::ReportModel;
use std::fmt::Write;
use std::path::Path;

use crate::fmt::num as f;
pub(crate) use crate::html_parts::{esc, figure, table};

/// (seconds, cpu %) from a samples CSV.
pub fn cpu_series(csv: &str) -> Vec<(f64, f64)> {
    column(csv, "cpu_pct")
}

/// (seconds, value) of one column of a samples CSV; rows with an empty cell are left out.
pub fn column(csv: &str, name: &str) -> Vec<(f64, f64)> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let (Some(t), Some(c)) = (header.iter().position(|h| *h == "t_ms"), header.iter().position(|h| *h == name)) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            Some((cols.get(t)?.parse::<f64>().ok()? / 1e3, cols.get(c)?.parse().ok()?))
        })
        .collect()
}

pub(crate) const CSS: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:980px;padding:12px;color:#222;line-height:1.45}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
figure{margin:1em 0}figure svg{max-width:100%;height:auto;display:block}figcaption{font-size:.9em;color:#555}
.grid{display:flex;flex-wrap:wrap;gap:8px}.grid figure{flex:1 1 340px;max-width:380px}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.88em;margin:.6em 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top;white-space:nowrap}td.long{white-space:normal;min-width:16em}
th{background:#f4f4f4}.warn{color:#9a4a00}.ok{color:#17702e}ul.head li{margin:.3em 0}
@media print{body{max-width:none}h2{page-break-before:auto}figure{page-break-inside:avoid}}";

/// Host CPU over the median trial of every environment, with the host's power below it on the
/// same time axis where the run measured power (power follows CPU: the MASCOTS finding).
fn cpu_and_power_figure(o: &mut String, m: &ReportModel, dir: &Path, wl: &str) {
    let csvs: Vec<(String, String)> = m
        .host
        .iter()
        .filter(|h| h.workload == wl)
        .filter_map(|h| {
            Some((h.environment.clone(), std::fs::read_to_string(dir.join(h.representative_series.as_ref()?)).ok()?))
        })
        .collect();
    let of = |name: &str| -> Vec<(String, Vec<(f64, f64)>)> {
        csvs.iter().map(|(e, csv)| (e.clone(), column(csv, name))).filter(|(_, p)| p.len() > 1).collect()
    };
    let (cpu, power) = (of("cpu_pct"), of("power_w"));
    if cpu.is_empty() {
        return;
    }
    let cpu_axis = "CPU % (100 % = one core)";
    if power.is_empty() {
        figure(
            o,
            figures::lines(&format!("{wl}: host CPU over a trial"), cpu_axis, &cpu, Some(200.0)),
            "Host CPU of each sandbox during its median trial; the grey line is 200 % (two cores).",
        );
    } else {
        figure(
            o,
            figures::panels(
                &format!("{wl}: host CPU and power over a trial"),
                &[(cpu_axis, &cpu, Some(200.0)), ("host power W", &power, None)],
            ),
            "Host CPU of each sandbox (top) and the host's power (bottom) during its median trial, on one time axis.",
        );
    }
}

/// The energy table, a bar chart of energy per unit of work per workload, and the verdicts.
fn energy_section(o: &mut String, m: &ReportModel) {
    if m.energy.is_empty() {
        return;
    }
    o.push_str("<h2>Energy</h2>");
    let _ = write!(o, "<p>Source: {}</p>", esc(&m.energy[0].source));
    let (headers, rows) = crate::cells::energy_table(m);
    table(o, &headers, &rows);
    if !m.efficiency.is_empty() {
        o.push_str("<p>Efficiency against the baseline (throughput over the working interval):</p>");
        let (headers, rows) = crate::cells::efficiency_table(m);
        table(o, &headers, &rows);
    }
    let mut workloads: Vec<&str> = Vec::new();
    for r in &m.energy {
        if !workloads.contains(&r.workload.as_str()) {
            workloads.push(&r.workload);
        }
    }
    o.push_str("<div class=\"grid\">");
    for wl in workloads {
        let rows: Vec<&crate::energy::EnergyRow> = m.energy.iter().filter(|r| r.workload == wl).collect();
        let bars: Vec<figures::Bar> = rows
            .iter()
            .filter_map(|r| {
                r.j_per_unit.as_ref().map(|s| (r.environment.clone(), s.mean, r.j_per_unit_ci.map(|c| (c.lo, c.hi))))
            })
            .collect();
        if let (false, Some(first)) = (bars.is_empty(), rows.first()) {
            figure(
                o,
                figures::bars(&format!("{wl}: energy per {}", first.unit), &format!("J/{}", first.unit), &bars),
                "Mean energy per unit of work over the working interval, with its 95 % bootstrap CI.",
            );
        }
    }
    o.push_str("</div><ul>");
    for s in m.energy_comparisons.iter().map(|c| &c.sentence).chain(m.efficiency.iter().map(|e| &e.sentence)) {
        let _ = write!(o, "<li>{}</li>", esc(s));
    }
    o.push_str("</ul>");
}

/// Renders the report; `dir` is the results folder (for the sample series).
pub fn render(m: &ReportModel, dir: &Path) -> String {
    let mut o = String::new();
    head_and_summary(&mut o, m);
    if let Some(c) = &m.capacity {
        crate::capacity::html(&mut o, c);
    }
    if !m.series.is_empty() {
        let workloads = workloads(m);
        for wl in &workloads {
            workload_section(&mut o, m, dir, wl);
        }
        sweeps(&mut o, m);
        energy_section(&mut o, m);
        host_section(&mut o, m, &workloads);
        startup(&mut o, m);
        cumulative_sd(&mut o, m);
    }
    system(&mut o, m);
    o
}

/// The document head, the title, the headline sentences and the warnings.
fn head_and_summary(o: &mut String, m: &ReportModel) {
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>sandbench {}</title><style>{CSS}</style></head><body>",
        esc(&m.run_id)
    );
    let _ = write!(o, "<h1>sandbench report: {} <small>({})</small></h1>", esc(&m.run_id), esc(&m.state));
    o.push_str("<h2>Summary</h2><ul class=\"head\">");
    for h in &m.headlines {
        let _ = write!(o, "<li>{}</li>", esc(h));
    }
    o.push_str("</ul>");
    if !m.warnings.is_empty() {
        o.push_str("<p class=\"warn\"><b>Warnings</b></p><ul>");
        for w in &m.warnings {
            let _ = write!(o, "<li class=\"warn\">{}</li>", esc(w));
        }
        o.push_str("</ul>");
    }
}

/// The workloads in the order the series list them.
fn workloads(m: &ReportModel) -> Vec<String> {
    let mut workloads: Vec<String> = Vec::new();
    for s in &m.series {
        if !workloads.contains(&s.workload) {
            workloads.push(s.workload.clone());
        }
    }
    workloads
}

/// One workload: its headline metric per environment, distributions, verdicts, CPU and power.
fn workload_section(o: &mut String, m: &ReportModel, dir: &Path, wl: &str) {
    let heads: Vec<_> = m.series.iter().filter(|s| s.workload == wl && s.kind.headline().0 == s.metric).collect();
    let Some(first) = heads.first() else { return };
    let better = if first.higher_is_better { "higher is better" } else { "lower is better" };
    let _ = write!(o, "<h2>{}: {} ({better})</h2>", esc(wl), esc(&first.metric));
    let bars: Vec<figures::Bar> = heads
        .iter()
        .filter_map(|s| s.summary.as_ref().map(|x| (s.environment.clone(), x.mean, s.ci.map(|c| (c.lo, c.hi)))))
        .collect();
    figure(
        o,
        figures::bars(&format!("{wl}: mean {}", first.metric), &first.unit, &bars),
        "Mean per environment with its 95 % bootstrap confidence interval.",
    );
    o.push_str("<div class=\"grid\">");
    for (i, s) in heads.iter().enumerate().filter(|(_, s)| s.values.len() > 1) {
        figure(
            o,
            figures::histogram(&s.environment, &s.unit, &s.values, i),
            &format!("{}: distribution of {} trials with the fitted normal curve", s.environment, s.values.len()),
        );
    }
    o.push_str("</div>");
    let rows: Vec<Vec<String>> = heads.iter().map(|s| series_row(s)).collect();
    table(o, &["environment", "driver", "n", "mean ± sd", "CI", "median", "p95", "CV", "validity"], &rows);
    let comps = comparison_rows(m, wl);
    if !comps.is_empty() {
        let _ = write!(
            o,
            "<p>Against <b>{}</b> (equivalence margin ±{:.0} %; {}):</p>",
            esc(m.baseline.as_deref().unwrap_or("")),
            m.margin * 100.0,
            esc(&m
                .comparisons
                .iter()
                .find(|c| c.workload == wl)
                .map(|c| crate::model::family_note(&c.comparison))
                .unwrap_or_default())
        );
        table(o, &["environment", "ratio", "CI", "p (adjusted)", "Hedges' g", "TOST p", "verdict"], &comps);
    }
    cpu_and_power_figure(o, m, dir, wl);
}

/// One environment's row of a workload's headline table.
fn series_row(s: &crate::model::Series) -> Vec<String> {
    let x = s.summary.as_ref();
    vec![
        s.environment.clone(),
        s.accel.map(|a| format!("{} ({a})", s.driver)).unwrap_or_else(|| s.driver.to_string()),
        match (x, &s.stop) {
            (Some(x), Some(why)) => format!("{} ({})", x.n, why),
            (Some(x), None) => x.n.to_string(),
            (None, _) => "0".into(),
        },
        x.map(|x| format!("{} ± {}", f(x.mean), f(x.sd))).unwrap_or_else(|| "–".into()),
        s.ci.map(|c| format!("{}–{}", f(c.lo), f(c.hi))).unwrap_or_else(|| "–".into()),
        x.map(|x| f(x.median)).unwrap_or_default(),
        x.map(|x| f(x.p95)).unwrap_or_default(),
        x.map(|x| format!("{:.1} %", x.cv * 100.0)).unwrap_or_default(),
        if s.validity.reasons.is_empty() { "VALID".into() } else { format!("WARN: {}", s.validity.reasons.join("; ")) },
    ]
}

/// The rows of a workload's comparisons against the baseline.
fn comparison_rows(m: &ReportModel, wl: &str) -> Vec<Vec<String>> {
    m.comparisons
        .iter()
        .filter(|c| c.workload == wl)
        .map(|c| {
            let x = &c.comparison;
            vec![
                c.environment.clone(),
                format!("{:.3}", x.ratio),
                x.ratio_ci.map(|ci| format!("{:.3}–{:.3}", ci.lo, ci.hi)).unwrap_or_else(|| "–".into()),
                format!("{:.4}", x.p_adjusted),
                format!("{:.2}", x.effect_size),
                format!("{:.4}", x.tost_p),
                c.sentence.clone(),
            ]
        })
        .collect()
}

/// Metric by parameter, where workloads of one kind differ in one number.
fn sweeps(o: &mut String, m: &ReportModel) {
    for sw in &m.sweeps {
        let _ = write!(o, "<h2>{} by {}</h2>", esc(sw.kind.name()), esc(&sw.parameter));
        if !sw.fixed.is_empty() {
            let _ = write!(o, "<p>All points: {}</p>", esc(&sw.fixed));
        }
        let lines: Vec<(String, Vec<(f64, f64)>)> =
            sw.lines.iter().map(|(e, p)| (e.clone(), p.iter().map(|x| (x.0, x.1)).collect())).collect();
        figure(
            o,
            figures::sweep(
                &format!("{}: {} by {}", sw.kind, sw.metric, sw.parameter),
                &sw.parameter,
                &format!("{} ({})", sw.metric, sw.unit),
                &lines,
            ),
            "Mean per environment at each parameter value.",
        );
    }
}

/// Host CPU per workload, memory footprint and the host table.
fn host_section(o: &mut String, m: &ReportModel, workloads: &[String]) {
    o.push_str("<h2>Host CPU and memory</h2>");
    for wl in workloads {
        let cpu: Vec<figures::Bar> = m
            .host
            .iter()
            .filter(|h| &h.workload == wl)
            .filter_map(|h| {
                h.cpu_mean_pct.as_ref().map(|s| (h.environment.clone(), s.mean, Some((s.mean - s.sd, s.mean + s.sd))))
            })
            .collect();
        if !cpu.is_empty() {
            figure(
                o,
                figures::bars(&format!("{wl}: mean host CPU"), "% (100 % = one core)", &cpu),
                "Mean host CPU per trial, ± one standard deviation.",
            );
        }
    }
    let mem: Vec<figures::Bar> = {
        let mut v: Vec<figures::Bar> = Vec::new();
        for h in &m.host {
            if let Some(p) = h.pss_max_mib {
                match v.iter_mut().find(|x| x.0 == h.environment) {
                    Some(x) => x.1 = x.1.max(p),
                    None => v.push((h.environment.clone(), p, None)),
                }
            }
        }
        v
    };
    if !mem.is_empty() {
        figure(
            o,
            figures::bars("memory footprint: peak PSS of host-side processes", "MiB", &mem),
            "Peak proportional set size of every host-side process of the sandbox (VMM, runtime, agent).",
        );
    }
    let rows: Vec<Vec<String>> = m
        .host
        .iter()
        .map(|h| {
            vec![
                h.environment.clone(),
                h.workload.clone(),
                h.cpu_mean_pct.as_ref().map(|s| format!("{} ± {}", f(s.mean), f(s.sd))).unwrap_or_else(|| "–".into()),
                crate::model::busy_cell(h),
                h.tree_cpu_mean_pct.map(f).unwrap_or_else(|| "–".into()),
                h.first_200pct_ms.map(|v| format!("{} ms", f(v))).unwrap_or_else(|| "never".into()),
                h.pss_max_mib.map(f).unwrap_or_else(|| "–".into()),
                h.cgroup_mem_max_mib.map(f).unwrap_or_else(|| "–".into()),
                h.cgroup_working_set_max_mib.map(f).unwrap_or_else(|| "–".into()),
            ]
        })
        .collect();
    table(
        o,
        &[
            "environment",
            "workload",
            "mean host CPU %",
            "CPU while busy % (AI paper's method: samples ≥ 100 % only)",
            "host processes CPU %",
            "first ≥ 200 %",
            "PSS max MiB",
            "cgroup max MiB",
            "working set max MiB (docker stats)",
        ],
        &rows,
    );
}

/// Start-up phases per environment.
fn startup(o: &mut String, m: &ReportModel) {
    o.push_str("<h2>Start-up</h2>");
    let parts = ["before_kernel_ms", "kernel_ms", "guest_userspace_ms"];
    let boot_rows: Vec<(String, Vec<f64>)> = m
        .boot
        .iter()
        .filter_map(|b| {
            let total = b.total_ms.as_ref()?.mean;
            Some(if b.split_ms.contains_key("kernel_ms") {
                (b.environment.clone(), parts.iter().map(|p| b.split_ms.get(*p).copied().unwrap_or(0.0)).collect())
            } else {
                // Containers and native: no guest kernel, the whole start is the runtime's.
                (b.environment.clone(), vec![total, 0.0, 0.0])
            })
        })
        .collect();
    if !boot_rows.is_empty() {
        figure(
            o,
            figures::stacked(
                "start-up phases (launch → agent ready)",
                "ms",
                &["runtime / VMM (before kernel)", "guest kernel", "guest userspace"],
                &boot_rows,
            ),
            "Mean start-up per environment; VM phases are split with the guest's own uptime.",
        );
    }
}

/// The standard deviation as trials accumulate.
fn cumulative_sd(o: &mut String, m: &ReportModel) {
    let mut steps = 0;
    for s in &m.series {
        steps = steps.max(s.cumulative_sd.len());
    }
    if steps > 0 {
        o.push_str("<h2>Standard deviation as trials accumulate</h2>");
        let mut headers = vec!["environment".to_string(), "workload".into(), "metric".into()];
        headers.extend((1..=steps).map(|k| format!("n = {}", k * 10)));
        let rows: Vec<Vec<String>> = m
            .series
            .iter()
            .filter(|s| !s.cumulative_sd.is_empty())
            .map(|s| {
                let mut r = vec![s.environment.clone(), s.workload.clone(), s.metric.clone()];
                r.extend((0..steps).map(|i| s.cumulative_sd.get(i).map(|x| f(x.1)).unwrap_or_else(|| "–".into())));
                r
            })
            .collect();
        let h: Vec<&str> = headers.iter().map(String::as_str).collect();
        table(o, &h, &rows);
    }
}

/// The host, versions and image the run used, and the footer.
fn system(o: &mut String, m: &ReportModel) {
    o.push_str("<h2>System</h2>");
    let rows: Vec<Vec<String>> = m
        .system
        .iter()
        .chain(m.versions.iter())
        .chain(m.image.iter())
        .map(|(k, v)| vec![k.clone(), v.clone()])
        .collect();
    table(o, &["", ""], &rows);
    o.push_str("<p><small>Generated by sandbench; statistics: Welch's t on log values with Bonferroni-simultaneous intervals, permutation checks, bootstrap CIs of means (see docs).</small></p></body></html>");
}
