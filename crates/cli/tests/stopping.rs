//! `trials = { min, max, precision }`: each series runs until its mean is precise enough, no
//! longer, and the records, the manifest and the report say why it stopped.

mod common;
use common::*;
use sandbench_spec::{Manifest, Status, Stop};

const CAMPAIGN: &str = r#"
name = "stopping"
trials = { min = 3, max = 8, precision = 0.25 }
warmup = 1
order = "interleaved"
[[environment]]
name = "native"
driver = "native"
[[environment]]
name = "runc"
driver = "oci"
runtime = "runc"
[[workload]]
name = "cpu"
kind = "cpu"
params = { threads = 1, events = 400, max_prime = 5000 }
[[workload]]
name = "noop"
kind = "noop"
"#;

#[test]
fn each_series_stops_when_its_mean_is_precise_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "stopping.toml", CAMPAIGN);
    let (code, run, _) = run_campaign(&campaign, &tmp.path().join("out"));
    assert_eq!(code, Some(0));
    let rs = records(&run);
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for env in ["native", "runc"] {
        for wl in ["cpu", "noop"] {
            let measured: Vec<_> =
                rs.iter().filter(|r| r.key.environment == env && r.key.workload == wl && !r.dims.warmup).collect();
            assert!(measured.iter().all(|r| r.status == Status::Ok), "{env} {wl}");
            let metric = if wl == "cpu" { "events_per_s" } else { "host_wall_ms" };
            let values: Vec<f64> = measured.iter().map(|r| r.metric(metric).unwrap()).collect();
            let n = values.len();
            assert!((3..=8).contains(&n), "{env} {wl}: {n} trials");
            // Stopped at the first n ≥ min whose half-width met the target, or at max.
            let hw = |k: usize| sandbench_spec::trials::relative_half_width(&values[..k]);
            for k in 3..n {
                assert!(hw(k) > 0.25, "{env} {wl}: precise at n = {k} but ran to {n}");
            }
            let stop = manifest.stops[&format!("{env}/{wl}")];
            match stop {
                Stop::PrecisionReached { n: at, half_width } => {
                    assert_eq!(at, n);
                    assert!(half_width <= 0.25 && (half_width - hw(n)).abs() < 1e-12);
                }
                Stop::MaxReached { n: at, .. } => assert!(at == 8 && n == 8 && hw(8) > 0.25),
                other => panic!("{env} {wl}: {other:?}"),
            }
            // The last trial carries the reason; none before it does.
            assert_eq!(measured.last().unwrap().stop, Some(stop), "{env} {wl}");
            assert!(measured[..n - 1].iter().all(|r| r.stop.is_none()));
            assert!(report.contains(&format!("{env}: {}", stop.describe())), "{report}");
        }
    }
    // A CPU-bound series natively reaches ±25 % before the maximum even on a loaded CI machine
    // (±10 % was missed at n = 6 once, half-width 10.04 %, while the suite ran in parallel): its
    // CV would have to exceed about 25 % to miss it. noop (CV ≈ 45 %) usually runs to the max,
    // so both branches of the rule are exercised.
    assert!(matches!(manifest.stops["native/cpu"], Stop::PrecisionReached { .. }), "{:?}", manifest.stops);
}
