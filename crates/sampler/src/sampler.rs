//! The sampling thread and the series it produces.

use crate::board::{self, Board, BoardSample};
use crate::snapshot::{read_snapshot, Snapshot};
use crate::{ticks_per_second, Accounting};
use sandbench_spec::HostSummary;
use std::io::Write;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One interval's rates. CPU in percent where 100 % = one core, as `top` prints it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// End of the interval, ms since the sampler started.
    pub t_ms: f64,
    pub cpu_pct: f64,
    pub user_pct: f64,
    pub system_pct: f64,
    pub guest_pct: f64,
    /// CPU of the accounted host processes (runtime, shim, VMM, agent), whatever the cgroup
    /// says: where a sandbox has a cgroup, the two can differ (a VM runtime's VMM outside the
    /// container cgroup, which is what `docker stats` reads).
    pub tree_cpu_pct: Option<f64>,
    pub pss_kib: Option<u64>,
    pub uss_kib: Option<u64>,
    pub cgroup_mem_kib: Option<u64>,
    /// Usage minus inactive file pages (what `docker stats` shows); not in the CSV.
    pub cgroup_working_set_kib: Option<u64>,
    /// System-wide /proc/stat split over all cores, 100 % = one core.
    pub sys_user_pct: f64,
    pub sys_system_pct: f64,
    pub sys_iowait_pct: f64,
    pub sys_irq_pct: f64,
    pub sys_softirq_pct: f64,
    pub sys_steal_pct: f64,
    pub sys_guest_pct: f64,
    pub sys_idle_pct: f64,
    /// The board's temperature and clock at the end of the interval (`board`).
    pub board: BoardSample,
}

/// The samples of one trial, plus the sampler's own cost.
#[derive(Debug, Clone, Default)]
pub struct Series {
    pub samples: Vec<Sample>,
    /// First error met while sampling (the series stops there).
    pub error: Option<String>,
    /// CPU time the sampling thread itself used, in ms.
    pub own_cpu_ms: f64,
    pub wall_ms: f64,
    /// Host power over each sample's interval, where the run has a power source (filled in
    /// by the runner, which owns the source); written as the CSV's `power_w`.
    pub power_w: Vec<Option<f64>>,
    /// `vcgencmd get_throttled` at the start and at the end, on a board that has it.
    pub throttled: Option<(u32, u32)>,
}

/// Samples an [`Accounting`] at a fixed interval on its own thread until stopped.
pub struct Sampler {
    /// Dropping or sending on it wakes the thread for a last sample.
    stop: Option<Sender<()>>,
    handle: Option<JoinHandle<Series>>,
}

impl Sampler {
    /// Takes the first snapshot now and then one every `interval`.
    pub fn start(acc: Accounting, interval: Duration) -> Sampler {
        let (stop, rx) = mpsc::channel();
        let handle =
            std::thread::Builder::new().name("sandbench-sampler".into()).spawn(move || run(acc, interval, &rx)).ok();
        Sampler { stop: Some(stop), handle }
    }

    /// Stops after a last sample and returns the series.
    pub fn stop(mut self) -> Series {
        self.stop.take();
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(s)) => s,
            _ => Series { error: Some("sampler thread failed".into()), ..Default::default() },
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.take();
    }
}

/// CPU time the calling thread has used, in ms (0 where the clock is unavailable).
pub fn thread_cpu_ms() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 * 1e3 + ts.tv_nsec as f64 / 1e6
    } else {
        0.0
    }
}

