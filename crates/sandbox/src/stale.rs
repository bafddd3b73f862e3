//! Cleaning up after a sandbench that was killed (kill -9, power cut): every sandbox id starts
//! with `sb<pid>-`, so whatever belongs to a pid that no longer runs is stale.

use crate::containerd::ctr;
use crate::docker::docker;
use crate::oci::state_root;
use crate::process::run_bounded;
use sandbench_spec::campaign::Runtime;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The label sandbench puts on every docker and containerd container it creates (value: the
/// sandbox id). The sweep removes only containers that carry it.
pub const LABEL: &str = "sandbench.id";

/// The prefix of every sandbox id this process creates.
pub fn id_prefix() -> String {
    format!("sb{}-", std::process::id())
}

/// The owning pid encoded in a sandbox id, if it is one of ours.
pub fn owner_of(id: &str) -> Option<u32> {
    id.strip_prefix("sb")?.split('-').next()?.parse().ok()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn stale(id: &str) -> bool {
    owner_of(id).is_some_and(|p| p != std::process::id() && !alive(p))
}

/// Removes containers, VMM processes, cgroups, work and scratch directories left by dead sandbench
/// processes. Returns what it removed, for the log.
/// `sockets` are the campaign's own docker/containerd sockets (`socket = …`), swept besides the
/// usual ones.
pub fn reap_stale(work_root: &Path, sockets: &[String]) -> Vec<String> {
    let mut removed = runtime_containers();
    // Every daemon call is bounded: a wedged daemon must not hold the run's start.
    removed.extend(docker_containers(&with_defaults(
        [crate::probe::SANDBENCH_DOCKER_SOCKET, "/var/run/docker.sock"],
        sockets,
    )));
    removed.extend(containerd_containers(&with_defaults(
        [crate::probe::SANDBENCH_CONTAINERD_SOCKET, "/run/containerd/containerd.sock"],
        sockets,
    )));
    removed.extend(vmm_processes());
    removed.extend(cgroups());
    removed.extend(crate::net::reap_stale(stale));
    removed.extend(crate::firewall::reap_stale(stale));
    removed.extend(directories(work_root));
    removed
}

/// The usual sockets, those of scripts/daemons.sh, and the campaign's own.
fn with_defaults(defaults: [&str; 2], sockets: &[String]) -> Vec<String> {
    let mut all: Vec<String> = defaults.iter().map(|s| s.to_string()).collect();
    all.extend(sockets.iter().filter(|s| !all.contains(s)).cloned().collect::<Vec<_>>());
    all
}

/// Containers in sandbench's own runtime state roots (runc, crun, runsc).
fn runtime_containers() -> Vec<String> {
    let mut removed = Vec::new();
    for rt in [Runtime::Runc, Runtime::Crun, Runtime::Runsc] {
        let root = state_root(rt);
        let Ok(entries) = std::fs::read_dir(&root) else { continue };
        for id in entries.flatten().filter_map(|e| e.file_name().into_string().ok()).filter(|id| stale(id)) {
            let mk = |args: &[&str]| {
                let _ = run_bounded(crate::oci::runtime_command(rt).args(args));
            };
            mk(&["kill", &id, "KILL"]);
            mk(&["delete", "--force", &id]);
            removed.push(format!("{} container {id}", rt.as_str()));
        }
    }
    removed
}

/// Docker containers carrying sandbench's label.
fn docker_containers(sockets: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for socket in sockets {
        let socket = socket.as_str();
        if !Path::new(socket).exists() {
            continue;
        }
        let names = stdout_of(docker(socket).args([
            "ps",
            "-a",
            "--filter",
            &format!("label={LABEL}"),
            "--format",
            "{{.Names}}",
        ]));
        for id in names.lines().map(str::trim).filter(|id| stale(id)) {
            let _ = run_bounded(docker(socket).args(["rm", "-f", id]));
            removed.push(format!("docker container {id}"));
        }
    }
    removed
}

/// containerd containers (and their tasks) carrying sandbench's label.
fn containerd_containers(sockets: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for socket in sockets {
        let socket = socket.as_str();
        if !Path::new(socket).exists() {
            continue;
        }
        let ids = stdout_of(ctr(socket).args(["container", "ls", "-q"]));
        let labelled = |id: &str| {
            let info =
                serde_json::from_str::<serde_json::Value>(&stdout_of(ctr(socket).args(["container", "info", id])));
            info.is_ok_and(|v| v["Labels"][LABEL] == id)
        };
        for id in ids.lines().map(str::trim).filter(|id| stale(id) && labelled(id)) {
            for args in [
                &["task", "kill", "-s", "SIGKILL", id][..],
                &["task", "delete", "-f", id],
                &["container", "delete", id],
            ] {
                let _ = run_bounded(ctr(socket).args(args));
            }
            removed.push(format!("containerd container {id}"));
        }
    }
    removed
}

/// VMM processes named after a sandbox (`-name sandbench-<id>`).
fn vmm_processes() -> Vec<String> {
    let mut removed = Vec::new();
    if let Ok(procs) = std::fs::read_dir("/proc") {
        for pid in procs.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()) {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
            let args: Vec<String> =
                cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
            let id = args
                .windows(2)
                .find(|w| w[0] == "-name")
                .and_then(|w| w[1].strip_prefix("sandbench-").map(str::to_string));
            if let Some(id) = id.filter(|id| stale(id)) {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
                removed.push(format!("VMM process {pid} ({id})"));
            }
        }
    }
    removed
}

/// cgroups under sandbench/ in every hierarchy, and the jailer's.
fn cgroups() -> Vec<String> {
    let mut removed = Vec::new();
    // cgroups under sandbench/ in every hierarchy.
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(ctrls) = std::fs::read_dir("/sys/fs/cgroup") {
        for ctrl in ctrls.flatten() {
            let base = ctrl.path().join("sandbench");
            for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
                if e.path().is_dir() && e.file_name().to_str().is_some_and(stale) {
                    dirs.push(e.path());
                }
            }
        }
    }
    // v2 puts sandbench/ directly under /sys/fs/cgroup.
    for e in std::fs::read_dir("/sys/fs/cgroup/sandbench").into_iter().flatten().flatten() {
        if e.path().is_dir() && e.file_name().to_str().is_some_and(stale) && !dirs.contains(&e.path()) {
            dirs.push(e.path());
        }
    }
    // The jailer's cgroups: <controller>/firecracker/<id> (v1) or firecracker/<id> (v2).
    let mut jail_bases = vec![PathBuf::from("/sys/fs/cgroup/firecracker")];
    for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        jail_bases.push(ctrl.path().join("firecracker"));
    }
    for base in jail_bases {
        for e in std::fs::read_dir(&base).into_iter().flatten().flatten() {
            if e.path().is_dir() && e.file_name().to_str().is_some_and(stale) && !dirs.contains(&e.path()) {
                dirs.push(e.path());
            }
        }
    }
    if !dirs.is_empty() && crate::cgroups::remove_dirs(&dirs).is_ok() {
        removed.extend(dirs.iter().map(|d| format!("cgroup {}", d.display())));
    }
    removed
}

