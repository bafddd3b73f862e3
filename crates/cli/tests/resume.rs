//! A run stopped half way (Ctrl-C, or kill -9) leaves a valid results folder, nothing running,
//! and `--resume` finishes it with no finished trial lost or run twice.

mod common;
use common::*;
use sandbench_spec::Status;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

const CAMPAIGN: &str = r#"
name = "resume"
trials = 4
warmup = 0
order = "interleaved"
[timeouts]
boot_s = 240
[[environment]]
name = "native"
driver = "native"
[[environment]]
name = "runc"
driver = "oci"
runtime = "runc"
[[environment]]
name = "microvm"
driver = "qemu"
machine = "microvm"
accel = "tcg"
memory_mib = 512
[[workload]]
name = "cpu"
kind = "cpu"
params = { threads = 1, time_s = 0.4 }
"#;

fn lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("trials.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// Starts a run, waits for `n` records, sends `signal`, and returns (pid, results folder).
fn start_and_stop(root: &Path, campaign: &Path, n: usize, signal: i32) -> (u32, std::path::PathBuf) {
    let mut child = sandbench().arg("run").arg(campaign).arg("--out").arg(root).arg("--quiet").spawn().unwrap();
    let pid = child.id();
    let start = Instant::now();
    let run = loop {
        assert!(start.elapsed() < Duration::from_secs(300), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "run ended before it could be interrupted");
        if let Some(run) =
            std::fs::read_dir(root).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path())
        {
            if lines(&run) >= n {
                break run;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // SAFETY: plain kill of our own child.
    unsafe {
        libc::kill(pid as i32, signal);
    }
    let status = child.wait().unwrap();
    if signal == libc::SIGINT {
        assert_eq!(status.code(), Some(130), "Ctrl-C exits with 130");
    }
    (pid, run)
}

fn check_complete(run: &Path) {
    let rs = records(run);
    let mut ok: HashMap<_, usize> = HashMap::new();
    for r in &rs {
        if r.status == Status::Ok {
            *ok.entry(r.key.clone()).or_default() += 1;
        }
    }
    assert_eq!(ok.len(), 12, "every planned trial finished: {ok:?}");
    assert!(ok.values().all(|n| *n == 1), "no trial ran twice: {ok:?}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["state"], "complete");
    assert_eq!(m["resumes"], 1);
}

#[test]
fn ctrl_c_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "c.toml", CAMPAIGN);
    let root = tmp.path().join("results");
    let (pid, run) = start_and_stop(&root, &campaign, 4, libc::SIGINT);
    assert_no_leaks(pid);
    let before = records(&run);
    assert!(before.len() >= 4 && before.len() < 12, "{}", before.len());
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["state"], "interrupted");
    let child = sandbench().arg("run").arg("--resume").arg(&run).arg("--quiet").spawn().unwrap();
    let pid2 = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_no_leaks(pid2);
    check_complete(&run);
    // The records written before the interruption are still there, untouched.
    let after = records(&run);
    assert_eq!(&after[..before.len()], &before[..]);
}

#[test]
fn kill_9_then_resume_reaps_what_was_left() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "c.toml", CAMPAIGN);
    let root = tmp.path().join("results");
    let (pid, run) = start_and_stop(&root, &campaign, 5, libc::SIGKILL);
    // A kill -9 may leave a half-written last line; resume must cope.
    let mut f = std::fs::OpenOptions::new().append(true).open(run.join("trials.jsonl")).unwrap();
    std::io::Write::write_all(&mut f, b"{\"schema\":1,\"key\":{\"envir").unwrap();
    drop(f);
    let out = sandbench().arg("run").arg("--resume").arg(&run).arg("--quiet").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // Warm, interleaved: the runc container was up when sandbench died, and survived it.
    assert!(stderr.contains("removed stale runc container"), "{stderr}");
    // Whatever the killed run left (its container, cgroups, work dirs) is gone now.
    assert_no_leaks(pid);
    check_complete(&run);
}
