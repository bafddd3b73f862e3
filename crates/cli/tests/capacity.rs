//! Capacity runs (`[capacity]`). First tier (no root): the test stand-in whose queries take
//! 20 ms more per other live stand-in sandbox, so latency grows with N and the run must stop
//! at the right N; kill -9 mid-run, then `--resume` finishes from the last finished step.
//! Second tier: a small real capacity run (N ≤ 4) per driver family with the leak audit.

mod common;
use common::*;
use sandbench_spec::{CapacityLine, SlaVerdict};
use std::path::Path;

/// A camera at 20 fps (50 ms a frame) for 2 s, two windows a step, p90 ≤ 50 ms.
fn stand_in_campaign() -> String {
    "name = \"cap\"\ntrials = 2\nwarmup = 0\n\
     [capacity]\nstreams = [1, 2, 3, 4, 6]\nsla = { p90_ms = 50 }\nsettle_s = 0.1\nmemory_reserve_mib = 256\n\
     [[environment]]\nname = \"native\"\ndriver = \"native\"\n\
     [[workload]]\nname = \"cam\"\nkind = \"noop\"\nparams = { scenario = \"fixed_rate\", fps = 20, duration_s = 2 }\n"
        .into()
}

fn lines(run: &Path) -> Vec<CapacityLine> {
    std::fs::read_to_string(run.join("capacity.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn steps(run: &Path) -> Vec<(u32, SlaVerdict)> {
    lines(run)
        .iter()
        .filter_map(|l| match l {
            CapacityLine::Step(s) => Some((s.streams, s.sla)),
            CapacityLine::End(_) => None,
        })
        .collect()
}

/// Latency 0, 20, 40, 60 ms at N = 1..4 against a 50 ms budget: capacity 3, stopped at 4.
fn assert_stops_at_the_right_n(run: &Path) {
    assert_eq!(
        steps(run),
        [(1, SlaVerdict::Pass), (2, SlaVerdict::Pass), (3, SlaVerdict::Pass), (4, SlaVerdict::Fail)],
        "each step once"
    );
    let end = lines(run).into_iter().find_map(|l| match l {
        CapacityLine::End(e) => Some(e),
        CapacityLine::Step(_) => None,
    });
    let end = end.expect("the series ended");
    assert_eq!(end.capacity, Some(3));
    assert_eq!(end.stop, sandbench_spec::CapacityStop::SlaBroken { streams: 4 });
}

#[test]
fn a_stand_in_whose_latency_grows_with_n_stops_at_the_right_n_and_reports_it() {
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &stand_in_campaign());
    let out = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--out"])
        .arg(tmp.path().join("r"))
        .arg(&c)
        .env("SANDBENCH_STAND_IN", "slow=20")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = only_run(&tmp.path().join("r"));
    assert_stops_at_the_right_n(&run);
    let rs = records(&run);
    assert_eq!(rs.len(), 2 * (1 + 2 + 3 + 4), "a trial per stream per window");
    assert!(rs.iter().all(|r| r.load.as_ref().is_some_and(|l| l.offered == Some(40))), "host-computed frames");
    let md =
        String::from_utf8_lossy(&out.stdout).into_owned() + &std::fs::read_to_string(run.join("report.md")).unwrap();
    assert!(md.contains("## Capacity (budget: p90 ≤ 50 ms)"), "{md}");
    assert!(md.contains("native holds 3 stream(s) (noop, fixed_rate at 20 fps) within p90 ≤ 50 ms"), "{md}");
    assert!(md.contains("budget broken at 4 streams"), "{md}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["capacity"]["rows"][0]["capacity"], 3);
    assert!(summary["series"].as_array().unwrap().is_empty(), "a stream's trials are not series of their own");
}

#[test]
fn joules_per_inference_come_from_the_power_source_over_the_windows() {
    // A test meter: a constant 5 W, printed every 50 ms.
    let meter = "[power]\nsource = \"command\"\nidle_s = 0\n\
                 command = [\"sh\", \"-c\", \"while :; do echo 5 W; sleep 0.05; done\"]\n";
    let text = stand_in_campaign()
        .replace("streams = [1, 2, 3, 4, 6]", "streams = [1, 2]")
        .replace("[capacity]", &format!("{meter}[capacity]"));
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &text);
    let out = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--out"])
        .arg(tmp.path().join("r"))
        .arg(&c)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run = only_run(&tmp.path().join("r"));
    let steps: Vec<Box<sandbench_spec::CapacityStep>> = lines(&run)
        .into_iter()
        .filter_map(|l| match l {
            CapacityLine::Step(s) => Some(s),
            CapacityLine::End(_) => None,
        })
        .collect();
    for s in &steps {
        // Two windows of about 2 s at 5 W over the step's queries (40 frames per stream and window).
        let want = 5.0 * 2.0 * 2.0 / (80.0 * s.streams as f64);
        let got = s.joules_per_inference.expect("a figure, with a power source");
        assert!((got / want - 1.0).abs() < 0.15, "{} streams: {got} J per inference, want about {want}", s.streams);
        assert_eq!(s.energy_unsupported, None);
    }
}

#[test]
fn kill_9_mid_capacity_run_then_resume_goes_on_from_the_last_finished_step() {
    let tmp = tempfile::tempdir().unwrap();
    let c = write(tmp.path(), "c.toml", &stand_in_campaign());
    let root = tmp.path().join("r");
    let mut child = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--out"])
        .arg(&root)
        .arg(&c)
        .env("SANDBENCH_STAND_IN", "slow=20")
        .spawn()
        .unwrap();
    let run = wait_for_run(&root, &mut child, |run| steps(run).len() >= 2);
    // SAFETY: a plain kill of our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    assert_eq!(child.wait().unwrap().code(), None);
    let before = steps(&run).len();
    assert!((2..4).contains(&before), "{before} steps before the kill");
    let out = sandbench_unprivileged()
        .args(["run", "--debug-mode", "--quiet", "--resume"])
        .arg(&run)
        .env("SANDBENCH_STAND_IN", "slow=20")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_stops_at_the_right_n(&run);
}

/// Runs campaign `text` (written to `dir/name`) with the stand-in: exit code and stderr.
fn refused(dir: &Path, name: &str, text: &str) -> (Option<i32>, String) {
    let c = write(dir, name, text);
    let out =
        sandbench_unprivileged().args(["run", "--debug-mode", "--out"]).arg(dir.join("r")).arg(&c).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_capacity_run_needs_a_scenario_and_a_camera_for_a_miss_ratio() {
    let tmp = tempfile::tempdir().unwrap();
    let no_scenario =
        stand_in_campaign().replace("params = { scenario = \"fixed_rate\", fps = 20, duration_s = 2 }", "");
    let (code, err) = refused(tmp.path(), "c.toml", &no_scenario);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("c.toml:")
            && err.contains("needs every workload to have a load `scenario`")
            && err.contains("fixed_rate"),
        "{err}"
    );
    let server = stand_in_campaign()
        .replace("sla = { p90_ms = 50 }", "sla = { miss_ratio = 0.01 }")
        .replace("scenario = \"fixed_rate\", fps = 20", "scenario = \"server\", rate = 20");
    let (code, err) = refused(tmp.path(), "c2.toml", &server);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("it needs scenario = \"fixed_rate\", not \"server\""), "{err}");
}

