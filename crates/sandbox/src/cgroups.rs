//! Creating, limiting and removing the cgroups sandbench itself manages (native, and crun on
//! hybrid hosts), in cgroup v1 or v2 — whichever hierarchy holds the cpu and memory controllers.
//!
//! Everything below the cgroup mount goes through [`CgroupRoot`], whose root is injected (as
//! youki's `create_cgroup_manager_with_root`): the system's is `/sys/fs/cgroup`, and the unit
//! tests give a fixture tree instead, so they run without root.

use sandbench_sampler::CgroupRef;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const ROOT: &str = "/sys/fs/cgroup";

/// Where a cgroup hierarchy is mounted: the system's, or a fixture tree in tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupRoot(PathBuf);

impl CgroupRoot {
    /// The system's cgroup mount, `/sys/fs/cgroup`.
    pub fn system() -> CgroupRoot {
        CgroupRoot(PathBuf::from(ROOT))
    }

    /// A hierarchy mounted at `path` (a fixture tree in tests).
    pub fn at(path: impl Into<PathBuf>) -> CgroupRoot {
        CgroupRoot(path.into())
    }

    fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.0.join(rel)
    }

    /// Which hierarchy holds cpu and memory here.
    pub fn hierarchy(&self) -> Option<Hierarchy> {
        if self.join("cgroup.controllers").exists() {
            Some(Hierarchy::V2)
        } else if self.join("cpu").exists() && self.join("memory").exists() {
            Some(Hierarchy::V1)
        } else {
            None
        }
    }

    /// The controllers a hybrid host's cgroup2 mount (`unified`) lists, when it lists any.
    pub fn hybrid_unified_controllers(&self) -> Option<String> {
        let text = std::fs::read_to_string(self.join("unified/cgroup.controllers")).ok()?;
        let t = text.trim();
        (!t.is_empty()).then(|| t.to_string())
    }

    /// Where an OCI runtime puts a container whose `cgroupsPath` is `/sandbench/<id>`.
    pub fn runtime_ref(&self, id: &str) -> Option<CgroupRef> {
        Some(match self.hierarchy()? {
            Hierarchy::V1 => CgroupRef::V1 {
                cpuacct: self.join("cpuacct/sandbench").join(id),
                memory: self.join("memory/sandbench").join(id),
            },
            Hierarchy::V2 => CgroupRef::V2 { dir: self.join("sandbench").join(id) },
        })
    }
}
/// CFS period used for the `vcpus` quota (as `docker --cpus` does).
pub const CFS_PERIOD_US: u64 = 100_000;

/// Which hierarchy the host uses for cpu and memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hierarchy {
    V1,
    V2,
}

