//! CSV files for spreadsheets: `series.csv` (one row per series) and `trials.csv` (one row per
//! trial, every metric a column).

use crate::model::ReportModel;
use sandbench_spec::TrialRecord;
use std::collections::BTreeSet;

fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn num(x: Option<f64>) -> String {
    x.map(|v| format!("{v}")).unwrap_or_default()
}

pub fn series_csv(m: &ReportModel) -> String {
    let mut out = String::from(
        "environment,workload,metric,unit,n,mean,sd,cv,min,median,p90,p95,p99,max,ci_lo,ci_hi,failed,validity\n",
    );
    for s in &m.series {
        let x = s.summary.as_ref();
        let cols = [
            cell(&s.environment),
            cell(&s.workload),
            cell(&s.metric),
            cell(&s.unit),
            x.map(|x| x.n.to_string()).unwrap_or_else(|| "0".into()),
            num(x.map(|x| x.mean)),
            num(x.map(|x| x.sd)),
            num(x.map(|x| x.cv)),
            num(x.map(|x| x.min)),
            num(x.map(|x| x.median)),
            num(x.map(|x| x.p90)),
            num(x.map(|x| x.p95)),
            num(x.map(|x| x.p99)),
            num(x.map(|x| x.max)),
            num(s.ci.map(|c| c.lo)),
            num(s.ci.map(|c| c.hi)),
            s.failed.to_string(),
            cell(format!("{} {}", s.validity.status, s.validity.reasons.join("; ")).trim()),
        ];
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    out
}

pub fn trials_csv(records: &[TrialRecord]) -> String {
    let metrics: BTreeSet<&String> = records.iter().flat_map(|r| r.metrics.keys()).collect();
    let mut out = String::from("environment,workload,index,attempt,trial,warmup,status,driver,accel,host_wall_ms,guest_wall_ms,host_cpu_mean_pct,pss_max_kib,boot_ms");
    for m in &metrics {
        out.push(',');
        out.push_str(&cell(m));
    }
    out.push('\n');
    for r in records {
        let host = r.host.as_ref();
        let mut cols = vec![
            cell(&r.key.environment),
            cell(&r.key.workload),
            r.key.index.to_string(),
            r.attempt.to_string(),
            r.dims.trial.to_string(),
            r.dims.warmup.to_string(),
            format!("{:?}", r.status).to_lowercase(),
            cell(r.dims.driver.as_str()),
            r.dims.accel.map(|a| a.as_str().to_string()).unwrap_or_default(),
            format!("{}", r.host_wall_ms),
            num(r.guest_wall_ms),
            num(host.map(|h| h.cpu_mean_pct)),
            host.and_then(|h| h.pss_max_kib).map(|v| v.to_string()).unwrap_or_default(),
            num(r.launch.as_ref().filter(|l| l.fresh).map(|l| l.boot.total_ms)),
        ];
        for m in &metrics {
            cols.push(num(r.metrics.get(*m).map(|x| x.value)));
        }
        out.push_str(&cols.join(","));
        out.push('\n');
    }
    out
}