/// Second tier: native, runc and a QEMU microvm (TCG here), `noop` queries at 5 fps, N = 1, 2,
/// 4 under a budget every step meets; then nothing of any sandbox is left.
#[test]
fn real_capacity_runs_per_driver_family_leave_nothing_behind() {
    if !sandbench_sandbox::is_root() {
        return skip("real_capacity_runs_per_driver_family_leave_nothing_behind", "needs root (runc, QEMU)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let envs = [native_env(256), runc_env(256), microvm_env(256, "")];
    let text = campaign("cap-real", 120, &envs, "")
        + "[capacity]\nstreams = [1, 2, 4]\nsla = { p90_ms = 1000 }\nsettle_s = 0.5\nmemory_reserve_mib = 512\n"
        + "[[workload]]\nname = \"cam\"\nkind = \"noop\"\nparams = { scenario = \"fixed_rate\", fps = 5, duration_s = 3 }\n";
    let c = write(tmp.path(), "c.toml", &text);
    let mut child =
        sandbench().arg("run").arg(&c).arg("--out").arg(tmp.path().join("r")).arg("--quiet").spawn().unwrap();
    let pid = child.id();
    assert!(child.wait().unwrap().success());
    assert_no_leaks(pid);
    let run = only_run(&tmp.path().join("r"));
    for env in ["native", "runc", "microvm"] {
        let mine: Vec<(u32, SlaVerdict)> = lines(&run)
            .iter()
            .filter_map(|l| match l {
                CapacityLine::Step(s) if s.environment == env => Some((s.streams, s.sla)),
                _ => None,
            })
            .collect();
        assert_eq!(mine.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2, 4], "{env}: {mine:?}");
        let step4 = lines(&run).into_iter().find_map(|l| match l {
            CapacityLine::Step(s) if s.environment == env && s.streams == 4 => Some(s),
            _ => None,
        });
        let s = step4.unwrap();
        assert_eq!((s.trials_ok, s.trials_failed), (4, 0), "{env}");
        assert!(s.memory.mem_available_drop_mib >= 0.0 && s.launch_ms.len() == 2, "{env}: {:?}", s.memory);
    }
}

/// Second tier: SIGTERM while a step of real sandboxes runs tears every one of them down
/// (the leak audit), and `--resume` finishes the capacity run.
#[test]
fn real_sigterm_mid_step_leaves_nothing_and_resume_finishes() {
    if !sandbench_sandbox::is_root() {
        return skip("real_sigterm_mid_step_leaves_nothing_and_resume_finishes", "needs root (runc, QEMU)");
    }
    let tmp = tempfile::tempdir().unwrap();
    let envs = [runc_env(256), microvm_env(256, "")];
    let text = campaign("cap-stop", 120, &envs, "")
        + "[capacity]\nstreams = [2, 4]\nsla = { p90_ms = 1000 }\nsettle_s = 0.5\nmemory_reserve_mib = 512\n"
        + "[[workload]]\nname = \"cam\"\nkind = \"noop\"\nparams = { scenario = \"fixed_rate\", fps = 5, duration_s = 4 }\n";
    let c = write(tmp.path(), "c.toml", &text);
    let root = tmp.path().join("r");
    // Two records: runc's step of 2 is done; its step of 4 is launching or running.
    let (pid, run) = start_and_stop(&root, &c, 2, libc::SIGTERM);
    assert_no_leaks(pid);
    let out = sandbench().args(["run", "--quiet", "--resume"]).arg(&run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ends: Vec<(String, Option<u32>)> = lines(&run)
        .into_iter()
        .filter_map(|l| match l {
            CapacityLine::End(e) => Some((e.environment, e.capacity)),
            CapacityLine::Step(_) => None,
        })
        .collect();
    assert_eq!(ends, [("runc".to_string(), Some(4)), ("microvm".to_string(), Some(4))]);
}
