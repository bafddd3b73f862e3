//! `report.md`: the summary table for pull requests and papers.

use crate::table::{rows, Row};
use sandbench_spec::TrialRecord;
use std::fmt::Write;

fn mean_sd(s: &Option<sandbench_stats::Summary>) -> String {
    match s {
        Some(s) if s.n > 1 => format!("{:.2} ± {:.2}", s.mean, s.sd),
        Some(s) => format!("{:.2}", s.mean),
        None => "–".into(),
    }
}

/// Renders the summary table with a title line.
pub fn render(title: &str, records: &[TrialRecord]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {title}\n");
    let rows: Vec<Row> = rows(records);
    if rows.is_empty() {
        let _ = writeln!(out, "No trials recorded yet.");
        return out;
    }
    let _ = writeln!(out, "| environment | driver | workload | metric | mean ± sd | n ok | failed | boot/start ms | host CPU % | PSS max MiB |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let driver = match &r.accel {
            Some(a) => format!("{} ({a})", r.driver),
            None => r.driver.clone(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {} | {} |",
            r.environment,
            driver,
            r.workload,
            r.metric,
            r.unit,
            mean_sd(&r.value),
            r.ok,
            r.failed,
            mean_sd(&r.boot_ms),
            mean_sd(&r.host_cpu_pct),
            r.pss_max_mib.map(|v| format!("{v:.1}")).unwrap_or_else(|| "–".into())
        );
    }
    let _ = writeln!(out, "\nWarm-up trials are excluded; host CPU % is 100 % per core, sampled from the host; boot/start is launch → agent ready.");
    out
}
