//! The docker and containerd drivers against real daemons (scripts/test.sh starts them with
//! scripts/daemons.sh): cpu trials, accounting from the container cgroup and the shim, and no
//! container left behind.

mod common;
use common::*;

const CAMPAIGN: &str = r#"
name = "daemons"
trials = 2
warmup = 1
order = "sequential"
[timeouts]
boot_s = 120
[[environment]]
name = "docker"
driver = "docker"
socket = "/run/sandbench/docker.sock"
vcpus = 2
memory_mib = 512
[[environment]]
name = "containerd"
driver = "containerd"
socket = "/run/sandbench/containerd/containerd.sock"
[[workload]]
name = "cpu"
kind = "cpu"
params = { threads = 2, events = 400 }
"#;

#[test]
fn docker_and_containerd_run_cpu_trials() {
    for s in ["/run/sandbench/docker.sock", "/run/sandbench/containerd/containerd.sock"] {
        assert!(std::path::Path::new(s).exists(), "{s} missing: start the daemons with scripts/daemons.sh start");
    }
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "d.toml", CAMPAIGN);
    // Someone else's container with a sandbox-like name (of a dead pid) but no sandbench label:
    // the stale sweep at the run's start must leave it alone.
    let docker = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(["-H", "unix:///run/sandbench/docker.sock"])
            .args(args)
            .output()
            .unwrap()
    };
    let foreign = "sb999999999-not-ours-1";
    let _ = docker(&["rm", "-f", foreign]);
    // An empty image is enough: the container is created, never started.
    let empty = tmp.path().join("empty.tar");
    assert!(std::process::Command::new("tar")
        .arg("-cf")
        .arg(&empty)
        .arg("-T")
        .arg("/dev/null")
        .status()
        .unwrap()
        .success());
    let imported = docker(&["import", &empty.display().to_string(), "sandbench-test/empty:1"]);
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let created = docker(&["create", "--name", foreign, "sandbench-test/empty:1", "/none"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let (code, run, pid) = run_campaign(&campaign, &tmp.path().join("r"));
    let names = String::from_utf8_lossy(&docker(&["ps", "-a", "--format", "{{.Names}}"]).stdout).into_owned();
    let _ = docker(&["rm", "-f", foreign]);
    assert!(names.lines().any(|n| n == foreign), "the sweep removed a container sandbench did not create");
    let rs = records(&run);
    assert_eq!(code, Some(0), "{:?}", rs.iter().map(|r| &r.error).collect::<Vec<_>>());
    for env in ["docker", "containerd"] {
        let ok = ok_records(&rs, env);
        assert_eq!(ok.len(), 3, "{env}: {:?}", rs.iter().map(|r| &r.error).collect::<Vec<_>>());
        for r in &ok {
            assert_eq!(r.outputs["primes_per_event"], 1228);
            let h = r.host.as_ref().unwrap();
            assert!(h.cgroup_mem_max_kib.unwrap() > 0, "{env}: container cgroup accounted");
            assert!(h.pss_max_kib.unwrap() > 1000, "{env}: shim + container PSS");
            // What `docker stats` shows: usage minus inactive file pages, never above usage.
            let ws = h.cgroup_working_set_max_kib.unwrap();
            assert!(ws > 0 && ws <= h.cgroup_mem_max_kib.unwrap(), "{env}: working set {ws}");
        }
        let facts = &ok[0].launch.as_ref().unwrap().facts;
        assert!(facts.get("cgroup").is_some_and(|c| c.contains("cpuacct") || c.contains("V2")), "{env}: {facts:?}");
        assert!(ok[1].host.as_ref().unwrap().cpu_mean_pct > 10.0, "{env}: 2-thread cpu shows host CPU");
    }
    // Nothing of this run is left in either daemon.
    let ps = std::process::Command::new("docker")
        .args(["-H", "unix:///run/sandbench/docker.sock", "ps", "-a", "--format", "{{.Names}}"])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&ps.stdout).contains(&format!("sb{pid}-")));
    let ls = std::process::Command::new("ctr")
        .args([
            "--address",
            "/run/sandbench/containerd/containerd.sock",
            "--namespace",
            "sandbench",
            "container",
            "ls",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&ls.stdout).contains(&format!("sb{pid}-")));
}

