//! The command line: errors that point at the file, and `try`.

mod common;
use common::*;

#[test]
fn invalid_campaign_names_file_line_column_and_choices() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write(
        tmp.path(),
        "bad.toml",
        "trials = 2\n[[environment]]\nname = \"x\"\ndriver = \"lxc\"\n[[workload]]\nname = \"c\"\nkind = \"cpu\"\n",
    );
    let out = sandbench().arg("run").arg(&bad).arg("--out").arg(tmp.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4:10"), "{err}");
    assert!(err.contains("native") && err.contains("oci") && err.contains("qemu"), "{err}");
    // Nothing was created for a campaign that does not parse.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn invalid_workload_parameter_is_located_before_anything_launches() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = write(
        tmp.path(),
        "bad.toml",
        "[[environment]]\nname = \"n\"\ndriver = \"native\"\n\n[[workload]]\nname = \"c\"\nkind = \"cpu\"\nparams = { thread = 2 }\n",
    );
    let out = sandbench().arg("run").arg(&bad).arg("--out").arg(tmp.path().join("r")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:5:"), "{err}");
    assert!(err.contains("unknown parameter `thread`") && err.contains("threads"), "{err}");
    assert!(!tmp.path().join("r").exists());
}

#[test]
fn try_runs_one_native_trial_and_prints_json() {
    let out = run_ok(sandbench().args(["try", "cpu", "--param", "threads=2", "--param", "events=100", "--json"]));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["status"], "ok");
    assert_eq!(r["metrics"]["events"]["value"], 100.0);
    assert_eq!(r["outputs"]["primes_per_event"], 1228);
    assert!(r["launch"]["boot"]["total_ms"].as_f64().unwrap() > 0.0);
    let out = sandbench().args(["try", "cpu", "--param", "threads=zero"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("parameter `threads`"));
}

#[test]
fn doctor_reports_every_environment_of_the_papers() {
    let out = run_ok(sandbench().args(["doctor", "--json"]));
    let v: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let get = |c: &str| v.iter().find(|x| x["component"] == c).unwrap_or_else(|| panic!("no {c}")).clone();
    for c in [
        "native",
        "runc",
        "crun",
        "runsc",
        "qemu-microvm",
        "qemu-q35",
        "kvm",
        "docker",
        "containerd",
        "firecracker",
        "cloud-hypervisor",
        "kata",
    ] {
        let x = get(c);
        assert!(!x["detail"].as_str().unwrap().is_empty(), "{c}");
    }
    // runc really started a container from the image.
    assert_eq!(get("runc")["verdict"], "ok", "{}", get("runc"));
    assert!(get("runc")["detail"].as_str().unwrap().contains("sandbench-agent"));
    assert_eq!(get("qemu-microvm")["verdict"], "ok");
    // scripts/test.sh starts sandbench's own daemons; doctor finds them by their sockets.
    assert_eq!(get("docker")["verdict"], "ok", "{}", get("docker"));
    assert_eq!(get("containerd")["verdict"], "ok", "{}", get("containerd"));
    // KVM was decided by a real boot, not by /dev/kvm existing.
    let kvm = get("kvm");
    assert!(kvm["verdict"] == "ok" || kvm["detail"].as_str().unwrap().contains("did not"), "{kvm}");
}

#[test]
fn run_without_a_campaign_uses_the_embedded_quick_campaign() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run_ok(sandbench().arg("run").arg("--quiet").arg("--out").arg(tmp.path()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The summary table ends the run: events/s, boot/start and host CPU per environment.
    for env in ["native", "runc", "qemu-microvm"] {
        assert!(stdout.contains(&format!("| {env} ")), "{stdout}");
    }
    assert!(stdout.contains("events_per_s") && stdout.contains("boot/start ms") && stdout.contains("host CPU %"));
    let run = only_run(tmp.path());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["campaign_path"], "<embedded examples/quick.toml>");
    // What was run is recorded in full, so --resume can re-read it.
    assert!(m["campaign_text"].as_str().unwrap().contains("[[environment]]"));
    // The stopping rule said why each series ended.
    assert_eq!(m["stops"].as_object().map(|o| o.len()), Some(9), "{}", m["stops"]);
    // Every verdict agrees with the interval printed beside it.
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    let comparisons = summary["comparisons"].as_array().unwrap();
    assert_eq!(comparisons.len(), 6);
    for row in comparisons {
        let c = &row["comparison"];
        let (lo, hi, margin) = (
            c["ratio_ci"]["lo"].as_f64().unwrap(),
            c["ratio_ci"]["hi"].as_f64().unwrap(),
            c["margin"].as_f64().unwrap(),
        );
        let what = format!("{}: {}", row["sentence"], c);
        match c["verdict"].as_str().unwrap() {
            "higher" => assert!(lo > 1.0, "{what}"),
            "lower" => assert!(hi < 1.0, "{what}"),
            "equivalent" => assert!(lo > 1.0 - margin && hi < 1.0 + margin, "{what}"),
            "inconclusive" => assert!(lo <= 1.0 && hi >= 1.0, "{what}"),
            v => panic!("{v}: {what}"),
        }
        // A microvm under TCG does a fraction of native's CPU work: the verdict must say so.
        let tcg = summary["series"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["environment"] == "qemu-microvm" && s["accel"] == "tcg");
        if tcg && row["environment"] == "qemu-microvm" && row["workload"] == "cpu" {
            assert_eq!(c["verdict"], "lower", "{what}");
        }
    }
}

