//! The report of a fleet run (`sandbench report results/<fleet-run>`): the host is a
//! dimension. Per workload, every environment's headline metric on every device side by side
//! (a table and one bar chart, environment × host); each environment's comparison stays
//! within its own host (against that host's baseline); a cross-host table of the baseline
//! itself; and warnings where hosts ran different sandbench versions or guest images. Each
//! host's own full report stays in its folder and is linked.

use crate::fmt::num;
use crate::model::ReportModel;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One host of the fleet run.
pub struct HostRun {
    pub host: String,
    /// Its state in the fleet manifest (`complete`, `unreachable: …`).
    pub state: String,
    /// Architecture, cores, memory, kernel, KVM.
    pub facts: serde_json::Map<String, serde_json::Value>,
    /// Its run's report model, when its results came back.
    pub model: Option<ReportModel>,
    /// Its own report, relative to the fleet run's folder.
    pub report: Option<String>,
    /// The sandbench version and guest image (key) its run recorded.
    pub sandbench_version: Option<String>,
    pub image: Option<String>,
}

/// The tables both exporters print, built once.
#[derive(serde::Serialize)]
pub struct FleetTables {
    pub hosts: (Vec<String>, Vec<Vec<String>>),
    pub warnings: Vec<String>,
    /// Per workload: title, headers, rows (environment × host).
    pub workloads: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
    /// Per workload, each environment's ratio to its own host's baseline.
    pub within_host: Vec<(String, Vec<String>, Vec<Vec<String>>)>,
    pub baseline: (Vec<String>, Vec<Vec<String>>),
    /// Per workload: (label "env @ host", mean, CI) for the bar chart.
    #[serde(skip)]
    pub bars: Vec<(String, String, Vec<crate::figures::Bar>)>,
}

fn fact(h: &HostRun, k: &str) -> String {
    h.facts
        .get(k)
        .map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))
        .unwrap_or_else(|| "–".into())
}

/// Builds every table of the fleet report.
pub fn tables(hosts: &[HostRun]) -> FleetTables {
    let names: Vec<String> = hosts.iter().map(|h| h.host.clone()).collect();
    let host_rows = hosts
        .iter()
        .map(|h| {
            vec![
                h.host.clone(),
                fact(h, "architecture"),
                fact(h, "processor_vcpus"),
                fact(h, "memtotal_mb"),
                fact(h, "kernel"),
                fact(h, "sb_kvm"),
                h.sandbench_version.clone().unwrap_or_else(|| "–".into()),
                h.image.clone().unwrap_or_else(|| "–".into()),
                h.state.clone(),
            ]
        })
        .collect();
    let header = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut t = FleetTables {
        hosts: (
            header(&["host", "arch", "cores", "memory MiB", "kernel", "KVM", "sandbench", "image", "state"]),
            host_rows,
        ),
        warnings: warnings(hosts),
        workloads: Vec::new(),
        within_host: Vec::new(),
        baseline: (vec!["workload".into(), "metric".into()], Vec::new()),
        bars: Vec::new(),
    };
    t.baseline.0.extend(names.iter().cloned());
    for (wl, metric) in workloads(hosts) {
        side_by_side(&mut t, hosts, &names, &wl, &metric);
    }
    t
}

/// The workloads and their headline metrics, in the first host's order.
fn workloads(hosts: &[HostRun]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for m in hosts.iter().filter_map(|h| h.model.as_ref()) {
        for s in m.series.iter().filter(|s| s.kind.headline().0 == s.metric) {
            if !out.iter().any(|(w, _)| w == &s.workload) {
                out.push((s.workload.clone(), s.metric.clone()));
            }
        }
    }
    out
}