/// Work dirs and scratch space, unmounting what the jailer bound into them first.
fn directories(work_root: &Path) -> Vec<String> {
    let mut removed = Vec::new();
    for (what, dir) in [("work dir", work_root.to_path_buf()), ("scratch", crate::scratch::root())] {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if e.file_name().to_str().is_some_and(stale) {
                // The jailer's chroot binds files into the work dir: unmount before removing.
                for m in mounts_under(&e.path()) {
                    let _ = run_bounded(Command::new("umount").arg("-l").arg(&m));
                    removed.push(format!("mount {m}"));
                }
                let _ = std::fs::remove_dir_all(e.path());
                removed.push(format!("{what} {}", e.path().display()));
            }
        }
    }
    removed
}

/// What a bounded command printed on stdout; empty when it failed to start or was killed.
fn stdout_of(cmd: &mut Command) -> String {
    run_bounded(cmd).map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Mount points at or below `dir`, deepest first, from /proc/self/mountinfo.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found = mount_points_under(&text, &dir.display().to_string());
    found.sort_by_key(|m| std::cmp::Reverse(m.len()));
    found
}

/// The mount points (field 5 of mountinfo, octal escapes undone) at or below `dir`.
pub fn mount_points_under(mountinfo: &str, dir: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| m.replace("\\040", " "))
        .filter(|m| m == dir || m.starts_with(&format!("{dir}/")))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mounts_below_a_dir_are_found() {
        let info = "36 35 98:0 / /run/sandbench/work/sb1-fc-1/jail/root/vmlinux ro - ext4 /dev/x rw\n\
                    37 35 98:0 / /run/sandbench/work/sb1-fc-10 rw - ext4 /dev/x rw\n";
        assert_eq!(
            super::mount_points_under(info, "/run/sandbench/work/sb1-fc-1"),
            vec!["/run/sandbench/work/sb1-fc-1/jail/root/vmlinux".to_string()]
        );
    }

    #[test]
    fn owner_pid_is_parsed_from_ids() {
        assert_eq!(super::owner_of("sb1234-native-3"), Some(1234));
        assert_eq!(super::owner_of("sbx-native"), None);
        assert_eq!(super::owner_of("other"), None);
        assert!(super::id_prefix().starts_with("sb"));
    }
}
