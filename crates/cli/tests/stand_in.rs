//! The first tier: the command line end to end with the test stand-in for every sandbox
//! (`sandbench run --debug-mode`; `sandbox::stand_in`), so that it needs no root, no QEMU, no
//! runc and no built agent, and runs in parallel in seconds. What it covers: a run to its
//! report, the stopping rule, timeouts and crashes, a broken environment, Ctrl-C and kill -9
//! followed by `--resume`, bad campaigns, `report` and `compare`. The second tier (every other
//! file here) does the same with the real drivers.

mod common;
use common::*;
use sandbench_spec::{Status, TrialRecord};
use std::path::{Path, PathBuf};
use std::process::Output;

/// A campaign over native, runc and a QEMU microvm (all stand-ins here) with cpu and noop.
fn three_envs(trials: &str, trial_s: u32) -> String {
    let envs = [native_env(512), runc_env(512), microvm_env(512, "")];
    let workloads = "[[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = { threads = 1, events = 200 }\n\
                     [[workload]]\nname = \"noop\"\nkind = \"noop\"\n";
    campaign("stand-in", trial_s, &envs, workloads).replace("trials = 1\n", &format!("trials = {trials}\n"))
}

/// `sandbench run --debug-mode <campaign> --out <out>` with `script` as the stand-in's script.
fn run(campaign: &Path, out: &Path, script: &str) -> Output {
    sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--out"])
        .arg(out)
        .arg(campaign)
        .env("SANDBENCH_STAND_IN", script)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn measured<'a>(rs: &'a [TrialRecord], env: &str, workload: &str) -> Vec<&'a TrialRecord> {
    rs.iter().filter(|r| r.key.environment == env && r.key.workload == workload && !r.dims.warmup).collect()
}

#[test]
fn a_run_stops_each_series_by_its_rule_and_reports_that_it_was_a_stand_in() {
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &three_envs("{ min = 3, max = 6, precision = 0.5 }", 60));
    let out = run(&c, &tmp.path().join("r"), "");
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = only_run(&tmp.path().join("r"));
    let rs = records(&dir);
    for env in ["native", "runc", "microvm"] {
        for w in ["cpu", "noop"] {
            let m = measured(&rs, env, w);
            assert!((3..=6).contains(&m.len()), "{env} {w}: {} trials", m.len());
            assert!(m.iter().all(|r| r.status == Status::Ok), "{env} {w}");
        }
    }
    assert!(rs.iter().all(|r| r.launch.as_ref().is_some_and(|l| l.facts.contains_key("stand_in"))));
    let cpu = measured(&rs, "native", "cpu")[0];
    assert_eq!(cpu.metrics["events"].value, 200.0, "the stand-in ran the real cpu workload");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["state"], "complete");
    assert_eq!(manifest["stops"].as_object().map(|o| o.len()), Some(6), "{}", manifest["stops"]);
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("TEST STAND-IN"), "the report must say its sandboxes were stand-ins");
    for f in ["report.html", "summary.json", "series.csv", "trials.csv"] {
        assert!(dir.join(f).is_file(), "{f}");
    }
}

#[test]
fn a_trial_that_hangs_or_crashes_is_recorded_and_the_next_gets_a_fresh_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let c = write(
        tmp.path(),
        "c.toml",
        &campaign("t", 1, &[native_env(512)], "[[workload]]\nname = \"noop\"\nkind = \"noop\"\n"),
    );
    let text = std::fs::read_to_string(&c).unwrap().replace("trials = 1\n", "trials = 4\n");
    std::fs::write(&c, text).unwrap();
    let out = run(&c, &tmp.path().join("r"), "hang=2;crash=3");
    assert_eq!(out.status.code(), Some(1), "failed trials make exit 1: {}", stderr(&out));
    let rs = records(&only_run(&tmp.path().join("r")));
    let status: Vec<Status> = rs.iter().map(|r| r.status).collect();
    assert_eq!(status, [Status::Ok, Status::Timeout, Status::Failed, Status::Ok]);
    let launch = |i: usize| rs[i].launch.as_ref().unwrap().launch_id;
    assert_eq!(launch(0), launch(1), "a warm sandbox serves the next trial");
    assert!(launch(2) > launch(1) && launch(3) > launch(2), "after a timeout and a crash, a fresh sandbox");
}

#[test]
fn a_broken_environment_is_recorded_and_spares_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &three_envs("2", 60));
    let out = run(&c, &tmp.path().join("r"), "broken=runc");
    assert_eq!(out.status.code(), Some(1));
    let rs = records(&only_run(&tmp.path().join("r")));
    assert!(measured(&rs, "runc", "cpu").iter().all(|r| r.status == Status::Failed));
    let why = measured(&rs, "runc", "noop")[0].error.clone().unwrap_or_default();
    assert!(why.contains("failed to launch twice"), "{why}");
    assert!(measured(&rs, "native", "cpu")
        .iter()
        .chain(measured(&rs, "microvm", "noop").iter())
        .all(|r| r.status == Status::Ok));
}

