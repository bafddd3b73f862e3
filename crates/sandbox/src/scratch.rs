//! Each sandbox's writable scratch space, where file workloads (`fileio`, `filemix`) write.
//!
//! The guest image's root is read-only and shared by every sandbox, so writes go elsewhere, on
//! the path each technology really gives its workloads:
//! - `native`: a host directory (the host's filesystem);
//! - `oci`: the same kind of host directory, bind-mounted at `/scratch`;
//! - `docker`, `containerd`: the container's own writable layer (`/scratch` inside it);
//! - VMs: a raw ext4 disk image of its own (sparse, `scratch_mib`), attached like the root disk
//!   (same bus, same cache mode) with the serial `sbscratch`; the agent mounts it at `/scratch`.
//!
//! The host side lives under [`root`] on disk (never tmpfs, which would turn disk numbers into
//! memory numbers) and is removed at teardown.

use crate::SandboxError;
use std::path::{Path, PathBuf};
use std::process::Command;

pub use sandbench_protocol::{SCRATCH_DIR as GUEST_DIR, SCRATCH_DISK_SERIAL as DISK_SERIAL, SCRATCH_ENV as ENV};

/// The host folder holding every live sandbox's scratch space: `$SANDBENCH_SCRATCH_ROOT`, else
/// `/var/tmp/sandbench-scratch` for root and `/var/tmp/sandbench-scratch-<uid>` for anyone else
/// (a folder root made is never another user's, and `hostfs::private_dir` refuses it).
pub fn root() -> PathBuf {
    if let Some(p) = std::env::var_os("SANDBENCH_SCRATCH_ROOT") {
        return PathBuf::from(p);
    }
    // SAFETY: geteuid has no preconditions.
    match unsafe { libc::geteuid() } {
        0 => PathBuf::from("/var/tmp/sandbench-scratch"),
        uid => PathBuf::from(format!("/var/tmp/sandbench-scratch-{uid}")),
    }
}

/// Where the transfer receiver of sandbox `id` stores files: beside its scratch space (which
/// a container can write through its bind mount), never inside it.
pub fn received_dir(id: &str) -> PathBuf {
    root().join(format!("{id}.received"))
}

/// One sandbox's scratch space on the host.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    /// Creates `root()/<id>` afresh.
    pub fn create(id: &str) -> Result<Scratch, SandboxError> {
        let dir = root().join(id);
        sandbench_hostfs::private_dir(&root())
            .map_err(|e| SandboxError::Io { what: "the scratch root".into(), source: std::io::Error::other(e) })?;
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir)
            .map_err(|source| SandboxError::Io { what: format!("create scratch {}", dir.display()), source })?;
        Ok(Scratch { dir })
    }

    /// A sparse raw disk of `mib` MiB with an empty ext4 on it, for a VM.
    pub fn disk(&self, mib: u64) -> Result<PathBuf, SandboxError> {
        let img = self.dir.join("scratch.ext4");
        let f = std::fs::File::create(&img)
            .map_err(|source| SandboxError::Io { what: format!("create {}", img.display()), source })?;
        f.set_len(mib << 20).map_err(|source| SandboxError::Io { what: format!("size {}", img.display()), source })?;
        drop(f);
        // Lazy init keeps this fast; the guest mounts with `noinit_itable`, so no background
        // zeroing thread competes with the workload.
        let out = Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", DISK_SERIAL, "-E", "lazy_itable_init=1,lazy_journal_init=1"])
            .arg(&img)
            .output()
            .map_err(|source| SandboxError::Spawn {
                program: "mkfs.ext4".into(),
                source,
                hint: "install it: apt-get install e2fsprogs".into(),
            })?;
        if !out.status.success() {
            return Err(SandboxError::Command {
                command: format!("mkfs.ext4 {}", img.display()),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        Ok(img)
    }

    /// A line for the record: what the scratch space is and which filesystem holds it.
    pub fn describe(&self, how: &str) -> String {
        format!("{how} {} on the host's {}", self.dir.display(), host_fs(&self.dir))
    }

    /// Removes the scratch space. Idempotent.
    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The filesystem type holding `path` on the host, from /proc/self/mounts (longest prefix).
pub fn host_fs(path: &Path) -> String {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mount_fs(&mounts, path).unwrap_or_else(|| "unknown filesystem".into())
}

/// The type of the mount in `mounts` (the /proc/mounts format) that holds `path`.
pub fn mount_fs(mounts: &str, path: &Path) -> Option<String> {
    mounts
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (_dev, at, fs) = (f.next()?, f.next()?, f.next()?);
            path.starts_with(at).then(|| (at.len(), fs.to_string()))
        })
        .max_by_key(|(n, _)| *n)
        .map(|(_, fs)| fs)
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_mount_prefix_wins() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /run tmpfs rw 0 0\ntmpfs /var/tmp/x tmpfs rw 0 0\n";
        assert_eq!(mount_fs(mounts, Path::new("/var/tmp/sandbench-scratch/a")).as_deref(), Some("ext4"));
        assert_eq!(mount_fs(mounts, Path::new("/run/sandbench")).as_deref(), Some("tmpfs"));
        assert_eq!(mount_fs(mounts, Path::new("/var/tmp/x/y")).as_deref(), Some("tmpfs"));
    }

    #[test]
    fn a_vm_scratch_disk_is_a_sparse_ext4_image() {
        let id = format!("unit-{}", std::process::id());
        let s = Scratch::create(&id).unwrap();
        let img = s.disk(64).unwrap();
        let md = std::fs::metadata(&img).unwrap();
        assert_eq!(md.len(), 64 << 20);
        let bytes = std::fs::read(&img).unwrap();
        // The ext4 magic 0xEF53 sits at byte 56 of the superblock, which starts at 1024.
        assert_eq!(&bytes[1024 + 56..1024 + 58], &[0x53, 0xEF]);
        s.remove();
        assert!(!s.dir.exists());
    }
}
