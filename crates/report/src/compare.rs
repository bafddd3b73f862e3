//! `sandbench compare A B`: two results folders side by side, pairing series only when their
//! conditions match (same environment name, workload, metric, driver, accel, vcpus, memory,
//! parameters).

use crate::model::latest;
use sandbench_spec::{Status, TrialRecord};
use sandbench_stats::{adjust_family, compare, Comparison};
use std::fmt::Write;

/// What makes two series comparable.
fn condition(r: &TrialRecord) -> String {
    format!(
        "{}|{}|{}|{:?}|{:?}|{}|{}|{}",
        r.key.environment,
        r.key.workload,
        r.dims.driver.as_str(),
        r.dims.accel,
        r.dims.runtime,
        r.dims.vcpus,
        r.dims.memory_mib,
        serde_json::Value::Object(r.dims.params.clone())
    )
}

fn values(records: &[TrialRecord], cond: &str, metric: &str) -> Vec<f64> {
    latest(records)
        .into_iter()
        .filter(|r| !r.dims.warmup && r.status == Status::Ok && condition(r) == cond)
        .filter_map(|r| {
            if metric == "host_wall_ms" {
                Some(r.host_wall_ms)
            } else {
                r.metrics.get(metric).map(|m| m.value)
            }
        })
        .collect()
}

/// One paired series.
pub struct Pair {
    pub environment: String,
    pub workload: String,
    pub metric: String,
    pub comparison: Comparison,
}

/// Pairs every condition present in both runs; B is compared against A.
pub fn pairs(a: &[TrialRecord], b: &[TrialRecord], margin: f64, resamples: usize) -> (Vec<Pair>, Vec<String>) {
    let mut conds: Vec<(String, &TrialRecord)> = Vec::new();
    for r in a {
        let c = condition(r);
        if !conds.iter().any(|x| x.0 == c) {
            conds.push((c, r));
        }
    }
    let b_conds: Vec<String> = b.iter().map(condition).collect();
    let mut out = Vec::new();
    let mut unmatched = Vec::new();
    for (c, r) in &conds {
        if !b_conds.contains(c) {
            unmatched
                .push(format!("{} / {}: only in A or with different conditions", r.key.environment, r.key.workload));
            continue;
        }
        let metric = r.dims.kind.headline().0;
        let (va, vb) = (values(a, c, metric), values(b, c, metric));
        out.push(Pair {
            environment: r.key.environment.clone(),
            workload: r.key.workload.clone(),
            metric: metric.to_string(),
            comparison: compare(&vb, &va, margin, resamples, out.len() as u64 + 1),
        });
    }
    for r in b {
        let c = condition(r);
        if !conds.iter().any(|x| x.0 == c) {
            let line = format!("{} / {}: only in B or with different conditions", r.key.environment, r.key.workload);
            if !unmatched.contains(&line) {
                unmatched.push(line);
            }
        }
    }
    let mut refs: Vec<&mut Comparison> = out.iter_mut().map(|p| &mut p.comparison).collect();
    adjust_family(&mut refs);
    (out, unmatched)
}

/// Markdown table of the pairs.
pub fn render(a_name: &str, b_name: &str, pairs: &[Pair], unmatched: &[String], margin: f64) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# sandbench compare\n\nA = {a_name}\nB = {b_name}\n");
    let note = pairs.first().map(|p| crate::model::family_note(&p.comparison)).unwrap_or_default();
    let _ = writeln!(o, "B against A, equivalence margin ±{:.0} %; {note}.\n", margin * 100.0);
    let _ = writeln!(o, "| environment | workload | metric | mean A | mean B | B / A | CI | p (adjusted) | verdict |");
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for p in pairs {
        let c = &p.comparison;
        let ci = c.ratio_ci.map(|ci| format!("{:.3}–{:.3}", ci.lo, ci.hi)).unwrap_or_else(|| "–".into());
        let _ = writeln!(
            o,
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} | {ci} | {:.4} | {:?} |",
            p.environment, p.workload, p.metric, c.mean_baseline, c.mean, c.ratio, c.p_adjusted, c.verdict
        );
    }
    if !unmatched.is_empty() {
        let _ = writeln!(o, "\nNot paired (conditions differ or missing):\n");
        for u in unmatched {
            let _ = writeln!(o, "- {u}");
        }
    }
    o
}
