//! Helpers shared by the integration tests: they drive the real `sandbench` binary.
#![allow(dead_code)]

use sandbench_runner::ResultsDir;
use sandbench_spec::{Status, TrialRecord};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn sandbench() -> Command {
    assert!(
        std::env::var_os("SANDBENCH_AGENT").is_some(),
        "SANDBENCH_AGENT must name the static agent; run the suite with scripts/test.sh"
    );
    Command::new(env!("CARGO_BIN_EXE_sandbench"))
}

/// Says that a test is skipped and why, in the form scripts/test-summary.py counts: only for a
/// prerequisite that cannot exist on this machine.
pub fn skip(test: &str, why: &str) {
    eprintln!("sandbench-test: skipped: {test}: {why}");
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `sandbench run <campaign> --out <out>` to its end, checks that nothing of it is left
/// running or mounted, and returns its exit code, results folder and pid.
pub fn run_campaign(campaign: &Path, out: &Path) -> (Option<i32>, PathBuf, u32) {
    let child = sandbench().arg("run").arg(campaign).arg("--out").arg(out).arg("--quiet").spawn().unwrap();
    let pid = child.id();
    let status = child.wait_with_output().unwrap().status;
    assert_no_leaks(pid);
    (status.code(), only_run(out), pid)
}

/// The one results folder under `root`.
pub fn only_run(root: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs[0].clone()
}

pub fn records(run: &Path) -> Vec<TrialRecord> {
    ResultsDir::open(run).unwrap().records(false).unwrap()
}

pub fn ok_records<'a>(rs: &'a [TrialRecord], env: &str) -> Vec<&'a TrialRecord> {
    rs.iter().filter(|r| r.key.environment == env && r.status == Status::Ok).collect()
}

/// Asserts that nothing of the sandbench process `pid` is left: no VMM or container process,
/// no container in sandbench's runtime state, no cgroup, no work directory.
pub fn assert_no_leaks(pid: u32) {
    let prefix = format!("sb{pid}-");
    let mut leaks = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if text.contains(&prefix) && !text.contains("cargo") {
                leaks.push(format!("process {}: {text}", e.file_name().to_string_lossy()));
            }
        }
    }
    for base in ["/sys/fs/cgroup", "/run/sandbench", "/run/sandbench/work", "/var/tmp/sandbench-scratch"] {
        let mut stack = vec![PathBuf::from(base)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(&prefix) {
                    leaks.push(format!("path {}", e.path().display()));
                } else if e.path().is_dir() && d.components().count() < 6 && !e.path().is_symlink() {
                    stack.push(e.path());
                }
            }
        }
    }
    assert!(leaks.is_empty(), "leaked after the run: {leaks:#?}");
}

/// A campaign comparing native, a runc container and a QEMU microvm guest (TCG here): one trial
/// each, in order, with `vm_extra` lines added to the VM and `workloads` appended.
pub fn native_runc_microvm(
    name: &str,
    trial_s: u32,
    memory_mib: u64,
    vm_memory_mib: u64,
    vm_extra: &str,
    workloads: &str,
) -> String {
    let envs = [native_env(memory_mib), runc_env(memory_mib), microvm_env(vm_memory_mib, vm_extra)];
    campaign(name, trial_s, &envs, workloads)
}

/// A one-trial, sequential campaign of `environments` × `workloads`.
pub fn campaign(name: &str, trial_s: u32, environments: &[String], workloads: &str) -> String {
    format!(
        r#"name = "{name}"
trials = 1
warmup = 0
order = "sequential"
[timeouts]
trial_s = {trial_s}
boot_s = 240
{}
{workloads}"#,
        environments.join("")
    )
}

/// The environment `native`.
pub fn native_env(memory_mib: u64) -> String {
    format!("\n[[environment]]\nname = \"native\"\ndriver = \"native\"\nvcpus = 2\nmemory_mib = {memory_mib}\n")
}

/// The environment `runc`: an OCI container under runc.
pub fn runc_env(memory_mib: u64) -> String {
    format!(
        "\n[[environment]]\nname = \"runc\"\ndriver = \"oci\"\nruntime = \"runc\"\nvcpus = 2\nmemory_mib = {memory_mib}\n"
    )
}

/// The environment `microvm`: a QEMU microvm guest (TCG here), with `extra` lines added.
pub fn microvm_env(memory_mib: u64, extra: &str) -> String {
    format!(
        "\n[[environment]]\nname = \"microvm\"\ndriver = \"qemu\"\nmachine = \"microvm\"\naccel = \"auto\"\nvcpus = 2\nmemory_mib = {memory_mib}\n{extra}\n"
    )
}
