//! What makes a board's numbers unreliable, read beside the host series: the SoC's temperature
//! (thermal zones), the CPU clock reached against its maximum (cpufreq), and on a Raspberry Pi
//! the firmware's throttling flags (`vcgencmd get_throttled`); and the board's name (the device
//! tree's `model`). A Pi 4 throttles near 80–85 °C and caps its clock on under-voltage; a trial
//! that ran so measured the board, not the sandbox.
//!
//! Every path is under `$SANDBENCH_SYSFS_ROOT` (default `/sys`), so fixture trees stand in for a
//! Pi 4, a Pi 5 and a Jetson Nano in tests (`tests/fixtures/boards/`); `$SANDBENCH_VCGENCMD`
//! names the firmware tool (default `vcgencmd`).

use sandbench_spec::record::BoardSummary;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The sysfs root: `$SANDBENCH_SYSFS_ROOT`, else `/sys`.
pub fn sysfs_root() -> PathBuf {
    std::env::var_os("SANDBENCH_SYSFS_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/sys"))
}

/// One reading of the board.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BoardSample {
    /// The hottest SoC/CPU thermal zone, °C.
    pub soc_temp_c: Option<f64>,
    /// The lowest current clock over the CPUs, in % of each one's maximum.
    pub cpu_freq_pct: Option<f64>,
}

/// The board's sensors, found once.
#[derive(Debug, Clone, Default)]
pub struct Board {
    /// `temp` files of the SoC/CPU thermal zones (all zones when none is named so).
    zones: Vec<PathBuf>,
    /// Per CPU: its `scaling_cur_freq` file and its `cpuinfo_max_freq` in kHz.
    cpus: Vec<(PathBuf, u64)>,
    /// The firmware tool, where it answers.
    vcgencmd: Option<String>,
}

impl Board {
    /// Finds the thermal zones and the CPUs' clocks under `sys`, and `vcgencmd`
    /// (`$SANDBENCH_VCGENCMD`, else on `PATH`).
    pub fn open(sys: &Path) -> Board {
        let program = std::env::var("SANDBENCH_VCGENCMD").unwrap_or_else(|_| "vcgencmd".into());
        Board::open_with(sys, &program)
    }

    /// [`Board::open`] with the firmware tool named.
    pub fn open_with(sys: &Path, vcgencmd: &str) -> Board {
        Board { zones: soc_zones(sys), cpus: cpu_clocks(sys), vcgencmd: answers(vcgencmd) }
    }

    /// Nothing to read on this host (a VM, a desktop without sensors).
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty() && self.cpus.is_empty() && self.vcgencmd.is_none()
    }

    pub fn read(&self) -> BoardSample {
        let temps = self.zones.iter().filter_map(|z| read_u64(z)).map(|milli| milli as f64 / 1000.0);
        let clocks = self.cpus.iter().filter_map(|(cur, max)| read_u64(cur).map(|c| c as f64 / *max as f64 * 100.0));
        BoardSample { soc_temp_c: temps.reduce(f64::max), cpu_freq_pct: clocks.reduce(f64::min) }
    }

    /// The firmware's throttling flags now (`None` without `vcgencmd`).
    pub fn throttled(&self) -> Option<u32> {
        let program = self.vcgencmd.as_deref()?;
        let out = Command::new(program).arg("get_throttled").output().ok()?;
        parse_throttled(&String::from_utf8_lossy(&out.stdout))
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The thermal zones that measure the SoC or CPU (`cpu-thermal` on a Pi, `CPU-therm` on a
/// Jetson, `soc_thermal` elsewhere); all zones where none is named so. A Jetson Nano's
/// `PMIC-Die` zone reads a constant 100 °C and must not count.
fn soc_zones(sys: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(sys.join("class/thermal")) else { return Vec::new() };
    let mut zones: Vec<(String, PathBuf)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("thermal_zone")))
        .filter(|p| p.join("temp").is_file())
        .map(|p| (std::fs::read_to_string(p.join("type")).unwrap_or_default().trim().to_lowercase(), p.join("temp")))
        .collect();
    zones.sort();
    let soc: Vec<PathBuf> =
        zones.iter().filter(|(t, _)| t.contains("cpu") || t.contains("soc")).map(|(_, p)| p.clone()).collect();
    if soc.is_empty() {
        zones.into_iter().filter(|(t, _)| !t.contains("pmic")).map(|(_, p)| p).collect()
    } else {
        soc
    }
}

