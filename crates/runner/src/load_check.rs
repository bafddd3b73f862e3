//! A trial under a load scenario (`workloads::load`): the per-query latencies are the guest's
//! word, but the window, the query count and the histogram's size are checked against the
//! host's clock and the schedule the host computes from the parameters it sent. A guest whose
//! figures cannot hold has its trial failed, and the record says which figure is which.

use sandbench_protocol::Histogram;
use sandbench_spec::{LoadCheck, Status, TrialRecord, WorkloadSpec};
use sandbench_workloads::load::{poisson_arrivals, split, Load, Scenario, MAX_QUERIES};

/// Slack between the guest's window and the host's wall time (clock reads, message latency).
const SLACK_S: f64 = 0.5;

/// Queries (or frames) `load` offers, as the host computes them; `None` for a single stream.
pub fn offered(load: &Load) -> Option<u64> {
    match load.scenario {
        Scenario::Server { rate, seed, .. } => {
            Some(poisson_arrivals(rate, seed, load.duration_s, MAX_QUERIES as usize).len() as u64)
        }
        Scenario::FixedRate { fps } => Some(((load.duration_s * fps).ceil() as u64).clamp(1, MAX_QUERIES)),
        Scenario::Idle => Some(0),
        Scenario::SingleStream => None,
    }
}

/// Fills `record.load` for a workload with a scenario and fails the trial when the guest's
/// figures contradict the host's.
pub(crate) fn check(record: &mut TrialRecord, wl: &WorkloadSpec) {
    let Ok((Some(load), _)) = split(wl.kind, &wl.params) else { return };
    let offered = offered(&load);
    record.load = Some(LoadCheck {
        scenario: load.scenario.kind(),
        offered,
        host_checked: ["window_s", "queries", "dropped", "skipped_frames", "histogram count"].map(String::from).into(),
        guest_word: ["latency_*", "histogram", "late", "deadline_misses", "miss_ratio"].map(String::from).into(),
    });
    if record.status != Status::Ok {
        return;
    }
    if let Some(why) = contradiction(record, &load, offered) {
        record.status = Status::Failed;
        record.error = Some(format!("load scenario: the guest's figures do not hold: {why}"));
    }
}

fn contradiction(r: &TrialRecord, load: &Load, offered: Option<u64>) -> Option<String> {
    let m = |k: &str| r.metrics.get(k).map(|m| m.value);
    let host_s = r.host_wall_ms / 1e3;
    let window = m("window_s")?;
    if !(window.is_finite() && window <= host_s + SLACK_S) {
        return Some(format!("a window of {window} s in a trial the host saw take {host_s:.3} s"));
    }
    let queries = m("queries").unwrap_or(-1.0);
    // Only the query cap may end a window early.
    if window + SLACK_S < load.duration_s && queries < MAX_QUERIES as f64 {
        return Some(format!("a window of {window} s, shorter than the scenario's {} s", load.duration_s));
    }
    let unanswered = m("dropped").or(m("skipped_frames")).unwrap_or(0.0);
    let consistent = match (load.scenario, offered) {
        (Scenario::Server { .. }, Some(o)) => queries + unanswered == o as f64,
        (Scenario::FixedRate { .. }, Some(o)) => queries >= 1.0 && queries + unanswered == o as f64,
        (Scenario::Idle, _) => queries == 0.0,
        _ => queries >= 0.0 && m("latency_avg").unwrap_or(0.0) * queries <= window * 1e3 * 1.01 + 1.0,
    };
    if !consistent {
        return Some(format!("{queries} queries and {unanswered} unanswered for {offered:?} offered"));
    }
    let hist: Option<Histogram> = serde_json::from_value(r.outputs.get("histogram")?.clone()).ok();
    match hist {
        Some(h) if h.count() as f64 == queries => None,
        Some(h) => Some(format!("a histogram of {} latencies for {queries} queries", h.count())),
        None => Some("no valid latency histogram".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbench_workloads::load::{drive, Queries};

    struct Quick;
    impl Queries for Quick {
        fn query(&mut self) -> Result<(), sandbench_workloads::WorkloadError> {
            Ok(())
        }
    }

    fn record_of(wl: &WorkloadSpec, host_ms: f64) -> TrialRecord {
        let (load, _) = split(wl.kind, &wl.params).unwrap();
        let o = drive(&load.unwrap(), &mut Quick).unwrap();
        let mut r: TrialRecord = serde_json::from_str(include_str!("../tests/fixtures/record.json")).unwrap();
        (r.status, r.metrics, r.outputs, r.host_wall_ms) = (Status::Ok, o.metrics, o.outputs, host_ms);
        r
    }

    fn workload(params: serde_json::Value) -> WorkloadSpec {
        serde_json::from_value(serde_json::json!({"name": "n", "kind": "noop", "params": params})).unwrap()
    }

    #[test]
    fn honest_figures_pass_and_forged_ones_fail_the_trial() {
        let wl = workload(serde_json::json!({"scenario": "server", "rate": 200, "duration_s": 0.3}));
        let mut r = record_of(&wl, 400.0);
        check(&mut r, &wl);
        assert_eq!(r.status, Status::Ok, "{:?}", r.error);
        assert_eq!(r.load.as_ref().unwrap().offered, offered(&split(wl.kind, &wl.params).unwrap().0.unwrap()));
        // A guest claiming more queries than the schedule offered.
        let mut forged = record_of(&wl, 400.0);
        forged.metrics.get_mut("queries").unwrap().value += 5.0;
        check(&mut forged, &wl);
        assert_eq!(forged.status, Status::Failed);
        // A window longer than the host saw.
        let mut long = record_of(&wl, 400.0);
        long.metrics.get_mut("window_s").unwrap().value = 5.0;
        check(&mut long, &wl);
        assert!(long.error.unwrap().contains("the host saw take"));
        let fr = workload(serde_json::json!({"scenario": "fixed_rate", "fps": 50, "duration_s": 0.2}));
        let mut r = record_of(&fr, 300.0);
        check(&mut r, &fr);
        assert_eq!(r.status, Status::Ok, "{:?}", r.error);
        r.outputs["histogram"] = serde_json::json!([[1, 3]]);
        check(&mut r, &fr);
        assert!(r.error.unwrap().contains("histogram of 3"));
    }
}