/// One workload's tables and chart: environments × hosts.
fn side_by_side(t: &mut FleetTables, hosts: &[HostRun], names: &[String], wl: &str, metric: &str) {
    let mut envs: Vec<String> = Vec::new();
    let mut cell: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut ratio: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut bars = Vec::new();
    let mut unit = String::new();
    let mut baseline_row = vec![wl.to_string(), metric.to_string()];
    for h in hosts {
        let Some(m) = &h.model else {
            baseline_row.push("–".into());
            continue;
        };
        for s in m.series.iter().filter(|s| s.workload == wl && s.metric == metric) {
            if !envs.contains(&s.environment) {
                envs.push(s.environment.clone());
            }
            unit.clone_from(&s.unit);
            let text = match (&s.summary, &s.ci) {
                (Some(x), Some(ci)) => format!("{} [{}–{}]", num(x.mean), num(ci.lo), num(ci.hi)),
                (Some(x), None) => num(x.mean),
                _ => "–".into(),
            };
            cell.insert((s.environment.clone(), h.host.clone()), text);
            if let Some(x) = &s.summary {
                bars.push((format!("{} @ {}", s.environment, h.host), x.mean, s.ci.map(|c| (c.lo, c.hi))));
            }
        }
        for c in m.comparisons.iter().filter(|c| c.workload == wl && c.metric == metric) {
            let ci = c.comparison.ratio_ci.map(|ci| format!(" [{:.3}–{:.3}]", ci.lo, ci.hi)).unwrap_or_default();
            ratio.insert(
                (c.environment.clone(), h.host.clone()),
                format!("{:.3}{ci} {:?}", c.comparison.ratio, c.comparison.verdict),
            );
        }
        let base = m.baseline.as_deref().and_then(|b| cell.get(&(b.to_string(), h.host.clone())).cloned());
        baseline_row.push(match (&m.baseline, base) {
            (Some(b), Some(v)) => format!("{b}: {v}"),
            _ => "–".into(),
        });
    }
    let grid = |map: &BTreeMap<(String, String), String>| -> Vec<Vec<String>> {
        envs.iter()
            .map(|e| {
                let mut row = vec![e.clone()];
                row.extend(
                    names.iter().map(|h| map.get(&(e.clone(), h.clone())).cloned().unwrap_or_else(|| "–".into())),
                );
                row
            })
            .collect()
    };
    let mut headers = vec!["environment".to_string()];
    headers.extend(names.iter().cloned());
    t.workloads.push((format!("{wl}: {metric} ({unit}), mean [95 % CI]"), headers.clone(), grid(&cell)));
    t.within_host.push((format!("{wl}: ratio to each host's own baseline [CI], verdict"), headers, grid(&ratio)));
    t.baseline.1.push(baseline_row);
    bars.sort_by(|a, b| a.0.cmp(&b.0));
    t.bars.push((format!("{wl}: mean {metric}, environment × host"), unit, bars));
}

/// Hosts that ran different sandbench versions or guest images, and hosts without results.
/// Guest images are compared within an architecture: each has its own kernel and agent build.
fn warnings(hosts: &[HostRun]) -> Vec<String> {
    let mut out = Vec::new();
    type Get = fn(&HostRun) -> Option<&String>;
    let by: [(&str, Get, bool); 2] =
        [("sandbench versions", |h| h.sandbench_version.as_ref(), false), ("guest images", |h| h.image.as_ref(), true)];
    for (what, get, per_arch) in by {
        let values: Vec<(String, String, String)> = hosts
            .iter()
            .filter(|h| h.model.is_some())
            .filter_map(|h| {
                let group = if per_arch { fact(h, "architecture") } else { String::new() };
                get(h).map(|v| (group, v.clone(), h.host.clone()))
            })
            .collect();
        for (group, seen) in differing(&values) {
            let parts: Vec<String> = seen.iter().map(|(v, hs)| format!("{v} on {}", hs.join(", "))).collect();
            let whose = if group.is_empty() { "hosts".to_string() } else { format!("{group} hosts") };
            out.push(format!(
                "{whose} ran different {what}: {}; their numbers are not of the same thing",
                parts.join("; ")
            ));
        }
    }
    for h in hosts.iter().filter(|h| h.model.is_none()) {
        out.push(format!("{}: no results ({})", h.host, h.state));
    }
    out
}

/// Of (group, value, host) triples, the groups whose hosts had more than one value, with the
/// hosts of each value.
fn differing(values: &[(String, String, String)]) -> Vec<(String, BTreeMap<String, Vec<String>>)> {
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (group, value, host) in values {
        groups.entry(group.clone()).or_default().entry(value.clone()).or_default().push(host.clone());
    }
    groups.into_iter().filter(|(_, seen)| seen.len() > 1).collect()
}

