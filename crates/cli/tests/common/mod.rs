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

/// `sandbench` for the first tier (`crates/cli/tests/stand_in.rs`): no agent, no root, no
/// QEMU or runc needed; its runs use `--debug-mode` (the test stand-in for every sandbox).
pub fn sandbench_unprivileged() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sandbench"));
    c.env_remove("SANDBENCH_AGENT").env_remove("SANDBENCH_AGENT_DYNAMIC");
    c
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
/// The leak audit: everything a sandbench process `pid` may leave behind (processes, cgroups
/// in every hierarchy, work, scratch and receiver dirs, runtime state, the jailer's chroots
/// under the work dirs, links by alias, namespaces, nftables tables, mounts, docker and
/// containerd containers) must be gone.
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
    leaks.extend(link_leaks(pid));
    leaks.extend(container_leaks(&prefix));
    assert!(leaks.is_empty(), "leaked after the run: {leaks:#?}");
}

/// Links, namespaces, nftables tables and mounts of sandbench process `pid`.
fn link_leaks(pid: u32) -> Vec<String> {
    let prefix = format!("sb{pid}-");
    let mut leaks = Vec::new();
    for e in std::fs::read_dir("/sys/class/net").into_iter().flatten().flatten() {
        let alias = std::fs::read_to_string(e.path().join("ifalias")).unwrap_or_default();
        if alias.trim().starts_with(&format!("sandbench {prefix}")) {
            leaks.push(format!("interface {} ({})", e.file_name().to_string_lossy(), alias.trim()));
        }
    }
    for e in std::fs::read_dir("/var/run/netns").into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().starts_with(&format!("sb-{prefix}")) {
            leaks.push(format!("netns {}", e.file_name().to_string_lossy()));
        }
    }
    let tables = Command::new("nft").args(["list", "tables"]).output().map(|o| o.stdout).unwrap_or_default();
    for t in String::from_utf8_lossy(&tables).lines().filter(|l| l.contains(&format!("sandbench_{pid}_"))) {
        leaks.push(format!("nftables {t}"));
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for m in mounts.lines().filter(|l| l.contains(&prefix)) {
        leaks.push(format!("mount {m}"));
    }
    leaks
}

/// Docker and containerd containers (on sandbench's daemons and the system ones) named after
/// one of the sandboxes.
fn container_leaks(prefix: &str) -> Vec<String> {
    let mut leaks = Vec::new();
    for socket in [sandbench_sandbox::driver::docker::SANDBENCH_SOCKET, "/var/run/docker.sock"] {
        if !Path::new(socket).exists() {
            continue;
        }
        let out = Command::new("docker")
            .args(["-H", &format!("unix://{socket}"), "ps", "-a", "--format", "{{.Names}}"])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        for n in String::from_utf8_lossy(&out).lines().filter(|n| n.starts_with(prefix)) {
            leaks.push(format!("docker container {n} on {socket}"));
        }
    }
    for socket in [sandbench_sandbox::driver::containerd::SANDBENCH_SOCKET, "/run/containerd/containerd.sock"] {
        if !Path::new(socket).exists() {
            continue;
        }
        let out = sandbench_sandbox::driver::containerd::ctr(socket)
            .args(["containers", "ls", "-q"])
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default();
        for n in String::from_utf8_lossy(&out).lines().filter(|n| n.starts_with(prefix)) {
            leaks.push(format!("containerd container {n} on {socket}"));
        }
    }
    leaks
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

/// Records written so far in results folder `run`.
pub fn trial_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("trials.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// Waits (at most 300 s, while `child` still runs) for a results folder under `root` that
/// `ready` accepts, and returns it.
pub fn wait_for_run(root: &Path, child: &mut std::process::Child, ready: impl Fn(&Path) -> bool) -> PathBuf {
    let start = std::time::Instant::now();
    loop {
        assert!(start.elapsed() < std::time::Duration::from_secs(300), "no progress");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be stopped");
        let run = std::fs::read_dir(root).ok().and_then(|mut d| d.next()).and_then(|e| e.ok()).map(|e| e.path());
        if let Some(run) = run.filter(|r| ready(r)) {
            return run;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Starts `sandbench run <campaign> --out <root>`, waits for `n` records, sends `signal` (for
/// SIGTERM a SIGINT follows during teardown, which must not cut it short), checks that an
/// interrupted run exits 130, and returns (pid, results folder).
pub fn start_and_stop(root: &Path, campaign: &Path, n: usize, signal: i32) -> (u32, PathBuf) {
    let mut child = sandbench().arg("run").arg(campaign).arg("--out").arg(root).arg("--quiet").spawn().unwrap();
    let pid = child.id();
    let run = wait_for_run(root, &mut child, |run| trial_lines(run) >= n);
    // SAFETY: plain kill of our own child.
    unsafe {
        libc::kill(pid as i32, signal);
    }
    if signal == libc::SIGTERM {
        std::thread::sleep(std::time::Duration::from_millis(150));
        // SAFETY: as above.
        unsafe {
            libc::kill(pid as i32, libc::SIGINT);
        }
    }
    let status = child.wait().unwrap();
    if signal != libc::SIGKILL {
        assert_eq!(status.code(), Some(130), "an interrupted run exits with 130");
    }
    (pid, run)
}