fn run(acc: Accounting, interval: Duration, stop: &Receiver<()>) -> Series {
    let cpu0 = thread_cpu_ms();
    let start = Instant::now();
    let mut series = Series::default();
    let board = Board::open(&board::sysfs_root());
    let throttled_before = board.throttled();
    // Every snapshot is stamped when its reading starts: that is when its CPU counters are read.
    let first = Instant::now();
    let mut prev = match read_snapshot(&acc) {
        Ok(s) => (first, s),
        Err(e) => {
            series.error = Some(e.to_string());
            return series;
        }
    };
    let mut next = start + interval;
    loop {
        // One wake-up per interval; stop() disconnects the channel and wakes us at once.
        let last = match stop.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Err(RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(RecvTimeoutError::Disconnected) => true,
        };
        let now = Instant::now();
        match read_snapshot(&acc) {
            Ok(snap) => {
                let dt = now.duration_since(prev.0).as_secs_f64();
                // A last reading right after the one before (stop() came a moment after a
                // sample) spans too little time for tick-counted CPU: one tick in a
                // microsecond would read as thousands of percent. It is left out, unless it is
                // the only one (a trial shorter than half an interval).
                if dt > 0.0 && (dt >= interval.as_secs_f64() / 2.0 || series.samples.is_empty()) {
                    let mut s = rates(&prev.1, &snap, dt);
                    s.t_ms = now.duration_since(start).as_secs_f64() * 1e3;
                    s.board = board.read();
                    series.samples.push(s);
                }
                prev = (now, snap);
            }
            Err(e) => {
                // The sandbox went away (e.g. its cgroup was removed): end the series.
                tracing::debug!("sampling stopped: {e}");
                series.error = Some(e.to_string());
                break;
            }
        }
        if last {
            break;
        }
        next += interval;
        if next < Instant::now() {
            next = Instant::now() + interval;
        }
    }
    series.throttled = throttled_before.zip(board.throttled());
    series.own_cpu_ms = thread_cpu_ms() - cpu0;
    series.wall_ms = start.elapsed().as_secs_f64() * 1e3;
    series
}

impl Sample {
    /// The whole host's busy CPU in this sample (every process; 100 % = one core).
    pub fn host_busy_pct(&self) -> f64 {
        self.sys_user_pct
            + self.sys_system_pct
            + self.sys_irq_pct
            + self.sys_softirq_pct
            + self.sys_steal_pct
            + self.sys_guest_pct
    }
}

/// Rates between two snapshots `dt` seconds apart.
///
/// A sandbox cannot use more CPU than the host has: a delta above that (a cgroup counter read
/// as 0 while its cgroup was being set up, then whole, as seen with gVisor's sandboxes; a
/// process with a long past joining the tree) is a counting artefact, not a measurement. The
/// cgroup's figures then give way to the process tree's for that sample, and a tree figure
/// above it is left out.
pub fn rates(a: &Snapshot, b: &Snapshot, dt: f64) -> Sample {
    let hz = ticks_per_second();
    let tick_pct = |x: u64, y: u64| y.saturating_sub(x) as f64 / hz / dt * 100.0;
    // All the host's CPU over `dt`, 100 % = one core, with room for clock jitter.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).max(1) as f64;
    let possible = |pct: f64| pct <= cores * 100.0 * 1.25 + 5.0;
    let mut s = Sample::default();
    let ns_pct = |x: u64, y: u64| y.saturating_sub(x) as f64 / 1e9 / dt * 100.0;
    let cgroup = match (a.cgroup, b.cgroup) {
        (Some(ca), Some(cb)) if ca.cpu_ns > 0 && cb.cpu_ns >= ca.cpu_ns && possible(ns_pct(ca.cpu_ns, cb.cpu_ns)) => {
            Some((ca, cb))
        }
        _ => None,
    };
    match cgroup {
        Some((ca, cb)) => {
            s.cpu_pct = ns_pct(ca.cpu_ns, cb.cpu_ns);
            s.user_pct = ns_pct(ca.user_ns, cb.user_ns);
            s.system_pct = ns_pct(ca.system_ns, cb.system_ns);
        }
        None => {
            s.user_pct = tick_pct(a.proc_user, b.proc_user);
            s.system_pct = tick_pct(a.proc_system, b.proc_system);
            s.cpu_pct = s.user_pct + s.system_pct;
            if !possible(s.cpu_pct) {
                (s.user_pct, s.system_pct, s.cpu_pct) = (0.0, 0.0, 0.0);
            }
        }
    }
    if let Some(cb) = b.cgroup {
        s.cgroup_mem_kib = Some(cb.memory_bytes / 1024);
        s.cgroup_working_set_kib = cb.inactive_file_bytes.map(|i| cb.memory_bytes.saturating_sub(i) / 1024);
    }
    s.guest_pct = tick_pct(a.proc_guest, b.proc_guest);
    if b.pids > 0 {
        s.tree_cpu_pct =
            Some(tick_pct(a.proc_user + a.proc_system, b.proc_user + b.proc_system)).filter(|p| possible(*p));
    }
    s.pss_kib = b.pss_kib;
    s.uss_kib = b.uss_kib;
    let (x, y) = (&a.system, &b.system);
    let total = y.total().saturating_sub(x.total()) as f64;
    let cores_pct = |p: u64, q: u64| {
        // Scale so that 100 % = one core: fraction of all time × 100 × cores.
        if total > 0.0 {
            q.saturating_sub(p) as f64 / total * 100.0 * (total / hz / dt).max(1.0)
        } else {
            0.0
        }
    };
    s.sys_user_pct = cores_pct(x.user + x.nice - x.guest - x.guest_nice, y.user + y.nice - y.guest - y.guest_nice);
    s.sys_system_pct = cores_pct(x.system, y.system);
    s.sys_iowait_pct = cores_pct(x.iowait, y.iowait);
    s.sys_irq_pct = cores_pct(x.irq, y.irq);
    s.sys_softirq_pct = cores_pct(x.softirq, y.softirq);
    s.sys_steal_pct = cores_pct(x.steal, y.steal);
    s.sys_guest_pct = cores_pct(x.guest + x.guest_nice, y.guest + y.guest_nice);
    s.sys_idle_pct = cores_pct(x.idle, y.idle);
    s
}