/// `report.md` of a fleet run.
pub fn markdown(hosts: &[HostRun]) -> String {
    let t = tables(hosts);
    let mut o = String::new();
    let complete = hosts.iter().filter(|h| h.model.is_some()).count();
    let _ = writeln!(o, "# sandbench fleet report\n\n## Summary\n\n{complete} of {} hosts complete.\n", hosts.len());
    for w in &t.warnings {
        let _ = writeln!(o, "- WARN: {w}");
    }
    let _ = writeln!(o, "\n## Hosts\n");
    md_table(&mut o, &t.hosts.0, &t.hosts.1);
    for ((title, h, rows), (title2, h2, rows2)) in t.workloads.iter().zip(&t.within_host) {
        let _ = writeln!(o, "\n## {title}\n");
        md_table(&mut o, h, rows);
        let _ = writeln!(o, "\n{title2}:\n");
        md_table(&mut o, h2, rows2);
    }
    let _ = writeln!(o, "\n## The baseline on every host\n");
    md_table(&mut o, &t.baseline.0, &t.baseline.1);
    let _ = writeln!(o, "\n## Each host's own report\n");
    for h in hosts {
        let _ = writeln!(o, "- {}: {}", h.host, h.report.as_deref().unwrap_or("none"));
    }
    o
}

fn md_table(o: &mut String, headers: &[String], rows: &[Vec<String>]) {
    let _ = writeln!(o, "| {} |", headers.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(headers.len()));
    for r in rows {
        let _ = writeln!(o, "| {} |", r.join(" | "));
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `report.html` of a fleet run.
pub fn html(hosts: &[HostRun]) -> String {
    use crate::html::{esc, figure, table, CSS};
    let t = tables(hosts);
    let mut o = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>sandbench fleet</title><style>{CSS}</style></head><body><h1>sandbench fleet report</h1>"
    );
    for w in &t.warnings {
        let _ = write!(o, "<p class=\"warn\">WARN: {}</p>", esc(w));
    }
    o.push_str("<h2>Hosts</h2>");
    table(&mut o, &strs(&t.hosts.0), &t.hosts.1);
    for (((title, h, rows), (title2, h2, rows2)), (ftitle, unit, bars)) in
        t.workloads.iter().zip(&t.within_host).zip(&t.bars)
    {
        let _ = write!(o, "<h2>{}</h2>", esc(title));
        figure(
            &mut o,
            crate::figures::bars(ftitle, unit, bars),
            "Mean per environment and host with its 95 % bootstrap confidence interval.",
        );
        table(&mut o, &strs(h), rows);
        let _ = write!(o, "<p>{}:</p>", esc(title2));
        table(&mut o, &strs(h2), rows2);
    }
    o.push_str("<h2>The baseline on every host</h2>");
    table(&mut o, &strs(&t.baseline.0), &t.baseline.1);
    o.push_str("<h2>Each host's own report</h2><ul>");
    for h in hosts {
        match &h.report {
            Some(r) => {
                let _ = write!(o, "<li><a href=\"{}\">{}</a></li>", esc(r), esc(&h.host));
            }
            None => {
                let _ = write!(o, "<li>{}: {}</li>", esc(&h.host), esc(&h.state));
            }
        }
    }
    o.push_str("</ul></body></html>");
    o
}

#[cfg(test)]
mod tests {
    fn t(g: &str, v: &str, h: &str) -> (String, String, String) {
        (g.into(), v.into(), h.into())
    }

    #[test]
    fn images_differ_only_within_an_architecture() {
        let values = [
            t("x86_64", "2b75", "host1"),
            t("x86_64", "2b75", "host2"),
            t("aarch64", "9c6e", "host4"),
            t("aarch64", "9c6e", "board2"),
        ];
        assert!(super::differing(&values).is_empty(), "each architecture has its own image");
        let values = [t("x86_64", "2b75", "host1"), t("x86_64", "77aa", "host2"), t("aarch64", "9c6e", "host4")];
        let d = super::differing(&values);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].0, "x86_64");
        assert_eq!(d[0].1["77aa"], vec!["host2".to_string()]);
    }
}
