//! Exporters on a fixed results folder (a real quick run, checked in): snapshot tests of the
//! Markdown and JSON output, and structural checks of HTML and CSV.
//! `UPDATE_SNAPSHOTS=1 cargo test -p sandbench-report` rewrites the snapshots after a reviewed change.

mod common;
use common::{fixture, load};
use sandbench_report::{csv, html, markdown, model, Options};
use std::path::Path;

fn snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots").join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing snapshot {}; run with UPDATE_SNAPSHOTS=1", path.display()));
    if expected != actual {
        let first = expected.lines().zip(actual.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "{name} differs from its snapshot at line {}:\n expected: {}\n actual:   {}",
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

fn model() -> model::ReportModel {
    let (m, recs) = load(&fixture());
    model::build(&m, &recs, &Options::default())
}

#[test]
fn markdown_snapshot() {
    snapshot("quick-run.md", &markdown::render(&model()));
}

#[test]
fn summary_json_snapshot_and_schema() {
    let m = model();
    let json = serde_json::to_string_pretty(&m).unwrap();
    snapshot("quick-run.summary.json", &json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], model::REPORT_SCHEMA);
    assert_eq!(v["baseline"], "native");
}

#[test]
fn the_same_input_gives_the_same_report() {
    // Every resampling is seeded.
    assert_eq!(serde_json::to_string(&model()).unwrap(), serde_json::to_string(&model()).unwrap());
}

#[test]
fn html_is_self_contained_with_every_figure() {
    let h = html::render(&model(), &fixture());
    assert!(h.starts_with("<!doctype html>"));
    assert!(!h.contains("figure not drawn"), "a figure failed");
    // Figures: 2 workloads × (mean bars + CPU over time + host CPU bars) + histograms + memory + boot.
    let svgs = h.matches("<svg").count();
    assert!(svgs >= 12, "{svgs} figures");
    for env in ["native", "runc", "qemu-microvm"] {
        assert!(h.contains(env));
    }
    // Nothing is fetched: no scripts, no external stylesheets or images.
    assert!(!h.contains("<script") && !h.contains("<link") && !h.contains("src=\"http"));
    assert!(h.contains("name=\"viewport\""));
}

#[test]
fn csv_files_have_a_row_per_series_and_per_trial() {
    let (_, recs) = load(&fixture());
    let m = model();
    assert_eq!(csv::series_csv(&m).lines().count(), m.series.len() + 1);
    let t = csv::trials_csv(&recs);
    assert_eq!(t.lines().count(), recs.len() + 1);
    assert!(t.lines().next().unwrap().contains("events_per_s"));
}

#[test]
fn figures_scale_to_eight_environments() {
    let (m, recs) = load(&fixture());
    let mut many = Vec::new();
    for i in 0..8 {
        for r in recs.iter().filter(|r| r.key.environment == "native") {
            let mut r = r.clone();
            r.key.environment = format!("environment-{i}");
            r.dims.environment = r.key.environment.clone();
            many.push(r);
        }
    }
    let model = model::build(&m, &many, &Options { baseline: Some("environment-0".into()), ..Default::default() });
    let h = html::render(&model, &fixture());
    assert!(!h.contains("figure not drawn"));
    for i in 0..8 {
        assert!(h.contains(&format!(">environment-{i}<")), "label environment-{i} drawn");
    }
    assert_eq!(model.comparisons.len(), 7 * 2);
}

#[test]
fn workloads_differing_in_one_parameter_become_a_sweep() {
    let (m, recs) = load(&fixture());
    let mut swept = Vec::new();
    for (name, threads) in [("cpu-1t", 1), ("cpu-2t", 2), ("cpu-4t", 4)] {
        for r in recs.iter().filter(|r| r.key.workload == "cpu") {
            let mut r = r.clone();
            r.key.workload = name.into();
            r.dims.workload = name.into();
            r.dims.params.insert("threads".into(), threads.into());
            swept.push(r);
        }
    }
    let model = model::build(&m, &swept, &Options::default());
    assert_eq!(model.sweeps.len(), 1);
    let s = &model.sweeps[0];
    assert_eq!((s.kind.name(), s.parameter.as_str(), s.metric.as_str()), ("cpu", "threads", "events_per_s"));
    assert_eq!(s.lines.len(), 3);
    assert_eq!(s.lines[0].1.iter().map(|p| p.0).collect::<Vec<_>>(), vec![1.0, 2.0, 4.0]);
    let h = html::render(&model, &fixture());
    assert!(h.contains("cpu by threads") && !h.contains("figure not drawn"));
    assert!(markdown::render(&model).contains("| threads = 1 | threads = 2 | threads = 4 |"));
}

#[test]
fn a_block_size_sweep_per_mode_with_sizes_written_as_strings() {
    let (m, recs) = load(&fixture());
    let mut swept = Vec::new();
    for (mode, bs) in [("seqrd", "4K"), ("seqrd", "1M"), ("rndrd", "4K"), ("rndrd", "1M")] {
        let name = format!("{mode}-{bs}");
        for r in recs.iter().filter(|r| r.key.workload == "cpu") {
            let mut r = r.clone();
            r.key.workload = name.clone();
            r.dims.workload = name.clone();
            r.dims.kind = sandbench_protocol::Kind::Fileio.into();
            r.dims.params = serde_json::json!({"mode": mode, "block_size": bs}).as_object().unwrap().clone();
            let mut metric = r.metrics["events_per_s"].clone();
            metric.unit = "MiB/s".into();
            r.metrics.insert("mib_per_s".into(), metric);
            swept.push(r);
        }
    }
    let model = model::build(&m, &swept, &Options::default());
    let got: Vec<(String, String)> = model.sweeps.iter().map(|s| (s.parameter.clone(), s.fixed.clone())).collect();
    assert_eq!(
        got,
        vec![("block_size".into(), "mode = \"rndrd\"".into()), ("block_size".into(), "mode = \"seqrd\"".into())]
    );
    let s = &model.sweeps[1];
    assert_eq!(s.metric, "mib_per_s");
    assert_eq!(s.lines[0].1.iter().map(|p| p.0).collect::<Vec<_>>(), vec![4096.0, 1048576.0]);
    assert!(markdown::render(&model).contains("All points: mode = \"seqrd\""));
}
