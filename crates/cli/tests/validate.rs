//! `sandbench validate` against the real reference tools (sysbench, fio, iperf3; scripts/setup.sh
//! installs them), short runs: a record with each check's two medians and their ratio, and a
//! later run's manifest and report carrying its summary as `host.validation`.

mod common;
use common::*;

#[test]
fn validate_writes_a_record_that_a_runs_manifest_and_report_carry() {
    let tmp = tempfile::tempdir().unwrap();
    let record = tmp.path().join("validation.json");
    let mut cmd = sandbench();
    cmd.args(["validate", "--only", "cpu,fileio,net", "--rounds", "1", "--time", "1", "--dir"])
        .arg(tmp.path())
        .arg("--out")
        .arg(&record);
    let out = run_ok(&mut cmd);
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let checks = v["checks"].as_array().unwrap();
    let count = |area: &str| checks.iter().filter(|c| c["area"] == area).count();
    assert_eq!(count("cpu"), 2, "{v}");
    assert_eq!(count("fileio"), 8, "{v}");
    // net needs root (it makes a veth pair into a namespace); otherwise it says so.
    if sandbench_sandbox::is_root() {
        assert_eq!(count("net"), 4, "{v}");
    } else {
        assert!(v["missing"].to_string().contains("net: unsupported: needs root"), "{v}");
    }
    for c in checks {
        let (ours, theirs, ratio) =
            (c["sandbench_value"].as_f64().unwrap(), c["tool_value"].as_f64().unwrap(), c["ratio"].as_f64().unwrap());
        assert!(ours > 0.0 && theirs > 0.0, "{c}");
        // One round: the ratio is that round's, with no interval a verdict could rest on.
        assert!((ratio - ours / theirs).abs() < 1e-9, "{c}");
        assert_eq!(c["round_ratios"].as_array().map(Vec::len), Some(1), "{c}");
        assert_eq!(c["level"].as_f64(), Some(0.0), "{c}");
        // One-second runs on a shared 2-core machine: only a broken side lands outside this.
        assert!(ratio > 0.2 && ratio < 5.0, "{c}");
    }
    assert!(stdout.contains("written to") && stdout.contains("undecided"), "{stdout}");

    // A run on this host carries the record's summary.
    let campaign = write(
        tmp.path(),
        "c.toml",
        &campaign("validated", 120, &[native_env(512)], "[[workload]]\nname = \"noop\"\nkind = \"noop\"\n"),
    );
    let child = sandbench()
        .env("SANDBENCH_VALIDATION", &record)
        .arg("run")
        .arg(&campaign)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .arg("--quiet")
        .output()
        .unwrap();
    assert!(child.status.success(), "{}", String::from_utf8_lossy(&child.stderr));
    let run = only_run(&tmp.path().join("out"));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    // Typed: the record itself, and this host's CPU beside it.
    assert_eq!(m["validation"]["state"], "measured", "{}", m["validation"]);
    assert_eq!(m["validation"]["record"]["checks"][0]["area"], "cpu", "{}", m["validation"]);
    assert!(m["validation"]["record"]["checks"][0]["tool"].as_str().unwrap().contains("sysbench"));
    assert!(m["host"].get("validation").is_none(), "no longer a host text row");
    run_ok(sandbench().arg("report").arg(&run));
    let md = std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.contains("cpu ×"), "the report shows host.validation");
}