const CSV_HEADER: &str = "t_ms,cpu_pct,user_pct,system_pct,guest_pct,pss_kib,cgroup_mem_kib,sys_user_pct,sys_system_pct,sys_iowait_pct,sys_irq_pct,sys_softirq_pct,sys_steal_pct,sys_guest_pct,sys_idle_pct,tree_cpu_pct,power_w,soc_temp_c,cpu_freq_pct";

impl Series {
    /// Writes the series as CSV (empty cells for values the sandbox has not got).
    pub fn write_csv(&self, mut w: impl Write) -> std::io::Result<()> {
        writeln!(w, "{CSV_HEADER}")?;
        let opt = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (i, s) in self.samples.iter().enumerate() {
            writeln!(
                w,
                "{:.1},{:.2},{:.2},{:.2},{:.2},{},{},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{:.2},{},{},{},{}",
                s.t_ms,
                s.cpu_pct,
                s.user_pct,
                s.system_pct,
                s.guest_pct,
                opt(s.pss_kib),
                opt(s.cgroup_mem_kib),
                s.sys_user_pct,
                s.sys_system_pct,
                s.sys_iowait_pct,
                s.sys_irq_pct,
                s.sys_softirq_pct,
                s.sys_steal_pct,
                s.sys_guest_pct,
                s.sys_idle_pct,
                s.tree_cpu_pct.map(|v| format!("{v:.2}")).unwrap_or_default(),
                self.power_w.get(i).copied().flatten().map(|v| format!("{v:.3}")).unwrap_or_default(),
                s.board.soc_temp_c.map(|v| format!("{v:.1}")).unwrap_or_default(),
                s.board.cpu_freq_pct.map(|v| format!("{v:.1}")).unwrap_or_default(),
            )?;
        }
        Ok(())
    }

