//! Host memory as a capacity run watches it: `MemAvailable` from `/proc/meminfo`, and KSM's
//! counters and switch under `/sys/kernel/mm/ksm` (its root injected, for fixture tests).

use std::path::{Path, PathBuf};

/// `MemAvailable` in KiB from the text of `/proc/meminfo`.
pub fn parse_mem_available_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The host's `MemAvailable` in MiB now.
pub fn mem_available_mib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available_kib(&text).map(|k| k as f64 / 1024.0)
}

/// Kernel samepage merging: `<root>/kernel/mm/ksm` (root `/sys`).
pub struct Ksm {
    dir: PathBuf,
}

impl Ksm {
    pub fn at(sys_root: &Path) -> Ksm {
        Ksm { dir: sys_root.join("kernel/mm/ksm") }
    }

    /// The host's, under `$SANDBENCH_SYSFS_ROOT` when set.
    pub fn host() -> Ksm {
        let root = std::env::var_os("SANDBENCH_SYSFS_ROOT").map(PathBuf::from).unwrap_or_else(|| "/sys".into());
        Ksm::at(&root)
    }

    fn read(&self, name: &str) -> Option<u64> {
        std::fs::read_to_string(self.dir.join(name)).ok()?.trim().parse().ok()
    }

    /// Pages sharing a merged page (the memory KSM saves, in pages); `None` without KSM.
    pub fn pages_sharing(&self) -> Option<u64> {
        self.read("pages_sharing")
    }

    /// Whether KSM is merging (`run` = 1).
    pub fn running(&self) -> Option<bool> {
        self.read("run").map(|r| r == 1)
    }

    /// Turns merging on or off (root).
    pub fn set_running(&self, on: bool) -> std::io::Result<()> {
        std::fs::write(self.dir.join("run"), if on { "1" } else { "0" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mem_available_and_ksm_from_fixtures() {
        let text = "MemTotal:       24575540 kB\nMemFree:        23000000 kB\nMemAvailable:   23456789 kB\n";
        assert_eq!(parse_mem_available_kib(text), Some(23_456_789));
        assert_eq!(parse_mem_available_kib("MemTotal: 1 kB\n"), None);
        let dir = std::env::temp_dir().join(format!("sb-ksm-{}", std::process::id()));
        let ksm_dir = dir.join("kernel/mm/ksm");
        std::fs::create_dir_all(&ksm_dir).unwrap();
        std::fs::write(ksm_dir.join("pages_sharing"), "1234\n").unwrap();
        std::fs::write(ksm_dir.join("run"), "0\n").unwrap();
        let k = Ksm::at(&dir);
        assert_eq!((k.pages_sharing(), k.running()), (Some(1234), Some(false)));
        k.set_running(true).unwrap();
        assert_eq!(k.running(), Some(true));
        assert_eq!(Ksm::at(Path::new("/nonexistent")).pages_sharing(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
