//! Issue 12's hostile-guest suite: the test stand-in `sandbench-hostile-agent` misbehaves in a
//! different way each trial (see its module doc) in native, a runc container and a QEMU
//! microvm (TCG). The host must hold: its memory stays bounded, /run grows by at most the log
//! bound, nothing appears outside the sandbox's space, each trial is recorded with a reason
//! naming what happened, the next trial runs, and nothing leaks.

mod common;
use common::*;
use sandbench_spec::Status;
use std::path::{Path, PathBuf};
use std::time::Duration;

const VICTIM: &str = "/tmp/sandbench-hostile-victim";
/// sandbench's own resident memory may not pass this, whatever the guest sends.
const RSS_BOUND_KIB: u64 = 256 << 10;

/// The test stand-in: scripts/test.sh builds it and exports its path; else next to `sandbench`.
fn hostile_agent() -> PathBuf {
    std::env::var_os("SANDBENCH_HOSTILE_AGENT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_BIN_EXE_sandbench")).parent().unwrap().join("sandbench-hostile-agent"))
}

fn status_kib(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn tree_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(m) = e.path().symlink_metadata() else { continue };
        total += if m.is_dir() { tree_bytes(&e.path()) } else { m.len() };
    }
    total
}

#[test]
fn hostile_guests_cannot_reach_past_their_sandbox() {
    if !rustix::process::geteuid().is_root() {
        return skip("hostile_guests_cannot_reach_past_their_sandbox", "links, containers and cgroups need root");
    }
    let agent = hostile_agent();
    assert!(agent.is_file(), "{} missing: cargo build --release -p sandbench-hostile-agent", agent.display());
    let _ = std::fs::remove_dir_all(VICTIM);
    std::fs::create_dir_all(VICTIM).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let limited = |env: String| format!("{env}pids_max = 64\n");
    let userns = runc_env(512).replace("name = \"runc\"", "name = \"runc-userns\"") + "user_namespace = true\n";
    let envs = [
        limited(native_env(512)),
        limited(runc_env(512)),
        limited(userns),
        microvm_env(256, "cpu_model = \"Nehalem\"\n"),
    ];
    let workload =
        "[[workload]]\nname = \"transfer\"\nkind = \"transfer\"\nparams = { files = 5, file_size = \"1K\" }\n";
    let text = campaign("hostile", 10, &envs, workload).replace("trials = 1", "trials = 9");
    let campaign = write(tmp.path(), "hostile.toml", &text);
    let root = tmp.path().join("results");
    let mut child = sandbench()
        .arg("run")
        .arg(&campaign)
        .arg("--out")
        .arg(&root)
        .arg("--quiet")
        .arg("--agent")
        .arg(&agent)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let run_dir = Path::new("/run/sandbench");
    let (mut max_rss, mut max_run) = (0u64, 0u64);
    let base_run = tree_bytes(run_dir);
    while child.try_wait().unwrap().is_none() {
        max_rss = max_rss.max(status_kib(pid, "VmRSS:").unwrap_or(0));
        max_run = max_run.max(tree_bytes(run_dir).saturating_sub(base_run));
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("hostile suite: sandbench peak RSS {} MiB, /run grew by at most {} KiB", max_rss >> 10, max_run >> 10);
    assert!(max_rss < RSS_BOUND_KIB, "sandbench's RSS reached {max_rss} KiB under the flood");
    // One stderr log of at most 1.5 × its bound, plus bundles and configs.
    assert!(max_run < 8 << 20, "/run grew by {max_run} bytes");
    let victims: Vec<_> = std::fs::read_dir(VICTIM).unwrap().flatten().map(|e| e.path()).collect();
    assert!(victims.is_empty(), "files appeared outside the sandbox: {victims:?}");

    let run = only_run(&root);
    let rs = records(&run);
    for env in ["native", "runc", "runc-userns", "microvm"] {
        let by_trial = |n: u32| {
            rs.iter()
                .rfind(|r| r.key.environment == env && r.dims.trial == n)
                .unwrap_or_else(|| panic!("{env}: no record of trial {n}; {stderr}"))
        };
        let why = |n: u32| format!("{env} trial {n}: {:?} {:?}", by_trial(n).status, by_trial(n).error);
        // 1: stdout flood. In a VM the serial console is too slow to pass the flood bound
        // before the trial timeout; either way the trial does not count.
        let t1 = by_trial(1);
        assert_ne!(t1.status, Status::Ok, "{}", why(1));
        if env != "microvm" {
            assert!(t1.error.as_deref().unwrap_or("").contains("flooded"), "{}", why(1));
        }
        assert_eq!(by_trial(2).status, Status::Timeout, "stderr flood, no answer: {}", why(2));
        let t3 = by_trial(3);
        assert_eq!(t3.status, Status::Ok, "{}", why(3));
        assert_eq!(t3.outputs["late"], true, "forged answers were taken: {}", t3.outputs);
        assert!(t3.host_wall_ms >= 350.0, "{env}: host time forged to {} ms", t3.host_wall_ms);
        assert_eq!(by_trial(4).status, Status::Timeout, "stopped reading: {}", why(4));
        assert_eq!(by_trial(5).status, Status::Ok, "{}", why(5));
        let t6 = by_trial(6);
        assert_eq!(t6.status, Status::Ok, "{}", why(6));
        // The net peer is the one other port its link admits.
        let facts = t6.launch.as_ref().and_then(|l| l.facts.get("network").cloned()).unwrap_or_default();
        let net_peer: Option<u64> = facts
            .split("net peer ")
            .nth(1)
            .and_then(|r| r.split([',', ' ']).next())
            .and_then(|a| a.rsplit(':').next()?.parse().ok());
        let reached: Vec<u64> = t6.outputs["reached"].as_array().unwrap().iter().filter_map(|p| p.as_u64()).collect();
        assert!(reached.iter().all(|p| Some(*p) == net_peer), "{env}: reached host ports {reached:?} ({facts})");
        assert_eq!(t6.outputs["overflow"], "refused", "{env}: an oversized transfer was taken");
        let t7 = by_trial(7);
        assert_eq!(t7.status, Status::Failed, "{}", why(7));
        assert!(t7.error.as_deref().unwrap_or("").contains("closed"), "{}", why(7));
        // 8: the pids limit holds in every cgroup driver; containers refuse namespace and
        // mount calls (seccomp, and no CAP_SYS_ADMIN).
        let t8 = by_trial(8);
        assert_eq!(t8.status, Status::Ok, "{}", why(8));
        if env != "microvm" {
            let threads = t8.outputs["threads"].as_u64().unwrap();
            assert!(threads < 64, "{env}: {threads} threads under pids_max = 64");
        }
        if env.starts_with("runc") {
            assert_eq!(t8.outputs["unshare"], false, "{env}: unshare allowed");
            assert_eq!(t8.outputs["mount"], false, "{env}: mount allowed");
        }
        let t9 = by_trial(9);
        assert_eq!(t9.status, Status::Ok, "the next trial runs: {}", why(9));
        assert_eq!(t9.outputs["checksums_verified"], 5);
    }
    // Every record stays small whatever the guest sent.
    let biggest = std::fs::read_to_string(run.join("trials.jsonl")).unwrap().lines().map(str::len).max().unwrap();
    assert!(biggest < 512 << 10, "a record of {biggest} bytes");
    assert_no_leaks(pid);
    let _ = std::fs::remove_dir_all(VICTIM);
}