fn copy_dir(src: &std::path::Path, dst: &std::path::Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap().flatten() {
        if e.path().is_dir() {
            copy_dir(&e.path(), &dst.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn report_writes_every_file_and_compare_pairs_matching_series() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../report/tests/fixtures/quick-run");
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    copy_dir(&fixture, &run);
    let out = run_ok(sandbench().arg("report").arg(&run).args(["--baseline", "runc", "--margin", "10"]));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("Against `runc` (equivalence margin ±10 %"), "{md}");
    for f in ["report.md", "report.html", "summary.json", "series.csv", "trials.csv"] {
        assert!(run.join(f).is_file(), "{f}");
    }
    let bad = sandbench().arg("report").arg(&run).args(["--baseline", "kata"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("valid: native, runc, qemu-microvm"));
    // A run compared with itself: every series pairs, and nothing differs.
    let out = run_ok(sandbench().arg("compare").arg(&run).arg(&run));
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("| 1.000 |").count(), 6, "{text}");
    assert!(!text.contains("Higher") && !text.contains("Lower"), "{text}");
    assert!(!text.contains("Not paired"));
}

/// The quickstart's two parts: `--workload` keeps only the named workloads (an unknown name is
/// refused with the campaign's names), a run whose stderr is not a terminal prints a line per
/// trial, and an AI kind with no agent that has the inference engines is refused before
/// anything launches, with the command that builds one.
#[test]
fn workload_filter_progress_lines_and_the_agent_without_engines() {
    let tmp = tempfile::tempdir().unwrap();
    let workloads = "[[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = { events = 50 }\n\
                     [[workload]]\nname = \"noop\"\nkind = \"noop\"\n\
                     [[workload]]\nname = \"classify\"\nkind = \"classify\"\nparams = { inputs = [\"coffee.png\"] }\n";
    let c = write(tmp.path(), "c.toml", &campaign("parts", 120, &[native_env(512)], workloads));
    let out = tmp.path().join("r");
    let ran =
        run_ok(sandbench().arg("run").arg(&c).args(["--workload", "cpu", "--workload", "noop", "--out"]).arg(&out));
    let stderr = String::from_utf8_lossy(&ran.stderr);
    for line in ["native · cpu · trial 1: ok", "native · noop · trial 1: ok"] {
        assert!(stderr.contains(line), "no `{line}` in:\n{stderr}");
    }
    let run = only_run(&out);
    let kinds: Vec<String> = records(&run).iter().map(|r| r.dims.kind.to_string()).collect();
    assert_eq!(kinds, ["cpu", "noop"]);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert!(!m["campaign_text"].as_str().unwrap().contains("classify"), "{}", m["campaign_text"]);

    let bad = sandbench().arg("run").arg(&c).args(["--workload", "detect", "--out"]).arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(err.contains("--workload detect") && err.contains("cpu, noop, classify"), "{err}");

    // No dynamic agent: classify needs the engines, which the static agent has only when it
    // was built with them (scripts/build-agent.sh builds it without).
    let agent = std::fs::read(std::env::var_os("SANDBENCH_AGENT").unwrap()).unwrap();
    let static_has_engines = sandbench_protocol::agent_has_engines(&agent).unwrap_or(true);
    let ai = sandbench()
        .arg("run")
        .arg(&c)
        .args(["--workload", "classify", "--quiet", "--out"])
        .arg(tmp.path().join("ai"))
        .env("SANDBENCH_AGENT_DYNAMIC", tmp.path().join("no-such-agent"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&ai.stderr);
    if static_has_engines {
        assert!(ai.status.success(), "{err}");
    } else {
        assert_eq!(ai.status.code(), Some(2), "{err}");
        assert!(err.contains("inference engines") && err.contains("scripts/build-agent.sh"), "{err}");
        assert!(!tmp.path().join("ai").exists() || std::fs::read_dir(tmp.path().join("ai")).unwrap().count() <= 1);
    }
}
