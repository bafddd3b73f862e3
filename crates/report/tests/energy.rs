//! The energy part of the model on the checked-in quick run with energy written into its
//! records (known watts and rates), so every derived figure has a known answer: the MASCOTS
//! sentence, energy per unit against the baseline, validity from the trials' warnings and the
//! run's idle drift.

mod common;
use sandbench_report::{markdown, model, Options};
use sandbench_spec::{EnergySummary, Manifest, Status, TrialRecord, WorkEnergy};

fn load() -> (Manifest, Vec<TrialRecord>) {
    common::load(&common::fixture())
}

/// Native at 5 W and 100 events/s, runc at 5.95 W (19 % more) and 300 events/s (3×), each over
/// one second of work, with a little spread so that intervals exist.
fn with_energy(recs: &mut [TrialRecord]) {
    for r in recs.iter_mut().filter(|r| r.key.workload == "cpu" && r.status == Status::Ok) {
        let jitter = 1.0 + 0.001 * r.key.index as f64;
        let (watts, rate) = match r.key.environment.as_str() {
            "native" => (5.0 * jitter, 100.0),
            "runc" => (5.95 * jitter, 300.0),
            _ => continue,
        };
        let energy_j = watts;
        let host = r.host.get_or_insert_with(Default::default);
        host.energy = Some(EnergySummary {
            source: "command: test fixture".into(),
            energy_j,
            power_mean_w: watts,
            power_max_w: watts * 1.1,
            energy_idle_j: 4.0,
            energy_dynamic_j: energy_j - 4.0,
            energy_attributed_j: Some((energy_j - 4.0) * 0.9),
            updates: if r.key.environment == "runc" && r.key.index == 2 { 3 } else { 100 },
            domains: Default::default(),
            work: Some(WorkEnergy {
                unit: "event".into(),
                units: rate,
                from_ms: 0.0,
                energy_j,
                duration_ms: 1000.0,
                j_per_unit: energy_j / rate,
                units_per_j: rate / energy_j,
            }),
            warnings: if r.key.environment == "runc" && r.key.index == 2 {
                vec!["the power source changed 3 times during the trial (< 10)".into()]
            } else {
                vec![]
            },
        });
    }
}

#[test]
fn the_efficiency_sentence_and_energy_verdicts_come_from_the_records() {
    let (mut m, mut recs) = load();
    with_energy(&mut recs);
    m.host.insert("power_idle_drift_pct".into(), "7.5".into());
    let model = model::build(&m, &recs, &Options::default());
    assert_eq!(model.energy.len(), 2, "{:?}", model.energy);
    let eff = &model.efficiency[0];
    assert_eq!((eff.environment.as_str(), eff.baseline.as_str()), ("runc", "native"));
    assert!((eff.power_ratio - 1.19).abs() < 0.005, "{eff:?}");
    assert!((eff.throughput_ratio - 3.0).abs() < 1e-9);
    assert!((eff.work_per_joule_ratio - 3.0 / 1.19).abs() < 0.01);
    assert!(
        eff.sentence.starts_with("runc on cpu draws 19.0 % more power than native and delivers 3.00× its throughput: 2.52× the work per joule"),
        "{}",
        eff.sentence
    );
    // Energy per event: runc needs less (5.95/300 against 5/100), decided like any metric.
    let c = &model.energy_comparisons[0];
    assert_eq!(c.metric, "j_per_unit");
    assert!(c.comparison.ratio < 0.41 && c.comparison.ratio > 0.39, "{}", c.comparison.ratio);
    assert!(c.sentence.contains("on cpu energy per event"), "{}", c.sentence);
    // The trial with few updates and the run's idle drift make the row WARN, saying why.
    let runc = model.energy.iter().find(|r| r.environment == "runc").unwrap();
    assert_eq!(runc.validity.status, "WARN");
    assert!(
        runc.validity.reasons.iter().any(|w| w.starts_with("1 of 3 trials: the power source changed 3 times")),
        "{:?}",
        runc.validity.reasons
    );
    assert!(runc.validity.reasons.iter().any(|w| w.contains("idle power drifted 7.5 %")));
    assert!(model.warnings.iter().any(|w| w.contains("idle power drifted 7.5 %")));
    // The series of energy metrics exist with their units.
    let units: Vec<(&str, &str)> = model
        .series
        .iter()
        .filter(|s| s.environment == "native" && s.workload == "cpu")
        .map(|s| (s.metric.as_str(), s.unit.as_str()))
        .collect();
    for want in [("power_mean_w", "W"), ("energy_j", "J"), ("j_per_unit", "J/event"), ("units_per_j", "events/J")] {
        assert!(units.contains(&want), "{units:?}");
    }
    let md = markdown::render(&model);
    assert!(md.contains("## Energy") && md.contains("| runc | cpu | native | 1.190 | 3.000 | 2.521 |"), "{md}");
}

#[test]
fn without_energy_the_report_has_no_energy_section() {
    let (m, recs) = load();
    let model = model::build(&m, &recs, &Options::default());
    assert!(model.energy.is_empty() && model.efficiency.is_empty() && model.energy_comparisons.is_empty());
    assert!(!markdown::render(&model).contains("## Energy"));
}
