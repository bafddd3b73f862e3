//! Cleaning up after a sandbench that was killed (kill -9, power cut): every sandbox id starts
//! with `sb<pid>-`, so whatever belongs to a pid that no longer runs is stale.

use crate::process::run_bounded;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::ids::stale;
pub use crate::ids::{id_prefix, owner_of, LABEL};

/// What every driver shares, after each driver's own sweep (`driver::reap_stale`): cgroups,
/// links, firewall tables, work and scratch directories.
pub(crate) fn reap_shared(work_root: &Path) -> Vec<String> {
    let mut removed = sandbench_cgroups();
    removed.extend(crate::net::reap_stale(stale));
    removed.extend(crate::firewall::reap_stale(stale));
    removed.extend(directories(work_root));
    removed
}

/// Kills the processes whose command line `sandbox_of` says belongs to a stale sandbox (a
/// VMM that outlived its sandbench).
pub(crate) fn kill_processes(sandbox_of: fn(&[String]) -> Option<String>) -> Vec<String> {
    let mut removed = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return removed };
    for pid in procs.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()) {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let args: Vec<String> = cmdline.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if let Some(id) = sandbox_of(&args).filter(|id| stale(id)) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
            removed.push(format!("VMM process {pid} ({id})"));
        }
    }
    removed
}

/// Removes the cgroup directories of stale sandboxes directly under each of `bases`.
pub(crate) fn remove_stale_cgroups(bases: &[PathBuf]) -> Vec<String> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for base in bases {
        for e in std::fs::read_dir(base).into_iter().flatten().flatten() {
            if e.path().is_dir() && e.file_name().to_str().is_some_and(stale) && !dirs.contains(&e.path()) {
                dirs.push(e.path());
            }
        }
    }
    if dirs.is_empty() || crate::cgroups::remove_dirs(&dirs).is_err() {
        return Vec::new();
    }
    dirs.iter().map(|d| format!("cgroup {}", d.display())).collect()
}

/// sandbench's cgroups: `<controller>/sandbench/<id>` (v1) and `sandbench/<id>` (v2).
fn sandbench_cgroups() -> Vec<String> {
    let mut bases = Vec::new();
    for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        bases.push(ctrl.path().join("sandbench"));
    }
    bases.push(PathBuf::from("/sys/fs/cgroup/sandbench"));
    remove_stale_cgroups(&bases)
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
pub(crate) fn stdout_of(cmd: &mut Command) -> String {
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