const WORKLOADS: &str = r#"
name = "daemon-workloads"
trials = 1
warmup = 0
order = "sequential"
[timeouts]
boot_s = 120
trial_s = 300
[[environment]]
name = "docker"
driver = "docker"
socket = "/run/sandbench/docker.sock"
vcpus = 2
memory_mib = 2048
[[environment]]
name = "containerd"
driver = "containerd"
socket = "/run/sandbench/containerd/containerd.sock"
vcpus = 2
memory_mib = 2048
[[workload]]
name = "classify"
kind = "classify"
params = { inputs = ["coffee.png", "chelsea.png"] }
[[workload]]
name = "face"
kind = "face"
params = { inputs = ["zidane.jpg"], engine = "tract" }
[[workload]]
name = "fileio"
kind = "fileio"
params = { mode = "rndrw", block_size = "16K", file_size = "8M", io_size = "4M" }
[[workload]]
name = "filemix"
kind = "filemix"
params = { files = 50, file_size = "16K", loops = 30 }
[[workload]]
name = "net"
kind = "net"
params = { msg_size = 1024, time_s = 1 }
[[workload]]
name = "transfer"
kind = "transfer"
params = { files = 30 }
"#;

#[test]
fn docker_and_containerd_run_ai_file_and_network_workloads_with_right_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "w.toml", WORKLOADS);
    let out = tmp.path().join("r");
    let child =
        sandbench().arg("run").arg(&campaign).arg("--out").arg(&out).arg("--quiet").arg("--verify").spawn().unwrap();
    let pid = child.id();
    let status = child.wait_with_output().unwrap().status;
    assert_no_leaks(pid);
    let rs = records(&only_run(&out));
    assert_eq!(rs.len(), 12);
    for r in &rs {
        assert_eq!(r.status, sandbench_spec::Status::Ok, "{} {}: {:?}", r.key.environment, r.key.workload, r.error);
        let facts = &r.launch.as_ref().unwrap().facts;
        assert!(facts["scratch"].contains("writable"), "{facts:?}");
        assert!(facts["network"].starts_with("veth sbh"), "{facts:?}");
        match r.key.workload.as_str() {
            "classify" => assert_eq!(r.outputs["engine"], "onnxruntime"),
            "fileio" => assert_eq!(r.outputs["filesystem"], "overlay", "the container's writable layer"),
            "net" => assert_eq!(r.outputs["bytes_sent"], r.outputs["bytes_received_by_peer"]),
            "transfer" => assert_eq!(r.outputs["checksums_verified"], 30),
            _ => {}
        }
    }
    // --verify checked the classify and face answers (espresso, a cat, two faces).
    assert_eq!(status.code(), Some(0));
}

/// Issue 12's leak audit for the daemon drivers: SIGTERM mid-trial leaves nothing with no later
/// run needed; kill -9 mid-trial leaves containers in the daemons that the next run's sweep
/// removes (they carry sandbench's label), and `--resume` finishes every trial.
#[test]
fn daemon_containers_survive_neither_sigterm_nor_kill_9_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let text = CAMPAIGN
        .replace("trials = 2\nwarmup = 1\norder = \"sequential\"", "trials = 3\nwarmup = 0\norder = \"interleaved\"")
        .replace("params = { threads = 2, events = 400 }", "params = { threads = 1, time_s = 0.5 }");
    let campaign = write(tmp.path(), "k.toml", &text);
    let (pid, run) = start_and_stop(&tmp.path().join("term"), &campaign, 2, libc::SIGTERM);
    assert_no_leaks(pid);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["state"], "interrupted");

    let (pid, run) = start_and_stop(&tmp.path().join("kill"), &campaign, 3, libc::SIGKILL);
    let out = sandbench().arg("run").arg("--resume").arg(&run).arg("--quiet").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("removed stale"), "the killed run's containers were swept: {stderr}");
    assert_no_leaks(pid);
    let ok = records(&run).iter().filter(|r| r.status == sandbench_spec::Status::Ok).count();
    assert_eq!(ok, 6, "every trial finished after --resume");
}
