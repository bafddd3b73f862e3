//! One reading of everything the sampler tracks.

use crate::cgroup::{self, CgroupRef, CgroupUsage};
use crate::proc::{self, CpuTimes};
use crate::{Accounting, SampleError};
use std::path::Path;

/// Cumulative counters at one instant; a sample is the difference of two.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Ticks summed over the sandbox's processes (user includes guest).
    pub proc_user: u64,
    pub proc_system: u64,
    pub proc_guest: u64,
    pub pss_kib: Option<u64>,
    /// USS summed over the sandbox's processes.
    pub uss_kib: Option<u64>,
    pub cgroup: Option<CgroupUsage>,
    pub system: CpuTimes,
    pub pids: usize,
}

fn read(path: &Path) -> Result<String, SampleError> {
    std::fs::read_to_string(path).map_err(|source| SampleError::Read { path: path.display().to_string(), source })
}

fn parsed<T>(path: &Path, v: Option<T>) -> Result<T, SampleError> {
    v.ok_or_else(|| SampleError::Parse { path: path.display().to_string(), what: "unexpected format".into() })
}

/// Every descendant of `roots` (roots included). Walks `/proc/<pid>/task/<tid>/children`,
/// which costs a few reads per sandbox process; falls back to scanning all of /proc on kernels
/// without CONFIG_PROC_CHILDREN.
fn tree(roots: &[u32]) -> Vec<u32> {
    let self_children = format!("/proc/self/task/{}/children", std::process::id());
    if !Path::new(&self_children).exists() {
        return proc::descendants(roots, &process_table());
    }
    let mut out: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < out.len() {
        let pid = out[i];
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            for child in proc::parse_children(&text) {
                if !out.contains(&child) {
                    out.push(child);
                }
            }
        }
        i += 1;
    }
    out
}

/// All (pid, ppid) pairs on the host.
fn process_table() -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let st = proc::parse_pid_stat(&text)?;
            Some((st.pid, st.ppid))
        })
        .collect()
}

fn read_cgroup(cg: &CgroupRef) -> Result<CgroupUsage, SampleError> {
    match cg {
        CgroupRef::V1 { cpuacct, memory } => {
            let p = cpuacct.join("cpuacct.usage");
            let cpu_ns = parsed(&p, cgroup::parse_single_u64(&read(&p)?))?;
            let p = cpuacct.join("cpuacct.stat");
            let (u, s) = parsed(&p, cgroup::parse_cpuacct_stat(&read(&p)?))?;
            let p = memory.join("memory.usage_in_bytes");
            let memory_bytes = parsed(&p, cgroup::parse_single_u64(&read(&p)?))?;
            // cpuacct.stat is in ticks; split the exact ns total in the same proportion.
            let (user_ns, system_ns) = split(cpu_ns, u, s);
            let inactive_file_bytes = inactive_file(memory);
            Ok(CgroupUsage { cpu_ns, user_ns, system_ns, memory_bytes, inactive_file_bytes })
        }
        CgroupRef::V2 { dir } => {
            let p = dir.join("cpu.stat");
            let (cpu_ns, user_ns, system_ns) = parsed(&p, cgroup::parse_cpu_stat_v2(&read(&p)?))?;
            let p = dir.join("memory.current");
            let memory_bytes = parsed(&p, cgroup::parse_single_u64(&read(&p)?))?;
            let inactive_file_bytes = inactive_file(dir);
            Ok(CgroupUsage { cpu_ns, user_ns, system_ns, memory_bytes, inactive_file_bytes })
        }
    }
}

/// Inactive file pages from `memory.stat` in `dir`; optional, as the working set is.
fn inactive_file(dir: &std::path::Path) -> Option<u64> {
    cgroup::parse_inactive_file(&std::fs::read_to_string(dir.join("memory.stat")).ok()?)
}

fn split(total: u64, a: u64, b: u64) -> (u64, u64) {
    if a + b == 0 {
        return (0, 0);
    }
    let ua = (total as u128 * a as u128 / (a + b) as u128) as u64;
    (ua, total - ua)
}

/// Reads one snapshot of `acc` and of the whole system. The counters that are integrated
/// over time (the system's and the cgroup's CPU, the processes' ticks) are read first and
/// together, right when the caller stamped the snapshot's time; PSS last, since reading a
/// process's `smaps_rollup` waits for its memory map lock and can take long (a ptrace-stopped
/// gVisor process took 150 ms), which must not stretch the interval the CPU counters cover.
pub fn read_snapshot(acc: &Accounting) -> Result<Snapshot, SampleError> {
    let stat_path = Path::new("/proc/stat");
    let (system, _) = parsed(stat_path, proc::parse_proc_stat(&read(stat_path)?))?;
    let mut snap = Snapshot { system, ..Default::default() };
    if let Some(cg) = &acc.cgroup {
        snap.cgroup = Some(read_cgroup(cg)?);
    }
    if acc.roots.is_empty() {
        return Ok(snap);
    }
    let pids = tree(&acc.roots);
    for pid in &pids {
        // A process may exit between listing and reading: skip it.
        if let Some(st) =
            std::fs::read_to_string(format!("/proc/{pid}/stat")).ok().as_deref().and_then(proc::parse_pid_stat)
        {
            snap.proc_user += st.utime;
            snap.proc_system += st.stime;
            snap.proc_guest += st.guest_time;
            snap.pids += 1;
        }
    }
    let rollups: Vec<String> =
        pids.iter().filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()).collect();
    let sum = |parse: fn(&str) -> Option<u64>| {
        let v: Vec<u64> = rollups.iter().filter_map(|r| parse(r)).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    };
    snap.pss_kib = sum(proc::parse_smaps_rollup_pss);
    snap.uss_kib = sum(proc::parse_smaps_rollup_uss);
    Ok(snap)
}
