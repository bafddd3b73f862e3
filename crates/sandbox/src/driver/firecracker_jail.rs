//! Firecracker under its jailer (`jailer = "/path/to/jailer"` in the environment): the jailer
//! makes a chroot `<base>/firecracker/<id>/root`, a cgroup and namespaces, drops privileges and
//! execs Firecracker there. Everything Firecracker opens must be inside the chroot, so the
//! kernel, initramfs and disks are bind-mounted in (read-only where they are), and the config,
//! metrics file and API socket live there too. Teardown unmounts, removes the chroot and the
//! jailer's cgroups.

use crate::SandboxError;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files a microVM uses, as Firecracker sees them: host paths, or paths inside the
/// jailer's chroot.
#[derive(Debug, Clone)]
pub struct VmFiles {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub rootfs: PathBuf,
    pub scratch: Option<PathBuf>,
    /// Where Firecracker flushes its metrics (a file created before start).
    pub metrics: Option<PathBuf>,
}

/// A prepared chroot.
#[derive(Debug)]
pub struct Jail {
    /// `--chroot-base-dir`.
    pub base: PathBuf,
    /// The chroot on the host.
    pub root: PathBuf,
    /// The files as Firecracker sees them inside the chroot.
    pub inside: VmFiles,
    mounts: Vec<PathBuf>,
    id: String,
}

/// The chroot the jailer makes for `exec_file` and `id` under `base`.
pub fn chroot_of(base: &Path, exec_file: &str, id: &str) -> PathBuf {
    let name = Path::new(exec_file).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    base.join(name).join(id).join("root")
}

/// The jailer's arguments (the VMM drops to `uid`:`gid`, never root: the writable files in the
/// chroot are chowned to it), then Firecracker's after `--`, with paths inside the chroot.
pub fn jailer_args(exec_file: &str, id: &str, base: &Path, (uid, gid): (u32, u32)) -> Vec<String> {
    let mut a: Vec<String> = vec!["--id".into(), id.into(), "--exec-file".into(), exec_file.into()];
    a.extend(["--uid".into(), uid.to_string(), "--gid".into(), gid.to_string(), "--chroot-base-dir".into()]);
    a.push(base.display().to_string());
    a.extend(["--", "--config-file", "/firecracker.json", "--api-sock", "/run/firecracker.socket"].map(String::from));
    a
}

fn bind(src: &Path, dst: &Path, read_only: bool) -> Result<(), SandboxError> {
    std::fs::write(dst, b"")
        .map_err(|source| SandboxError::Io { what: format!("create {}", dst.display()), source })?;
    let mut cmd = Command::new("mount");
    cmd.arg("--bind").arg(src).arg(dst);
    let run = |cmd: &mut Command| {
        let out = cmd.output().map_err(|source| SandboxError::Io { what: "mount".into(), source })?;
        if out.status.success() {
            Ok(())
        } else {
            Err(SandboxError::Command {
                command: format!("{cmd:?}"),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    };
    run(&mut cmd)?;
    if read_only {
        run(Command::new("mount").args(["-o", "remount,bind,ro"]).arg(dst))?;
    }
    Ok(())
}

impl Jail {
    /// Makes the chroot under `<work>/jail` and binds `host`'s files into it.
    pub fn prepare(work: &Path, exec_file: &str, id: &str, host: &VmFiles) -> Result<Jail, SandboxError> {
        if !crate::is_root() {
            return Err(SandboxError::Unsupported { why: "the Firecracker jailer needs root".into() });
        }
        let base = work.join("jail");
        let root = chroot_of(&base, exec_file, id);
        std::fs::create_dir_all(root.join("run"))
            .map_err(|source| SandboxError::Io { what: format!("create {}", root.display()), source })?;
        let mut jail = Jail {
            base,
            root: root.clone(),
            inside: VmFiles {
                kernel: "/vmlinux".into(),
                initrd: "/initramfs".into(),
                rootfs: "/rootfs.ext4".into(),
                scratch: host.scratch.as_ref().map(|_| "/scratch.ext4".into()),
                metrics: Some("/metrics".into()),
            },
            mounts: Vec::new(),
            id: id.to_string(),
        };
        let mut files = vec![
            (&host.kernel, "vmlinux", true),
            (&host.initrd, "initramfs", true),
            (&host.rootfs, "rootfs.ext4", true),
        ];
        if let Some(s) = &host.scratch {
            files.push((s, "scratch.ext4", false));
        }
        for (src, name, ro) in files {
            let dst = root.join(name);
            if let Err(e) = bind(src, &dst, ro) {
                jail.remove();
                return Err(e);
            }
            jail.mounts.push(dst);
        }
        Ok(jail)
    }

    /// The jailer's command line for this chroot.
    pub fn command(&self, exec_file: &str, id: &str, ids: (u32, u32)) -> Vec<String> {
        jailer_args(exec_file, id, &self.base, ids)
    }

    /// Gives the VMM's uid the files it must write (scratch disk, metrics): nothing else in
    /// the chroot is its own.
    pub fn hand_over(&self, files: &[&Path], (uid, gid): (u32, u32)) -> Result<(), SandboxError> {
        for f in files {
            std::os::unix::fs::chown(f, Some(uid), Some(gid))
                .map_err(|source| SandboxError::Io { what: format!("chown {}", f.display()), source })?;
        }
        Ok(())
    }

    /// Unmounts, removes the chroot and the jailer's cgroups. Idempotent.
    pub fn remove(&mut self) {
        for m in self.mounts.drain(..) {
            let _ = crate::process::run_bounded(Command::new("umount").arg("-l").arg(&m));
        }
        let _ = std::fs::remove_dir_all(&self.base);
        // The jailer puts Firecracker in <controller>/firecracker/<id> (cgroup v1) or
        // firecracker/<id> (v2); nothing runs there once the VMM is killed.
        let mut dirs = Vec::new();
        for e in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            dirs.push(e.path().join("firecracker").join(&self.id));
        }
        dirs.push(PathBuf::from("/sys/fs/cgroup/firecracker").join(&self.id));
        let dirs: Vec<PathBuf> = dirs.into_iter().filter(|d| d.is_dir()).collect();
        let _ = crate::cgroups::remove_dirs(&dirs);
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chroot_and_arguments_follow_the_jailers_layout() {
        let base = Path::new("/run/sandbench/work/sb1-fc-1/jail");
        assert_eq!(
            chroot_of(base, "/usr/local/bin/firecracker", "sb1-fc-1"),
            PathBuf::from("/run/sandbench/work/sb1-fc-1/jail/firecracker/sb1-fc-1/root")
        );
        let a = jailer_args("/usr/local/bin/firecracker", "sb1-fc-1", base, (65534, 65534)).join(" ");
        assert_eq!(
            a,
            "--id sb1-fc-1 --exec-file /usr/local/bin/firecracker --uid 65534 --gid 65534 --chroot-base-dir \
             /run/sandbench/work/sb1-fc-1/jail -- --config-file /firecracker.json --api-sock /run/firecracker.socket"
        );
    }
}
