//! Creating, limiting and removing the cgroups sandbench itself manages (native, and crun on
//! hybrid hosts), in cgroup v1 or v2 — whichever hierarchy holds the cpu and memory controllers.

use sandbench_sampler::CgroupRef;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROOT: &str = "/sys/fs/cgroup";
/// CFS period used for the `vcpus` quota (as `docker --cpus` does).
pub const CFS_PERIOD_US: u64 = 100_000;

/// Which hierarchy the host uses for cpu and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    V1,
    V2,
}

impl Hierarchy {
    pub fn detect() -> Option<Hierarchy> {
        if Path::new(ROOT).join("cgroup.controllers").exists() {
            Some(Hierarchy::V2)
        } else if Path::new(ROOT).join("cpu").exists() && Path::new(ROOT).join("memory").exists() {
            Some(Hierarchy::V1)
        } else {
            None
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Hierarchy::V1 => "v1",
            Hierarchy::V2 => "v2",
        }
    }
}

/// True on a hybrid host whose cgroup2 mount lists controllers: crun then refuses to run
/// (it sees the `unified` hierarchy as usable but cannot place processes).
pub fn hybrid_unified_controllers() -> Option<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("unified/cgroup.controllers")).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// In a child between fork and exec: a private mount namespace without the cgroup2 mount at
/// `/sys/fs/cgroup/unified`, so that a runtime which refuses hybrid hosts (crun) sees a pure
/// cgroup v1 host and manages its cgroups there as usual. Only async-signal-safe calls.
pub fn hide_unified_in_child() -> std::io::Result<()> {
    // SAFETY: unshare, mount and umount2 are plain syscalls with NUL-terminated static strings;
    // nothing here allocates or takes locks.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let root = c"/";
        if libc::mount(
            std::ptr::null(),
            root.as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        ) != 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let unified = c"/sys/fs/cgroup/unified";
        if libc::umount2(unified.as_ptr(), libc::MNT_DETACH) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Where an OCI runtime puts a container whose `cgroupsPath` is `/sandbench/<id>`.
pub fn runtime_cgroup_ref(id: &str) -> Option<CgroupRef> {
    Some(match Hierarchy::detect()? {
        Hierarchy::V1 => CgroupRef::V1 {
            cpuacct: PathBuf::from(ROOT).join("cpuacct/sandbench").join(id),
            memory: PathBuf::from(ROOT).join("memory/sandbench").join(id),
        },
        Hierarchy::V2 => CgroupRef::V2 { dir: PathBuf::from(ROOT).join("sandbench").join(id) },
    })
}

/// A cgroup sandbench created; removed by [`Cgroup::remove`].
#[derive(Debug)]
pub struct Cgroup {
    pub hierarchy: Hierarchy,
    /// One directory per controller (v1) or the single directory (v2).
    pub dirs: Vec<PathBuf>,
    pub reference: CgroupRef,
}

fn write(path: &Path, value: &str) -> std::io::Result<()> {
    std::fs::write(path, value).map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Cgroup {
    /// Creates `sandbench/<id>` with a CPU quota of `vcpus` cores and a memory limit.
    pub fn create(id: &str, vcpus: u32, memory_mib: u64, pids_max: u32) -> std::io::Result<Cgroup> {
        let h = Hierarchy::detect()
            .ok_or_else(|| std::io::Error::other("no cgroup hierarchy with cpu and memory controllers"))?;
        let quota = (vcpus as u64 * CFS_PERIOD_US).to_string();
        let mem = (memory_mib * 1024 * 1024).to_string();
        match h {
            Hierarchy::V1 => {
                let mut dirs = Vec::new();
                for ctrl in ["cpu", "cpuacct", "memory", "pids"] {
                    let d = PathBuf::from(ROOT).join(ctrl).join("sandbench").join(id);
                    // cpu and cpuacct are often one mount with two names.
                    let canon = PathBuf::from(ROOT).join(ctrl).canonicalize().unwrap_or_default();
                    if dirs.iter().any(|x: &PathBuf| x.starts_with(&canon)) || !PathBuf::from(ROOT).join(ctrl).exists()
                    {
                        continue;
                    }
                    std::fs::create_dir_all(&d)?;
                    dirs.push(d);
                }
                let cg = Cgroup {
                    hierarchy: h,
                    reference: runtime_cgroup_ref(id).ok_or_else(|| std::io::Error::other("cgroup v1 paths"))?,
                    dirs,
                };
                let cpu = PathBuf::from(ROOT).join("cpu/sandbench").join(id);
                write(&cpu.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
                write(&cpu.join("cpu.cfs_quota_us"), &quota)?;
                write(&PathBuf::from(ROOT).join("memory/sandbench").join(id).join("memory.limit_in_bytes"), &mem)?;
                let pids = PathBuf::from(ROOT).join("pids/sandbench").join(id);
                if pids.is_dir() {
                    write(&pids.join("pids.max"), &pids_max.to_string())?;
                }
                Ok(cg)
            }
            Hierarchy::V2 => {
                let parent = PathBuf::from(ROOT).join("sandbench");
                std::fs::create_dir_all(&parent)?;
                let _ = write(&PathBuf::from(ROOT).join("cgroup.subtree_control"), "+cpu +memory +pids");
                let _ = write(&parent.join("cgroup.subtree_control"), "+cpu +memory +pids");
                let d = parent.join(id);
                std::fs::create_dir_all(&d)?;
                write(&d.join("cpu.max"), &format!("{quota} {CFS_PERIOD_US}"))?;
                write(&d.join("memory.max"), &mem)?;
                write(&d.join("pids.max"), &pids_max.to_string())?;
                Ok(Cgroup { hierarchy: h, reference: CgroupRef::V2 { dir: d.clone() }, dirs: vec![d] })
            }
        }
    }

    /// The `cgroup.procs` files, opened now so a child can join between fork and exec by
    /// writing "0" (see [`join_in_child`]).
    pub fn open_procs(&self) -> std::io::Result<Vec<File>> {
        self.dirs.iter().map(|d| std::fs::OpenOptions::new().write(true).open(d.join("cgroup.procs"))).collect()
    }

    /// What the limits were, for the record.
    pub fn describe(&self, vcpus: u32, memory_mib: u64) -> String {
        format!(
            "cgroup {} {}: cpu quota {vcpus} × {CFS_PERIOD_US} µs per {CFS_PERIOD_US} µs, memory {memory_mib} MiB",
            self.hierarchy.as_str(),
            self.dirs.first().map(|d| d.display().to_string()).unwrap_or_default()
        )
    }

    /// Kills whatever is still inside and removes the directories.
    pub fn remove(&self) -> std::io::Result<()> {
        remove_dirs(&self.dirs)
    }
}

/// Kills every process in `dirs` and removes them, waiting for the processes to go.
pub fn remove_dirs(dirs: &[PathBuf]) -> std::io::Result<()> {
    let start = Instant::now();
    loop {
        let mut left = false;
        for d in dirs {
            if !d.exists() {
                continue;
            }
            for pid in std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok())
            {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            if std::fs::remove_dir(d).is_err() {
                left = true;
            }
        }
        if !left {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(10) {
            return Err(std::io::Error::other(format!("cgroup {} still busy after 10 s", dirs[0].display())));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Moves the calling process into the cgroups whose `cgroup.procs` files are `procs`.
/// Meant for `pre_exec`: only async-signal-safe calls.
pub fn join_in_child(procs: &[std::os::fd::RawFd]) -> std::io::Result<()> {
    for fd in procs {
        // SAFETY: fd is an open file descriptor owned by the parent for the child's lifetime;
        // write(2) is async-signal-safe.
        let n = unsafe { libc::write(*fd, b"0".as_ptr().cast(), 1) };
        if n != 1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
