//! Energy end to end, with stand-ins for the power sensors these machines do not have: the
//! test meter (`scripts/test-meter.py`, a real process printing 4 W idle and 9 W while an
//! agent runs) against real `native` and `runc` trials, and a RAPL tree under
//! `SANDBENCH_SYSFS_ROOT` whose counter this test advances at a known rate.

mod common;
use common::*;
use sandbench_spec::{Manifest, Status, TrialRecord};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn manifest(run: &Path) -> Manifest {
    serde_json::from_str(&std::fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap()
}

fn measured(rs: &[TrialRecord]) -> Vec<&TrialRecord> {
    rs.iter().filter(|r| !r.dims.warmup && r.status == Status::Ok).collect()
}

fn near(got: f64, want: f64, tolerance: f64) -> bool {
    (got / want - 1.0).abs() <= tolerance
}

/// Processes whose command line holds `tag`.
fn processes_with(tag: &str) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(tag))
        .collect()
}

#[test]
fn real_native_and_runc_trials_integrate_the_test_meters_waveform_within_two_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let tag = format!("energy-test-{}", std::process::id());
    let meter = repo().join("scripts/test-meter.py");
    let campaign = write(
        tmp.path(),
        "energy.toml",
        &format!(
            r#"
name = "energy"
trials = 3
warmup = 1
order = "sequential"
[power]
source = "command"
command = ["python3", "{}", "--idle", "4.0", "--busy", "9.0", "--own", "--tag", "{tag}"]
idle_s = 1
# The meter itself and whatever else runs on a CI machine load the host: that warning is
# not what this test is about.
other_load_max_pct = 400
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
params = {{ threads = 1, events = 12000, max_prime = 5000 }}
"#,
            meter.display()
        ),
    );
    let (code, run, _) = run_campaign(&campaign, &tmp.path().join("out"));
    assert_eq!(code, Some(0));
    assert!(processes_with(&tag).is_empty(), "the meter outlived the run: {:?}", processes_with(&tag));
    let m = manifest(&run);
    let power = m.power.clone().expect("the manifest's power facts");
    assert!(power.source.contains("TEST STAND-IN"), "{}", power.source);
    let idle = power.idle_w.unwrap();
    assert!(near(idle, 4.0, 0.02), "idle baseline {idle} W");
    let drift = power.idle_drift_pct.unwrap();
    assert!(drift < 5.0, "{drift}");
    assert!(power.sampler_polls.is_some_and(|n| n > 0), "{power:?}");
    assert!(!m.host.contains_key("power"), "power facts are typed, not host strings: {:?}", m.host);
    let rs = records(&run);
    for env in ["native", "runc"] {
        let trials: Vec<_> = measured(&rs).into_iter().filter(|r| r.key.environment == env).collect();
        assert_eq!(trials.len(), 3, "{env}");
        for r in trials {
            let e = r.host.as_ref().and_then(|h| h.energy.as_ref()).expect("energy recorded");
            let s = r.host_wall_ms / 1e3;
            // The known answer: the agent is busy for the whole trial, so 9 W × its duration.
            assert!(near(e.energy_j, 9.0 * s, 0.02), "{env}: {} J over {s} s (want {})", e.energy_j, 9.0 * s);
            assert!(near(e.power_mean_w, 9.0, 0.02), "{env}: {} W", e.power_mean_w);
            assert!(near(e.energy_idle_j, 4.0 * s, 0.02), "{env}: idle {} J", e.energy_idle_j);
            assert!(near(e.energy_dynamic_j, 5.0 * s, 0.04), "{env}: dynamic {} J", e.energy_dynamic_j);
            assert!(e.updates >= 50, "{env}: {} updates", e.updates);
            assert!(e.warnings.is_empty(), "{env}: {:?}", e.warnings);
            let attributed = e.energy_attributed_j.unwrap();
            assert!(attributed > 0.0 && attributed <= e.energy_dynamic_j + 1e-9);
            let w = e.work.as_ref().unwrap();
            assert_eq!((w.unit.as_str(), w.units), ("event", 12000.0));
            assert!((w.j_per_unit - w.energy_j / 12000.0).abs() < 1e-12 && near(w.energy_j, e.energy_j, 1e-6));
            // Power beside CPU in the samples: about 9 W once the trial is under way.
            let csv = std::fs::read_to_string(run.join(&r.host.as_ref().unwrap().series)).unwrap();
            let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
            let col = header.iter().position(|h| *h == "power_w").expect("power_w column");
            let mid: Vec<f64> =
                csv.lines().skip(3).take(5).map(|l| l.split(',').nth(col).unwrap().parse().unwrap()).collect();
            assert!(mid.iter().all(|p| near(*p, 9.0, 0.05)), "{env}: {mid:?}");
        }
    }
    let report = std::fs::read_to_string(run.join("report.md")).unwrap();
    for want in ["## Energy", "J per unit", "runc on cpu draws", "× the work per joule", "test stand-in meter"] {
        assert!(report.contains(want), "no `{want}` in:\n{report}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["energy"].as_array().unwrap().len(), 2);
    assert!(summary["efficiency"][0]["sentence"].as_str().unwrap().contains("runc"));
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("host CPU and power over a trial") && html.contains("energy per event"));
}