/// Every CPU's current-clock file with its maximum.
fn cpu_clocks(sys: &Path) -> Vec<(PathBuf, u64)> {
    let Ok(entries) = std::fs::read_dir(sys.join("devices/system/cpu")) else { return Vec::new() };
    let mut cpus: Vec<(PathBuf, u64)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| is_cpu_dir(&n.to_string_lossy())))
        .filter_map(|p| {
            let max = read_u64(&p.join("cpufreq/cpuinfo_max_freq")).filter(|&m| m > 0)?;
            let cur = p.join("cpufreq/scaling_cur_freq");
            cur.is_file().then_some((cur, max))
        })
        .collect();
    cpus.sort();
    cpus
}

fn is_cpu_dir(name: &str) -> bool {
    name.strip_prefix("cpu").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `program` where it answers `get_throttled` (a Raspberry Pi's firmware tool).
fn answers(program: &str) -> Option<String> {
    let out = Command::new(program).arg("get_throttled").output().ok()?;
    parse_throttled(&String::from_utf8_lossy(&out.stdout)).map(|_| program.to_string())
}

/// The board's name: the device tree's `model` (a Pi, a Jetson), `None` elsewhere.
pub fn model(sys: &Path) -> Option<String> {
    let raw = std::fs::read(sys.join("firmware/devicetree/base/model")).ok()?;
    let name = String::from_utf8_lossy(&raw).trim_end_matches('\0').trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// `throttled=0x50005` → 0x50005.
pub fn parse_throttled(text: &str) -> Option<u32> {
    let hex = text.trim().strip_prefix("throttled=")?.trim_start_matches("0x");
    u32::from_str_radix(hex, 16).ok()
}

/// The flags of `vcgencmd get_throttled` in words (bits 0-3: now; 16-19: since boot).
pub fn describe_throttled(flags: u32) -> Vec<&'static str> {
    const BITS: [(u32, &str); 8] = [
        (0, "under-voltage now"),
        (1, "ARM clock capped now"),
        (2, "throttled now"),
        (3, "soft temperature limit now"),
        (16, "under-voltage has occurred"),
        (17, "ARM clock capping has occurred"),
        (18, "throttling has occurred"),
        (19, "soft temperature limit has occurred"),
    ];
    BITS.iter().filter(|(bit, _)| flags & (1 << bit) != 0).map(|(_, w)| *w).collect()
}

/// The flags that speak of this trial: any "now" flag at its start or end, and the
/// "has occurred" flags that were not set at its start.
pub fn during(before: u32, after: u32) -> u32 {
    let now = (before | after) & 0xf;
    let occurred = after & !before & 0xf_0000;
    now | occurred
}

/// A trial's board figures from its samples: the peak temperature, the lowest clock while the
/// sandbox was busy (≥ one core: an idle board lowers its clock by design), and the throttling
/// flags of the trial. `None` where the board has none of them.
pub fn summary(samples: &[(f64, BoardSample)], throttled: Option<(u32, u32)>) -> Option<BoardSummary> {
    let soc_temp_max_c = samples.iter().filter_map(|(_, b)| b.soc_temp_c).reduce(f64::max);
    let cpu_freq_busy_min_pct =
        samples.iter().filter(|(cpu, _)| *cpu >= 100.0).filter_map(|(_, b)| b.cpu_freq_pct).reduce(f64::min);
    let throttled_flags = throttled.map(|(before, after)| during(before, after));
    let throttled = throttled_flags.filter(|&f| f != 0).map(|f| describe_throttled(f).join(", "));
    (soc_temp_max_c.is_some() || cpu_freq_busy_min_pct.is_some() || throttled_flags.is_some()).then_some(BoardSummary {
        soc_temp_max_c,
        cpu_freq_busy_min_pct,
        throttled_flags,
        throttled,
    })
}
