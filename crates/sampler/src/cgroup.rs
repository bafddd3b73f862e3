//! cgroup v1 and v2 accounting files: pure parsers and where to find them.

use std::path::PathBuf;

/// A sandbox's cgroup, in either hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub enum CgroupRef {
    /// cgroup v1: the directories of the cpuacct and memory controllers.
    V1 { cpuacct: PathBuf, memory: PathBuf },
    /// cgroup v2: one directory.
    V2 { dir: PathBuf },
}

/// CPU and memory of a cgroup at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CgroupUsage {
    pub cpu_ns: u64,
    pub user_ns: u64,
    pub system_ns: u64,
    pub memory_bytes: u64,
    /// Page cache the kernel would drop first (`memory.stat`'s inactive file pages), when
    /// readable: usage minus this is the working set `docker stats` and `kubectl top` show.
    pub inactive_file_bytes: Option<u64>,
}

/// v1 `cpuacct.stat`: (user, system) in ticks.
pub fn parse_cpuacct_stat(text: &str) -> Option<(u64, u64)> {
    let mut user = None;
    let mut system = None;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        match (it.next(), it.next().and_then(|v| v.parse().ok())) {
            (Some("user"), Some(v)) => user = Some(v),
            (Some("system"), Some(v)) => system = Some(v),
            _ => {}
        }
    }
    Some((user?, system?))
}

/// A file holding one integer (`cpuacct.usage`, `memory.usage_in_bytes`, `memory.current`).
pub fn parse_single_u64(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// `memory.stat`: inactive file pages in bytes (`total_inactive_file` in v1, which counts the
/// whole subtree, `inactive_file` in v2).
pub fn parse_inactive_file(text: &str) -> Option<u64> {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(key)).then(|| it.next()?.parse::<u64>().ok()).flatten()
        })
    };
    get("total_inactive_file").or_else(|| get("inactive_file"))
}

/// v2 `cpu.stat`: (usage, user, system) in ns.
pub fn parse_cpu_stat_v2(text: &str) -> Option<(u64, u64, u64)> {
    let get = |key: &str| {
        text.lines().find_map(|l| {
            let mut it = l.split_whitespace();
            (it.next() == Some(key)).then(|| it.next()?.parse::<u64>().ok()).flatten()
        })
    };
    Some((get("usage_usec")? * 1000, get("user_usec")? * 1000, get("system_usec")? * 1000))
}
