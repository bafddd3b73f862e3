//! What the agent needs from the system it runs in: PID 1 duties in a VM, raw serial mode,
//! and the guest's own view of time, memory and CPU.

use sandbench_protocol::GuestCpu;
use std::os::fd::AsFd;

/// Mounts what a bare root filesystem lacks when the agent is init (VM guests).
pub fn init_as_pid1() {
    use rustix::mount::{mount, MountFlags};
    let mounts: [(&str, &str, &str); 5] = [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
        ("tmpfs", "/run", "tmpfs"),
    ];
    for (src, target, fstype) in mounts {
        let _ = std::fs::create_dir_all(target);
        // EBUSY when the initramfs already moved the mount here: fine.
        let _ = mount(src, target, fstype, MountFlags::empty(), "");
    }
    let _ = rustix::system::sethostname(b"sandbench-guest");
}

/// Puts a terminal into raw mode (no echo, no line editing, no CR/LF translation), so protocol
/// lines pass through a serial console unchanged. Does nothing on pipes.
pub fn make_raw(fd: &impl AsFd) {
    use rustix::termios::{tcflush, tcgetattr, tcsetattr, OptionalActions, QueueSelector};
    if let Ok(mut t) = tcgetattr(fd) {
        t.make_raw();
        let _ = tcsetattr(fd, OptionalActions::Now, &t);
        // Drop anything typed before raw mode: the host only speaks after `ready`.
        let _ = tcflush(fd, QueueSelector::IFlush);
    }
}

/// Syncs and powers the guest off; QEMU runs with `-no-reboot`, so a reboot ends it.
pub fn power_off() -> ! {
    rustix::fs::sync();
    let _ = rustix::system::reboot(rustix::system::RebootCommand::Restart);
    loop {
        std::thread::park();
    }
}

/// Reports a fatal start-up error on the kernel log and stops.
pub fn fatal(vm: bool, why: &str) -> ! {
    eprintln!("sandbench-agent: fatal: {why}");
    if vm {
        power_off();
    }
    std::process::exit(1)
}

pub fn uptime_ms() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map(|s| s * 1e3)
        .unwrap_or(f64::NAN)
}

pub fn clock_unix_ms() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
}

/// The kernel's current clock source (what `Instant::now` reads), if /sys shows it.
pub fn clocksource() -> Option<String> {
    std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .ok()
        .map(|s| s.trim().to_string())
}

pub fn kernel_release() -> String {
    let u = rustix::system::uname();
    u.release().to_string_lossy().into_owned()
}

pub fn mem_total_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Aggregate CPU jiffies from the guest's /proc/stat: (user+nice, system+irq+softirq, idle, iowait, steal).
#[derive(Debug, Clone, Copy)]
pub struct CpuTimes {
    user: u64,
    system: u64,
    idle: u64,
    iowait: u64,
    steal: u64,
    cpus: u32,
}

pub fn cpu_times() -> Option<CpuTimes> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let cpus = text.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count() as u32;
    let first = text.lines().next()?;
    let v: Vec<u64> = first.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    Some(CpuTimes {
        user: at(0) + at(1),
        system: at(2) + at(5) + at(6),
        idle: at(3),
        iowait: at(4),
        steal: at(7),
        cpus,
    })
}

/// Percent of one CPU (100 % = one CPU) spent in each state between `a` and `b`; `None` when
/// the guest's /proc/stat did not advance (gVisor's is static), so no view can be had.
pub fn cpu_view(a: &CpuTimes, b: &CpuTimes) -> Option<GuestCpu> {
    let d = |x: u64, y: u64| y.saturating_sub(x) as f64;
    let (user, system, idle, iowait, steal) =
        (d(a.user, b.user), d(a.system, b.system), d(a.idle, b.idle), d(a.iowait, b.iowait), d(a.steal, b.steal));
    let total = user + system + idle + iowait + steal;
    if total <= 0.0 {
        return None;
    }
    let scale = 100.0 * b.cpus as f64 / total;
    Some(GuestCpu {
        busy_pct: (user + system) * scale,
        user_pct: user * scale,
        system_pct: system * scale,
        iowait_pct: iowait * scale,
        steal_pct: steal * scale,
        cpus: b.cpus,
    })
}

/// Mounts the VM's scratch disk at /scratch: the virtio disk whose ext4 label is
/// `sbscratch` (found by label, so it works whatever order the VMM enumerates disks in).
/// Returns what happened, for the kernel log.
pub fn mount_scratch() -> String {
    use rustix::mount::{mount, MountFlags};
    let label = sandbench_protocol::SCRATCH_DISK_SERIAL;
    let Ok(entries) = std::fs::read_dir("/sys/block") else { return "no /sys/block".into() };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("vd") {
            continue;
        }
        let dev = format!("/dev/{name}");
        if ext4_label(&dev).as_deref() != Some(label) {
            continue;
        }
        let target = sandbench_protocol::SCRATCH_DIR;
        return match mount(dev.as_str(), target, "ext4", MountFlags::NOATIME, "noinit_itable") {
            Ok(()) => format!("scratch disk {dev} mounted at {target}"),
            Err(err) => format!("cannot mount scratch disk {dev} at {target}: {err}"),
        };
    }
    "no scratch disk (no virtio disk labelled sbscratch)".into()
}

/// The volume label of the ext2/3/4 filesystem on `dev`, if it has one.
fn ext4_label(dev: &str) -> Option<String> {
    use std::io::Read;
    let mut sb = [0u8; 2048];
    std::fs::File::open(dev).ok()?.read_exact(&mut sb).ok()?;
    // The superblock starts at byte 1024: magic 0xEF53 at +56, volume name (16 bytes) at +120.
    if sb[1024 + 56..1024 + 58] != [0x53, 0xEF] {
        return None;
    }
    let name = &sb[1024 + 120..1024 + 136];
    let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
    Some(String::from_utf8_lossy(&name[..end]).into_owned())
}
