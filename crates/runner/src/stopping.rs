//! The campaign's stopping rule, applied per series (environment × workload) as trials end:
//! the headline values of each series' successful measured trials, in trial order, and whether
//! the rule says the series is done. Pure: fed from the records already in the results folder
//! (so `--resume` keeps the rule) and from each trial as it is recorded.
//!
//! Under `interleaved` and `randomized` order a stopped series just drops out of the plan: the
//! others keep their order, so drift still spreads over every series that is still running.

use sandbench_spec::trials::series_key;
use sandbench_spec::{Status, Stop, StopRule, TrialRecord};
use std::collections::BTreeMap;

pub struct Stopping {
    rule: Option<StopRule>,
    /// Per series: (trial number, headline value) of its ok measured trials.
    values: BTreeMap<String, Vec<(u32, f64)>>,
}

impl Stopping {
    /// The rule (none for a fixed count) and the records already written.
    pub fn new(rule: Option<StopRule>, records: &[TrialRecord]) -> Stopping {
        let mut s = Stopping { rule, values: BTreeMap::new() };
        for r in records {
            s.record(r);
        }
        s
    }

    /// Takes one finished trial into account.
    pub fn record(&mut self, r: &TrialRecord) {
        if r.status != Status::Ok || r.dims.warmup {
            return;
        }
        let Some(v) = r.metric(r.dims.kind.headline().0) else { return };
        let series = self.values.entry(series_key(&r.key.environment, &r.key.workload)).or_default();
        if !series.iter().any(|(t, _)| *t == r.dims.trial) {
            series.push((r.dims.trial, v));
            series.sort_by_key(|(t, _)| *t);
        }
    }

    /// The series' headline values in trial order.
    fn values(&self, environment: &str, workload: &str) -> Vec<f64> {
        self.values
            .get(&series_key(environment, workload))
            .map(|v| v.iter().map(|(_, x)| *x).collect())
            .unwrap_or_default()
    }

    /// Where the series stands: `Continue` under a fixed count.
    pub fn judge(&self, environment: &str, workload: &str) -> Stop {
        let Some(rule) = self.rule else { return Stop::Continue };
        rule.judge(&self.values(environment, workload))
    }

    /// Why every series of the plan ended, once the plan is done: what the rule said, or that the
    /// planned trials ran out first (failed trials do not count towards `max`).
    pub fn final_stops<'a>(&self, series: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, Stop> {
        if self.rule.is_none() {
            return BTreeMap::new();
        }
        series
            .map(|(e, w)| {
                let stop = match self.judge(e, w) {
                    Stop::Continue => {
                        let values = self.values(e, w);
                        Stop::PlanEnded {
                            n: values.len(),
                            half_width: sandbench_spec::trials::relative_half_width(&values),
                        }
                    }
                    s => s,
                };
                (series_key(e, w), stop)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sandbench_protocol::Metric;

    fn record(env: &str, trial: u32, value: f64, status: Status) -> TrialRecord {
        let mut r: TrialRecord = serde_json::from_value(serde_json::json!({
            "schema": sandbench_spec::SCHEMA_VERSION,
            "key": {"environment": env, "workload": "cpu", "index": trial},
            "seq": trial, "attempt": 1,
            "dims": {"environment": env, "driver": "native", "vcpus": 1, "memory_mib": 64, "workload": "cpu",
                     "kind": "cpu", "params": {}, "trial": trial, "warmup": false, "mode": "warm"},
            "status": "ok", "started_unix_ms": 0.0, "host_wall_ms": 1.0, "metrics": {}, "outputs": null
        }))
        .unwrap();
        r.status = status;
        r.metrics.insert("events_per_s".into(), Metric::new(value, "events/s"));
        r
    }

    #[test]
    fn a_series_stops_when_precise_and_resume_sees_the_same() {
        let rule = StopRule { min: 3, max: 10, precision: 0.02 };
        let mut s = Stopping::new(Some(rule), &[]);
        for (t, v) in [(1, 100.0), (2, 101.0), (3, 99.0)] {
            s.record(&record("a", t, v, Status::Ok));
        }
        assert_eq!(s.judge("a", "cpu"), Stop::Continue);
        // A failed trial and a noisy series elsewhere change nothing here.
        s.record(&record("a", 4, 1.0, Status::Failed));
        s.record(&record("b", 1, 10.0, Status::Ok));
        s.record(&record("a", 5, 100.0, Status::Ok));
        assert!(matches!(s.judge("a", "cpu"), Stop::PrecisionReached { n: 4, .. }));
        // The same records read back (resume) give the same answer.
        let back = Stopping::new(
            Some(rule),
            &[(1, 100.0), (2, 101.0), (3, 99.0), (5, 100.0)].map(|(t, v)| record("a", t, v, Status::Ok)),
        );
        assert_eq!(back.judge("a", "cpu"), s.judge("a", "cpu"));
        let stops = s.final_stops([("a", "cpu"), ("b", "cpu")].into_iter());
        assert!(matches!(stops["b/cpu"], Stop::PlanEnded { n: 1, .. }));
    }

    #[test]
    fn a_fixed_count_never_stops_early() {
        let s = Stopping::new(None, &[record("a", 1, 1.0, Status::Ok), record("a", 2, 1.0, Status::Ok)]);
        assert_eq!(s.judge("a", "cpu"), Stop::Continue);
        assert!(s.final_stops([("a", "cpu")].into_iter()).is_empty());
    }
}