/// Advances a RAPL tree's counters at `watts` (package) and 2 W (DRAM) until stopped.
fn rapl_writer(root: PathBuf, watts: f64, max_uj: u64, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let zones = root.join("class/powercap");
    for (zone, name) in [("intel-rapl:0", "package-0"), ("intel-rapl:0:0", "dram")] {
        std::fs::create_dir_all(zones.join(zone)).unwrap();
        std::fs::write(zones.join(zone).join("name"), format!("{name}\n")).unwrap();
        std::fs::write(zones.join(zone).join("max_energy_range_uj"), format!("{max_uj}\n")).unwrap();
        std::fs::write(zones.join(zone).join("energy_uj"), "0\n").unwrap();
    }
    std::thread::spawn(move || {
        let t0 = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let s = t0.elapsed().as_secs_f64();
            for (zone, w) in [("intel-rapl:0", watts), ("intel-rapl:0:0", 2.0)] {
                let uj = (s * w * 1e6) as u64 % (max_uj + 1);
                // Written whole and renamed: the reader never sees half a number.
                let tmp = zones.join(zone).join("energy_uj.tmp");
                std::fs::write(&tmp, format!("{uj}\n")).unwrap();
                std::fs::rename(&tmp, zones.join(zone).join("energy_uj")).unwrap();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    })
}

#[test]
fn a_rapl_tree_under_sandbench_sysfs_root_is_unwrapped_and_integrated() {
    let tmp = tempfile::tempdir().unwrap();
    let sysfs = tmp.path().join("sys");
    let stop = Arc::new(AtomicBool::new(false));
    // A 10 J range at 10 W wraps every second: several times per run, never twice between polls.
    let writer = rapl_writer(sysfs.clone(), 10.0, 10_000_000, stop.clone());
    std::thread::sleep(Duration::from_millis(50));
    let campaign = write(
        tmp.path(),
        "rapl.toml",
        r#"
name = "rapl"
trials = 2
warmup = 0
[power]
source = "rapl"
interval_ms = 20
idle_s = 0.5
# This test's writer thread (and, under `cargo test`, the other tests) load the host.
other_load_max_pct = 200
[[environment]]
name = "native"
driver = "native"
[[workload]]
name = "cpu"
kind = "cpu"
# A fixed time, not a count of events: the trial must span wraps on a fast host too.
params = { threads = 1, time_s = 1.5, max_prime = 5000 }
"#,
    );
    let out = tmp.path().join("out");
    let status = sandbench()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&campaign)
        .env("SANDBENCH_SYSFS_ROOT", &sysfs)
        .status()
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    writer.join().unwrap();
    assert!(status.success());
    let run = only_run(&out);
    let m = manifest(&run);
    let power = m.power.clone().expect("the manifest's power facts");
    assert!(power.source.starts_with("rapl: package-0 + package-0/dram"), "{}", power.source);
    assert!(near(power.idle_w.unwrap(), 12.0, 0.02), "{power:?}");
    for r in measured(&records(&run)) {
        let e = r.host.as_ref().and_then(|h| h.energy.as_ref()).unwrap();
        let s = r.host_wall_ms / 1e3;
        assert!(s > 1.0, "the trial must span a wrap: {s} s");
        assert!(near(e.energy_j, 12.0 * s, 0.02), "{} J over {s} s", e.energy_j);
        assert!(
            near(e.domains["package-0"].energy_j, 10.0 * s, 0.02)
                && near(e.domains["package-0/dram"].energy_j, 2.0 * s, 0.02)
        );
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
    }
}