    /// Means and peaks for the trial record; `series` names the CSV file.
    pub fn summary(&self, series: String) -> HostSummary {
        let n = self.samples.len();
        let mean = |f: fn(&Sample) -> f64| {
            if n == 0 {
                0.0
            } else {
                self.samples.iter().map(f).sum::<f64>() / n as f64
            }
        };
        HostSummary {
            samples: n,
            cpu_mean_pct: mean(|s| s.cpu_pct),
            cpu_max_pct: self.samples.iter().map(|s| s.cpu_pct).fold(0.0, f64::max),
            user_mean_pct: mean(|s| s.user_pct),
            system_mean_pct: mean(|s| s.system_pct),
            guest_mean_pct: mean(|s| s.guest_pct),
            tree_cpu_mean_pct: {
                let t: Vec<f64> = self.samples.iter().filter_map(|s| s.tree_cpu_pct).collect();
                (!t.is_empty()).then(|| t.iter().sum::<f64>() / t.len() as f64)
            },
            pss_max_kib: self.samples.iter().filter_map(|s| s.pss_kib).max(),
            uss_max_kib: self.samples.iter().filter_map(|s| s.uss_kib).max(),
            cgroup_mem_max_kib: self.samples.iter().filter_map(|s| s.cgroup_mem_kib).max(),
            cgroup_working_set_max_kib: self.samples.iter().filter_map(|s| s.cgroup_working_set_kib).max(),
            cpu_busy_mean_pct: busy_mean(self.samples.iter().map(|s| s.cpu_pct)),
            first_200pct_ms: self.samples.iter().find(|s| s.cpu_pct >= 200.0).map(|s| s.t_ms),
            series,
            sampler_cpu_ms: self.own_cpu_ms,
            host_busy_mean_pct: (n > 0).then(|| mean(Sample::host_busy_pct)),
            sampler_error: self.error.clone(),
            energy: None,
            board: board::summary(
                &self.samples.iter().map(|s| (s.cpu_pct, s.board)).collect::<Vec<_>>(),
                self.throttled,
            ),
        }
    }
}

/// The AI paper's "CPU while busy": the mean of the samples at or above 100 % (one core), the
/// others (loading, waiting, idle) left out. `None` when no sample reached 100 %.
pub fn busy_mean(cpu_pct: impl Iterator<Item = f64>) -> Option<f64> {
    let busy: Vec<f64> = cpu_pct.filter(|&c| c >= 100.0).collect();
    (!busy.is_empty()).then(|| busy.iter().sum::<f64>() / busy.len() as f64)
}

#[cfg(test)]
mod busy_tests {
    #[test]
    fn busy_mean_keeps_only_samples_of_a_busy_core() {
        let samples = [3.0, 99.9, 100.0, 180.0, 200.0, 40.0];
        assert_eq!(super::busy_mean(samples.into_iter()), Some(160.0));
        assert_eq!(super::busy_mean([5.0, 50.0].into_iter()), None);
    }
}

#[cfg(test)]
mod artefact_tests {
    use super::rates;
    use crate::cgroup::CgroupUsage;
    use crate::proc::CpuTimes;
    use crate::snapshot::Snapshot;

    /// Two snapshots 1 s apart on a 2-core host (both cores busy), the process tree having used
    /// `tree_ticks`, the cgroup's CPU counter going from `from_ns` to `to_ns`.
    fn pair(from_ns: u64, to_ns: u64, tree_ticks: u64) -> (Snapshot, Snapshot) {
        let hz = super::ticks_per_second() as u64;
        let cg = |ns| Some(CgroupUsage { cpu_ns: ns, user_ns: ns, ..Default::default() });
        let a = Snapshot { cgroup: cg(from_ns), pids: 1, ..Default::default() };
        let b = Snapshot {
            cgroup: cg(to_ns),
            proc_user: tree_ticks,
            pids: 1,
            system: CpuTimes { user: 2 * hz, ..Default::default() },
            ..Default::default()
        };
        (a, b)
    }

    #[test]
    fn a_cpu_delta_beyond_the_hosts_cores_is_an_artefact_not_a_sample() {
        let hz = super::ticks_per_second() as u64;
        // A real second of one core, by both counts.
        let (a, b) = pair(5_000_000_000, 6_000_000_000, hz);
        assert!((rates(&a, &b, 1.0).cpu_pct - 100.0).abs() < 1e-6);
        // The cgroup read as 0 (being set up), then whole: its 270 s are not this second's.
        let (a, b) = pair(0, 270_000_000_000, hz / 2);
        let s = rates(&a, &b, 1.0);
        assert!((s.cpu_pct - 50.0).abs() < 1e-6, "the tree's figure instead: {}", s.cpu_pct);
        // A counter that went backwards, and a tree that gained a process with a long past.
        let (a, b) = pair(6_000_000_000, 5_000_000_000, 130 * hz);
        let s = rates(&a, &b, 1.0);
        assert_eq!((s.cpu_pct, s.tree_cpu_pct), (0.0, None));
    }
}
