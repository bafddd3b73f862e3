//! Pure parsers for /proc text.

/// Aggregate CPU time from the first line of /proc/stat, in ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
    pub guest: u64,
    pub guest_nice: u64,
}

impl CpuTimes {
    /// All time; `user` and `nice` already include guest time on Linux.
    pub fn total(&self) -> u64 {
        self.user + self.nice + self.system + self.idle + self.iowait + self.irq + self.softirq + self.steal
    }
}

/// Parses the `cpu ` line of /proc/stat and counts the per-CPU lines.
pub fn parse_proc_stat(text: &str) -> Option<(CpuTimes, u32)> {
    let mut lines = text.lines();
    let first = lines.next()?;
    if !first.starts_with("cpu ") {
        return None;
    }
    let v: Vec<u64> = first.split_whitespace().skip(1).map(|x| x.parse().ok()).collect::<Option<_>>()?;
    let at = |i| v.get(i).copied().unwrap_or(0);
    let cpus =
        text.lines().filter(|l| l.starts_with("cpu") && l.as_bytes().get(3).is_some_and(u8::is_ascii_digit)).count();
    Some((
        CpuTimes {
            user: at(0),
            nice: at(1),
            system: at(2),
            idle: at(3),
            iowait: at(4),
            irq: at(5),
            softirq: at(6),
            steal: at(7),
            guest: at(8),
            guest_nice: at(9),
        },
        cpus as u32,
    ))
}

/// The fields of /proc/<pid>/stat that sandbench uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PidStat {
    pub pid: u32,
    pub ppid: u32,
    /// Ticks in user mode, guest time included.
    pub utime: u64,
    pub stime: u64,
    pub guest_time: u64,
    pub num_threads: u64,
}

/// Parses /proc/<pid>/stat; the command name may hold spaces and parentheses.
pub fn parse_pid_stat(text: &str) -> Option<PidStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    // Fields after the comm, numbered from 3 (state) as in proc(5).
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let field = |n: usize| -> Option<u64> { rest.get(n - 3)?.parse().ok() };
    Some(PidStat {
        pid,
        ppid: field(4)? as u32,
        utime: field(14)?,
        stime: field(15)?,
        num_threads: field(20)?,
        guest_time: field(43).unwrap_or(0),
    })
}

/// PSS in KiB from /proc/<pid>/smaps_rollup.
pub fn parse_smaps_rollup_pss(text: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix("Pss:").and_then(|v| v.split_whitespace().next()?.parse().ok()))
}

/// USS in KiB from /proc/<pid>/smaps_rollup: the pages only this process maps
/// (`Private_Clean` + `Private_Dirty`), what it would give back by exiting.
pub fn parse_smaps_rollup_uss(text: &str) -> Option<u64> {
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok()))
    };
    Some(field("Private_Clean:")? + field("Private_Dirty:")?)
}

/// Time on CPU in ns from /proc/<pid>/task/<tid>/schedstat.
pub fn parse_schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// Pids listed in a `/proc/<pid>/task/<tid>/children` file.
pub fn parse_children(text: &str) -> Vec<u32> {
    text.split_whitespace().filter_map(|p| p.parse().ok()).collect()
}

/// Every descendant of `roots` (roots included), from a list of (pid, ppid).
pub fn descendants(roots: &[u32], parents: &[(u32, u32)]) -> Vec<u32> {
    let mut out: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        for (pid, ppid) in parents {
            if *ppid == p && !out.contains(pid) {
                out.push(*pid);
            }
        }
        i += 1;
    }
    out
}