#[test]
fn a_power_source_that_cannot_work_is_said_before_any_trial_and_a_dying_meter_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let env = "[[environment]]\nname = \"native\"\ndriver = \"native\"\n[[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = { threads = 1, events = 3000, max_prime = 5000 }\n";
    // A meter with no command: the file, the line and the key.
    let bad = write(tmp.path(), "bad.toml", &format!("trials = 1\n[power]\nsource = \"command\"\n{env}"));
    let out = sandbench().args(["run", "--quiet"]).arg(&bad).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("bad.toml:3") && err.contains("power.command"), "{err}");
    let wrong = write(tmp.path(), "wrong.toml", &format!("trials = 1\n[power]\nsource = \"solar\"\n{env}"));
    let err = String::from_utf8_lossy(&sandbench().args(["run", "--quiet"]).arg(&wrong).output().unwrap().stderr)
        .into_owned();
    assert!(err.contains("wrong.toml:3") && err.contains("rapl"), "{err}");
    // RAPL asked for on a host without it: an error before any trial, not a run without energy.
    let rapl = write(tmp.path(), "rapl.toml", &format!("trials = 1\n[power]\nsource = \"rapl\"\n{env}"));
    let out_dir = tmp.path().join("out-rapl");
    let out = sandbench()
        .args(["run", "--quiet", "--out"])
        .arg(&out_dir)
        .arg(&rapl)
        .env("SANDBENCH_SYSFS_ROOT", tmp.path().join("no-sys"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("source = \"rapl\"") && err.contains("powercap"), "{err}");
    assert!(records(&only_run(&out_dir)).is_empty());
    // A meter that stops after a second: the run goes on, and the trials after say so.
    let dying = write(
        tmp.path(),
        "dying.toml",
        &format!(
            "trials = 4\nwarmup = 0\n[power]\nsource = \"command\"\nidle_s = 0\ncommand = [\"sh\", \"-c\", \"for i in 1 2 3 4 5 6 7 8 9 10; do echo 5 W; sleep 0.1; done\"]\n{env}"
        ),
    );
    let (code, run, _) = run_campaign(&dying, &tmp.path().join("out-dying"));
    assert_eq!(code, Some(0));
    let rs = records(&run);
    assert_eq!(rs.len(), 4);
    let last = rs.last().unwrap().host.as_ref().unwrap().energy.as_ref().unwrap();
    assert!(last.warnings.iter().any(|w| w.contains("the power source stopped")), "{:?}", last.warnings);
}

#[test]
fn doctor_lists_every_power_source_with_its_domains_or_why_not() {
    let json = |sysfs: &Path| -> Vec<serde_json::Value> {
        let out = run_ok(sandbench().args(["doctor", "--power", "--json"]).env("SANDBENCH_SYSFS_ROOT", sysfs));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let get = |v: &[serde_json::Value], c: &str| v.iter().find(|x| x["component"] == c).cloned().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let none = json(tmp.path());
    for c in ["power-rapl", "power-hwmon", "power-vcgencmd"] {
        let x = get(&none, c);
        assert_eq!(x["verdict"], "unsupported", "{x}");
        assert!(x["detail"].as_str().unwrap().starts_with("unsupported: "), "{x}");
    }
    // The Jetson Orin fixture (a stand-in for the board's sysfs).
    let jetson = repo().join("crates/power/tests/fixtures/jetson-ina3221");
    let x = get(&json(&jetson), "power-hwmon");
    assert_eq!(x["verdict"], "ok", "{x}");
    let detail = x["detail"].as_str().unwrap();
    assert!(detail.contains("ina3221/VDD_IN") && detail.contains("VDD_SOC") && detail.contains("updates"), "{detail}");
}