impl Hierarchy {
    /// The system's hierarchy ([`CgroupRoot::system`]).
    pub fn detect() -> Option<Hierarchy> {
        CgroupRoot::system().hierarchy()
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
    CgroupRoot::system().hybrid_unified_controllers()
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

/// Where an OCI runtime puts a container whose `cgroupsPath` is `/sandbench/<id>`, on this host.
pub fn runtime_cgroup_ref(id: &str) -> Option<CgroupRef> {
    CgroupRoot::system().runtime_ref(id)
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
    /// Creates `sandbench/<id>` on this host with a CPU quota of `vcpus` cores, a memory limit
    /// and a pids limit.
    pub fn create(id: &str, vcpus: u32, memory_mib: u64, pids_max: u32) -> std::io::Result<Cgroup> {
        Cgroup::create_in(&CgroupRoot::system(), id, vcpus, memory_mib, pids_max)
    }

    /// [`Cgroup::create`] under `root`.
    pub fn create_in(
        root: &CgroupRoot,
        id: &str,
        vcpus: u32,
        memory_mib: u64,
        pids_max: u32,
    ) -> std::io::Result<Cgroup> {
        let h = root
            .hierarchy()
            .ok_or_else(|| std::io::Error::other("no cgroup hierarchy with cpu and memory controllers"))?;
        let limits = Limits {
            quota: (vcpus as u64 * CFS_PERIOD_US).to_string(),
            memory: (memory_mib * 1024 * 1024).to_string(),
            pids: pids_max.to_string(),
        };
        match h {
            Hierarchy::V1 => create_v1(root, id, &limits),
            Hierarchy::V2 => create_v2(root, id, &limits),
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

/// A cgroup's limits, as written to its files.
struct Limits {
    quota: String,
    memory: String,
    pids: String,
}

/// One directory per v1 controller (cpu and cpuacct are often one mount with two names).
fn create_v1(root: &CgroupRoot, id: &str, limits: &Limits) -> std::io::Result<Cgroup> {
    let mut dirs = Vec::new();
    // The mounts already used, resolved: `cpu` and `cpuacct` are links to one `cpu,cpuacct`.
    let mut mounts: Vec<PathBuf> = Vec::new();
    for ctrl in ["cpu", "cpuacct", "memory", "pids"] {
        let Ok(mount) = root.join(ctrl).canonicalize() else { continue };
        if mounts.contains(&mount) {
            continue;
        }
        let d = root.join(ctrl).join("sandbench").join(id);
        std::fs::create_dir_all(&d)?;
        mounts.push(mount);
        dirs.push(d);
    }
    let reference = root.runtime_ref(id).ok_or_else(|| std::io::Error::other("cgroup v1 paths"))?;
    let cg = Cgroup { hierarchy: Hierarchy::V1, reference, dirs };
    let cpu = root.join("cpu/sandbench").join(id);
    write(&cpu.join("cpu.cfs_period_us"), &CFS_PERIOD_US.to_string())?;
    write(&cpu.join("cpu.cfs_quota_us"), &limits.quota)?;
    write(&root.join("memory/sandbench").join(id).join("memory.limit_in_bytes"), &limits.memory)?;
    let pids = root.join("pids/sandbench").join(id);
    if pids.is_dir() {
        write(&pids.join("pids.max"), &limits.pids)?;
    }
    Ok(cg)
}

/// One directory, with cpu, memory and pids enabled for the subtree on the way.
fn create_v2(root: &CgroupRoot, id: &str, limits: &Limits) -> std::io::Result<Cgroup> {
    let parent = root.join("sandbench");
    std::fs::create_dir_all(&parent)?;
    let _ = write(&root.join("cgroup.subtree_control"), "+cpu +memory +pids");
    let _ = write(&parent.join("cgroup.subtree_control"), "+cpu +memory +pids");
    let d = parent.join(id);
    std::fs::create_dir_all(&d)?;
    write(&d.join("cpu.max"), &format!("{} {CFS_PERIOD_US}", limits.quota))?;
    write(&d.join("memory.max"), &limits.memory)?;
    write(&d.join("pids.max"), &limits.pids)?;
    Ok(Cgroup { hierarchy: Hierarchy::V2, reference: CgroupRef::V2 { dir: d.clone() }, dirs: vec![d] })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read(p: PathBuf) -> String {
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// A fixture v1 tree as Debian mounts it: `cpu` and `cpuacct` one mount (`cpu,cpuacct`
    /// with two links), memory, pids, and a hybrid `unified` cgroup2 with controllers.
    fn v1_tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for d in ["cpu,cpuacct", "memory", "pids", "unified"] {
            std::fs::create_dir_all(t.path().join(d)).unwrap();
        }
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpu")).unwrap();
        std::os::unix::fs::symlink("cpu,cpuacct", t.path().join("cpuacct")).unwrap();
        std::fs::write(t.path().join("unified/cgroup.controllers"), "hugetlb\n").unwrap();
        t
    }

    #[test]
    fn v1_limits_go_to_each_controller_once() {
        let t = v1_tree();
        let root = CgroupRoot::at(t.path());
        assert_eq!(root.hierarchy(), Some(Hierarchy::V1));
        assert_eq!(root.hybrid_unified_controllers().as_deref(), Some("hugetlb"));
        let cg = Cgroup::create_in(&root, "sb1-x-1", 2, 512, 64).unwrap();
        // cpu and cpuacct share a mount: three directories, not four.
        assert_eq!(cg.dirs.len(), 3, "{:?}", cg.dirs);
        assert_eq!(read(t.path().join("cpu/sandbench/sb1-x-1/cpu.cfs_quota_us")), "200000");
        assert_eq!(read(t.path().join("cpu/sandbench/sb1-x-1/cpu.cfs_period_us")), "100000");
        assert_eq!(read(t.path().join("memory/sandbench/sb1-x-1/memory.limit_in_bytes")), (512u64 << 20).to_string());
        assert_eq!(read(t.path().join("pids/sandbench/sb1-x-1/pids.max")), "64");
        let CgroupRef::V1 { cpuacct, memory } = cg.reference.clone() else { panic!("{:?}", cg.reference) };
        assert_eq!(cpuacct, t.path().join("cpuacct/sandbench/sb1-x-1"));
        assert_eq!(memory, t.path().join("memory/sandbench/sb1-x-1"));
        assert!(cg.describe(2, 512).contains("cgroup v1") && cg.describe(2, 512).contains("memory 512 MiB"));
    }

    #[test]
    fn v2_limits_go_to_one_directory_with_the_controllers_enabled() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        let root = CgroupRoot::at(t.path());
        assert_eq!(root.hierarchy(), Some(Hierarchy::V2));
        assert_eq!(root.hybrid_unified_controllers(), None);
        let cg = Cgroup::create_in(&root, "sb1-y-2", 1, 256, 32).unwrap();
        let d = t.path().join("sandbench/sb1-y-2");
        assert_eq!(cg.dirs, std::slice::from_ref(&d));
        assert_eq!(read(d.join("cpu.max")), "100000 100000");
        assert_eq!(read(d.join("memory.max")), (256u64 << 20).to_string());
        assert_eq!(read(d.join("pids.max")), "32");
        assert_eq!(read(t.path().join("sandbench/cgroup.subtree_control")), "+cpu +memory +pids");
        assert_eq!(root.runtime_ref("sb1-y-2"), Some(CgroupRef::V2 { dir: d }));
    }

    #[test]
    fn no_hierarchy_is_an_error_not_a_guess() {
        let t = tempfile::tempdir().unwrap();
        let root = CgroupRoot::at(t.path());
        assert_eq!(root.hierarchy(), None);
        assert_eq!(root.runtime_ref("x"), None);
        let e = Cgroup::create_in(&root, "x", 1, 1, 1).unwrap_err();
        assert!(e.to_string().contains("no cgroup hierarchy"), "{e}");
    }

    #[test]
    fn removing_a_cgroup_that_is_gone_is_done() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("sandbench/empty");
        std::fs::create_dir_all(&d).unwrap();
        remove_dirs(&[d.clone(), t.path().join("never-made")]).unwrap();
        assert!(!d.exists());
    }
}
