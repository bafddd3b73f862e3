//! Facts about the host that could explain a number, for `manifest.json`.

use sandbench_spec::Campaign;
use std::collections::BTreeMap;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The CPU's model: x86's `model name` from /proc/cpuinfo; on arm64, which has none, the core
/// named by its `CPU implementer` and `CPU part` (a Pi 4's Cortex-A72 is 0x41/0xd08).
pub fn cpu_model() -> Option<String> {
    cpu_model_of(&read("/proc/cpuinfo")?)
}

/// [`cpu_model`] of a /proc/cpuinfo text.
pub fn cpu_model_of(cpuinfo: &str) -> Option<String> {
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split(':').nth(1))
    };
    if let Some(model) = field("model name") {
        return Some(model.trim().to_string());
    }
    let (implementer, part) = (field("CPU implementer")?.trim(), field("CPU part")?.trim());
    let name = match (implementer, part) {
        ("0x41", "0xd03") => "ARM Cortex-A53",
        ("0x41", "0xd04") => "ARM Cortex-A35",
        ("0x41", "0xd05") => "ARM Cortex-A55",
        ("0x41", "0xd07") => "ARM Cortex-A57",
        ("0x41", "0xd08") => "ARM Cortex-A72",
        ("0x41", "0xd09") => "ARM Cortex-A73",
        ("0x41", "0xd0a") => "ARM Cortex-A75",
        ("0x41", "0xd0b") => "ARM Cortex-A76",
        ("0x41", "0xd0c") => "ARM Neoverse-N1",
        ("0x41", "0xd40") => "ARM Neoverse-V1",
        ("0x41", "0xd49") => "ARM Neoverse-N2",
        ("0x4e", "0x004") => "NVIDIA Carmel",
        _ => return Some(format!("arm64 CPU implementer {implementer} part {part}")),
    };
    Some(format!("{name} (implementer {implementer}, part {part})"))
}

/// CPU model, cores, memory, kernel, distro, governor, cgroup mode, virtualisation hints.
pub fn host_facts() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    if let Some(model) = cpu_model() {
        m.insert("cpu_model".into(), model);
    }
    m.insert("cores".into(), std::thread::available_parallelism().map(|n| n.get().to_string()).unwrap_or_default());
    if let Some(mem) = read("/proc/meminfo")
        .and_then(|t| t.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string()))
    {
        m.insert("mem_total_kib".into(), mem);
    }
    m.insert("kernel".into(), read("/proc/sys/kernel/osrelease").unwrap_or_default());
    if let Some(pretty) = read("/etc/os-release")
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())))
    {
        m.insert("distro".into(), pretty);
    }
    m.insert(
        "cpufreq_governor".into(),
        read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor")
            .unwrap_or_else(|| "unsupported: no cpufreq on this host".into()),
    );
    m.insert("hostname".into(), read("/proc/sys/kernel/hostname").unwrap_or_default());
    m.insert(
        "cgroup".into(),
        sandbench_sandbox::cgroups::Hierarchy::detect()
            .map(|h| h.as_str().to_string())
            .unwrap_or_else(|| "none".into()),
    );
    m.insert(
        "kvm_device".into(),
        if std::path::Path::new("/dev/kvm").exists() { "present".into() } else { "absent".into() },
    );
    m.insert("arch".into(), std::env::consts::ARCH.into());
    board_facts(&mut m);
    m
}

/// `board`: the device tree's model (a Pi, a Jetson); `board_sensors`: what the sampler reads
/// of it with every trial (temperature, clock, throttling), or why nothing.
fn board_facts(m: &mut BTreeMap<String, String>) {
    let sys = sandbench_sampler::board::sysfs_root();
    m.insert(
        "board".into(),
        sandbench_sampler::board::model(&sys)
            .unwrap_or_else(|| "unsupported: no device-tree model (not a board)".into()),
    );
    let board = sandbench_sampler::board::Board::open(&sys);
    let sample = board.read();
    let mut found = Vec::new();
    if let Some(t) = sample.soc_temp_c {
        found.push(format!("SoC {t:.1} °C"));
    }
    if let Some(f) = sample.cpu_freq_pct {
        found.push(format!("CPU clock {f:.0} % of its maximum"));
    }
    if let Some(flags) = board.throttled() {
        found.push(format!("vcgencmd get_throttled {flags:#x}"));
    }
    let sensors = if found.is_empty() {
        "unsupported: no thermal zone, cpufreq or vcgencmd on this host".to_string()
    } else {
        found.join(", ")
    };
    m.insert("board_sensors".into(), sensors);
}

/// Versions of everything the campaign's environments use.
pub fn versions(c: &Campaign) -> BTreeMap<String, String> {
    c.envs().flat_map(sandbench_sandbox::versions).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_cpu_model_on_x86_and_on_a_pi_4() {
        // Fixtures in /proc/cpuinfo's format: an x86 VM (read here) and a Raspberry Pi 4 on
        // 64-bit Raspberry Pi OS (written after its documented layout: no `model name`).
        let x86 = include_str!("../tests/fixtures/cpuinfo/epyc-x86_64.txt");
        assert_eq!(super::cpu_model_of(x86).as_deref(), Some("AMD EPYC"));
        let pi4 = include_str!("../tests/fixtures/cpuinfo/rpi4-arm64.txt");
        assert_eq!(super::cpu_model_of(pi4).as_deref(), Some("ARM Cortex-A72 (implementer 0x41, part 0xd08)"));
        let other = "CPU implementer\t: 0x61\nCPU part\t: 0x022\n";
        assert_eq!(super::cpu_model_of(other).as_deref(), Some("arm64 CPU implementer 0x61 part 0x022"));
        assert_eq!(super::cpu_model_of("processor\t: 0\n"), None);
    }
}
