//! A run stopped half way (Ctrl-C, or kill -9) leaves a valid results folder, nothing running,
//! and `--resume` finishes it with no finished trial lost or run twice.

mod common;
use common::*;
use sandbench_spec::Status;
use std::collections::HashMap;
use std::path::Path;

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

/// SIGTERM (what systemd and `docker stop` send) tears down like Ctrl-C, even with a second
/// signal during teardown: nothing is left, with no later run needed.
#[test]
fn sigterm_and_a_second_signal_still_tear_everything_down() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "c.toml", CAMPAIGN);
    let root = tmp.path().join("results");
    let (pid, run) = start_and_stop(&root, &campaign, 4, libc::SIGTERM);
    assert_no_leaks(pid);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["state"], "interrupted");
    assert!(records(&run).len() >= 4);
}

/// A second `run --resume` on a folder in use is refused, and the first is not disturbed.
#[test]
fn a_second_resume_of_a_folder_in_use_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let campaign = write(tmp.path(), "c.toml", &CAMPAIGN.replace("time_s = 0.4", "time_s = 1.5"));
    let root = tmp.path().join("results");
    let mut first = sandbench().arg("run").arg(&campaign).arg("--out").arg(&root).arg("--quiet").spawn().unwrap();
    let run = wait_for_run(&root, &mut first, |run| run.join("manifest.json").is_file());
    let second = sandbench().arg("run").arg("--resume").arg(&run).arg("--quiet").output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("another sandbench"), "{stderr}");
    let pid = first.id();
    // SAFETY: plain kill of our own child.
    unsafe {
        libc::kill(pid as i32, libc::SIGINT);
    }
    assert_eq!(first.wait().unwrap().code(), Some(130));
    assert_no_leaks(pid);
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

/// A disk that fills up mid-run: the trial that hit it is recorded as failed with the real
/// error (when the record still fits), the run stops with that error, the folder stays valid,
/// and `--resume` finishes once there is room. A small tmpfs stands in for the full disk.
#[test]
fn a_full_disk_stops_the_run_cleanly_and_resume_finishes_it() {
    if !rustix::process::geteuid().is_root() {
        return skip("a_full_disk_stops_the_run_cleanly_and_resume_finishes_it", "mounting a small tmpfs needs root");
    }
    let tmp = tempfile::tempdir().unwrap();
    let disk = tmp.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let st = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"]).arg(&disk).status();
    assert!(st.unwrap().success());
    let text = "name = \"full\"\ntrials = 40\nwarmup = 0\n[sampling]\ninterval_ms = 10\n\
                [[environment]]\nname = \"native\"\ndriver = \"native\"\n\
                [[workload]]\nname = \"cpu\"\nkind = \"cpu\"\nparams = { threads = 1, time_s = 0.3 }\n";
    let campaign = write(tmp.path(), "c.toml", text);
    // Leave room for the manifest and a few trials only.
    let filler = disk.join("filler");
    std::fs::write(&filler, vec![0u8; 1024 * 1024 - 96 * 1024]).unwrap_or(());
    let root = disk.join("results");
    let out = sandbench().arg("run").arg(&campaign).arg("--out").arg(&root).arg("--quiet").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let run = only_run(&root);
    let before = records(&run);
    std::fs::remove_file(&filler).unwrap();
    let resumed = sandbench().arg("run").arg("--resume").arg(&run).arg("--quiet").output().unwrap();
    let resumed_err = String::from_utf8_lossy(&resumed.stderr).into_owned();
    let after = records(&run);
    let _ = std::process::Command::new("umount").arg(&disk).status();
    assert_ne!(out.status.code(), Some(0), "a full disk must fail the run");
    assert!(stderr.contains("No space left on device"), "the real error is reported: {stderr}");
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or("");
    assert!(
        error.contains("No space left") && !error.contains("manifest"),
        "the trial's error, not the manifest's: {stderr}"
    );
    assert!(before.len() < 40, "the disk filled before the end: {} records", before.len());
    assert!(resumed.status.success(), "{resumed_err}");
    let ok = after.iter().filter(|r| r.status == Status::Ok).count();
    assert_eq!(ok, 40, "--resume finished every trial");
}