/// Starts a stand-in run whose third trial hangs, stops it with `signal` once two trials are
/// recorded, and returns its results folder and exit status.
fn start_and_stop(tmp: &Path, signal: i32) -> (PathBuf, Option<i32>) {
    let c = write(tmp, "c.toml", &three_envs("3", 120));
    let root = tmp.join("r");
    let mut child = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--out"])
        .arg(&root)
        .arg(&c)
        .env("SANDBENCH_STAND_IN", "hang=3")
        .spawn()
        .unwrap();
    let dir = wait_for_run(&root, &mut child, |run| trial_lines(run) >= 2);
    // SAFETY: a plain kill of our own child.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    (dir, child.wait().unwrap().code())
}

/// A resumed run finishes exactly the plan: every planned trial recorded ok once.
fn resume_and_check(dir: &Path) {
    let out = sandbench_unprivileged().args(["run", "--debug-mode", "--quiet", "--resume"]).arg(dir).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rs = records(dir);
    let ok: std::collections::BTreeSet<String> =
        rs.iter().filter(|r| r.status == Status::Ok).map(|r| r.key.slug()).collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let planned = manifest["plan"].as_array().unwrap().len();
    assert_eq!(ok.len(), planned, "every planned trial ok once");
    assert_eq!(manifest["state"], "complete");
    assert_eq!(manifest["resumes"], 1);
}

#[test]
fn ctrl_c_interrupts_and_resume_finishes_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, code) = start_and_stop(tmp.path(), libc::SIGINT);
    assert_eq!(code, Some(130));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["state"], "interrupted");
    resume_and_check(&dir);
}

#[test]
fn kill_9_leaves_a_folder_that_resume_finishes() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, code) = start_and_stop(tmp.path(), libc::SIGKILL);
    assert_eq!(code, None, "killed by a signal");
    resume_and_check(&dir);
}

#[test]
fn bad_campaigns_and_filters_are_refused_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write(tmp.path(), "bad.toml", &three_envs("3", 60).replace("driver = \"oci\"", "driver = \"lxc\""));
    let out = run(&bad, &tmp.path().join("r"), "");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.toml:") && err.contains("native") && err.contains("qemu"), "{err}");
    assert!(!tmp.path().join("r").exists(), "nothing is created for a campaign that does not parse");
    let c = write(tmp.path(), "c.toml", &three_envs("3", 60));
    let out = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--workload", "stt", "--out"])
        .arg(tmp.path().join("r"))
        .arg(&c)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("its workloads: cpu, noop"), "{}", stderr(&out));
    let out = run(&c, &tmp.path().join("r"), "explode=1");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("SANDBENCH_STAND_IN"), "{}", stderr(&out));
}

#[test]
fn report_and_compare_pair_two_stand_in_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &three_envs("3", 60));
    for out in ["a", "b"] {
        let o = run(&c, &tmp.path().join(out), "");
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let (a, b) = (only_run(&tmp.path().join("a")), only_run(&tmp.path().join("b")));
    let report = run_ok(sandbench_unprivileged().arg("report").arg(&a));
    assert!(String::from_utf8_lossy(&report.stdout).contains("native"));
    let compare = run_ok(sandbench_unprivileged().arg("compare").arg(&a).arg(&b));
    let text = String::from_utf8_lossy(&compare.stdout);
    for env in ["native", "runc", "microvm"] {
        assert!(text.contains(env), "compare names {env}:\n{text}");
    }
}

#[test]
fn a_board_that_throttles_turns_its_trials_into_warnings() {
    // The Raspberry Pi 4 fixture tree (83 °C, clock held at 83 %) and the test stand-in for
    // `vcgencmd` (under-voltage and throttling now) stand for the host the trials ran on.
    let boards = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sampler/tests/fixtures/boards");
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &three_envs("2", 60));
    let out = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--out"])
        .arg(tmp.path().join("r"))
        .arg(&c)
        .env("SANDBENCH_SYSFS_ROOT", boards.join("rpi4"))
        .env("SANDBENCH_VCGENCMD", boards.join("fake-vcgencmd"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dir = only_run(&tmp.path().join("r"));
    let rs = records(&dir);
    let board = rs[0].host.as_ref().and_then(|h| h.board.clone()).expect("the board's figures are recorded");
    assert_eq!(board.soc_temp_max_c, Some(83.312));
    assert_eq!(board.throttled_flags, Some(0x5));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["host"]["board"], "Raspberry Pi 4 Model B Rev 1.4");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("board: 2 of 2 trials ran so (the board throttled (0x5: under-voltage now, throttled now)"),
        "{report}"
    );
}
