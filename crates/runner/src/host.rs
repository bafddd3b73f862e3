//! Facts about the host that could explain a number, for `manifest.json`.

use sandbench_spec::Campaign;
use std::collections::BTreeMap;

fn read(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The CPU's `model name` from /proc/cpuinfo.
pub fn cpu_model() -> Option<String> {
    let cpuinfo = read("/proc/cpuinfo")?;
    let model = cpuinfo.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1))?;
    Some(model.trim().to_string())
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
    validation_facts(&mut m);
    m
}

/// `validation`: the summary of this host's `sandbench validate` record (how its numbers
/// matched sysbench, fio, iperf3 and onnxruntime), `validation_outside`: the checks it could not
/// place within ±10 % (each with its interval and verdict), and `validation_file`: where the record is.
fn validation_facts(m: &mut BTreeMap<String, String>) {
    use crate::validation;
    let path = validation::path();
    let (summary, outside) = match validation::load(&path) {
        Ok(v) => {
            let here = m.get("cpu_model").cloned().unwrap_or_default();
            let other =
                if v.cpu_model == here { String::new() } else { format!("made on another CPU ({}): ", v.cpu_model) };
            let outside: Vec<String> = v.not_agreeing().iter().map(|c| c.describe()).collect();
            (format!("{other}{}", v.summary()), if outside.is_empty() { "none".into() } else { outside.join("; ") })
        }
        Err(_) if !path.exists() => (
            format!("not measured: no record at {} (run `sandbench validate` on this host)", path.display()),
            String::new(),
        ),
        Err(e) => (format!("not measured: {e}"), String::new()),
    };
    m.insert("validation".into(), summary);
    if !outside.is_empty() {
        m.insert("validation_outside".into(), outside);
        m.insert("validation_file".into(), path.display().to_string());
    }
}

/// Versions of everything the campaign's environments use.
pub fn versions(c: &Campaign) -> BTreeMap<String, String> {
    c.envs().flat_map(sandbench_sandbox::versions).collect()
}
