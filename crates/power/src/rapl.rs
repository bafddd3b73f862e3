//! RAPL through powercap sysfs: `class/powercap/intel-rapl:N` (a package, or `psys`) and its
//! sub-zones `intel-rapl:N:M` (`core`, `uncore`, `dram`), each an `energy_uj` counter that
//! wraps at `max_energy_range_uj`. AMD kernels ≥ 5.11 expose the same tree. Since Linux 5.10
//! `energy_uj` is readable by root only (CVE-2020-8694).

use crate::{read_trimmed, Domain, PowerError, Reading, Source, Value};
use sandbench_spec::power::PowerSourceKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One zone of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// `package-0`, `package-0/core`, `package-0/dram`, `psys`.
    pub name: String,
    pub dir: PathBuf,
    pub max_range_uj: u64,
    /// A zone of its own (package, psys); sub-zones are inside their package, except DRAM,
    /// which a package's counter does not include.
    pub top_level: bool,
}

/// The zones under `<root>/class/powercap`, in a stable order. `intel-rapl-mmio` zones repeat
/// the package counters through another interface and are left out.
pub fn discover(sysfs: &Path) -> Result<Vec<Zone>, PowerError> {
    let base = sysfs.join("class/powercap");
    let entries = std::fs::read_dir(&base).map_err(|_| {
        PowerError::Unsupported(format!("no {} (kernel without powercap, or not an x86 host)", base.display()))
    })?;
    let mut dirs: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let idx =
                name.strip_prefix("intel-rapl:")?.split(':').map(|n| n.parse().ok()).collect::<Option<Vec<u32>>>()?;
            Some((idx, e.path()))
        })
        .collect();
    dirs.sort();
    let mut zones: Vec<Zone> = Vec::new();
    let has_psys = dirs.iter().any(|(i, d)| i.len() == 1 && zone_name(d).as_deref() == Some("psys"));
    for (idx, dir) in &dirs {
        let Some(own) = zone_name(dir) else { continue };
        let max_range_uj = read_trimmed(&dir.join("max_energy_range_uj"))?.parse().map_err(|_| PowerError::Parse {
            path: dir.join("max_energy_range_uj").display().to_string(),
            what: "µJ".into(),
        })?;
        let (name, top_level) = match idx.as_slice() {
            [_] => (own.clone(), if has_psys { own == "psys" } else { own != "psys" }),
            [p, ..] => {
                let parent = dirs
                    .iter()
                    .find(|(i, _)| i.as_slice() == [*p])
                    .and_then(|(_, d)| zone_name(d))
                    .unwrap_or_else(|| format!("zone-{p}"));
                (format!("{parent}/{own}"), !has_psys && own == "dram")
            }
            [] => continue,
        };
        zones.push(Zone { name, dir: dir.clone(), max_range_uj, top_level });
    }
    if zones.is_empty() {
        return Err(PowerError::Unsupported(format!("no intel-rapl zone under {}", base.display())));
    }
    Ok(zones)
}

fn zone_name(dir: &Path) -> Option<String> {
    read_trimmed(&dir.join("name")).ok()
}

/// The shortest interval a power estimate (for the wrap check) is taken over.
const MIN_RATE_SPAN_S: f64 = 0.01;

/// Energy since `prev` of a counter that wraps at `max` (one wrap at most can be seen).
pub fn delta_uj(prev: u64, now: u64, max: u64) -> u64 {
    if now >= prev {
        now - prev
    } else {
        (max - prev.min(max)) + now
    }
}

/// The RAPL source: reads every zone's counter per poll and unwraps it.
pub struct Rapl {
    zones: Vec<Zone>,
    domains: Vec<Domain>,
    last: Vec<Option<(Instant, u64)>>,
    total_j: Vec<f64>,
    max_w_seen: Vec<f64>,
}

impl Rapl {
    pub fn open(sysfs: &Path) -> Result<Rapl, PowerError> {
        let zones = discover(sysfs)?;
        for z in &zones {
            let path = z.dir.join("energy_uj");
            if let Err(e) = std::fs::read_to_string(&path) {
                return Err(if e.kind() == std::io::ErrorKind::PermissionDenied {
                    PowerError::Unsupported(format!(
                        "{} is readable by root only since Linux 5.10 (CVE-2020-8694): run sandbench as root",
                        path.display()
                    ))
                } else {
                    PowerError::Read { path: path.display().to_string(), source: e }
                });
            }
        }
        let domains = zones.iter().map(|z| Domain { name: z.name.clone(), top_level: z.top_level }).collect();
        let n = zones.len();
        Ok(Rapl { zones, domains, last: vec![None; n], total_j: vec![0.0; n], max_w_seen: vec![0.0; n] })
    }
}

impl Source for Rapl {
    fn kind(&self) -> PowerSourceKind {
        PowerSourceKind::Rapl
    }

    fn describe(&self) -> String {
        let top: Vec<&str> = self.domains.iter().filter(|d| d.top_level).map(|d| d.name.as_str()).collect();
        format!(
            "rapl: {} (CPU package and DRAM counters, or the platform's psys: not the power at the wall)",
            top.join(" + ")
        )
    }

    fn domains(&self) -> &[Domain] {
        &self.domains
    }

    fn poll(&mut self, out: &mut Vec<Reading>) -> Result<(), PowerError> {
        let at = Instant::now();
        let mut values = Vec::with_capacity(self.zones.len());
        let mut ambiguous = false;
        for (i, z) in self.zones.iter().enumerate() {
            let path = z.dir.join("energy_uj");
            let now: u64 = read_trimmed(&path)?
                .parse()
                .map_err(|_| PowerError::Parse { path: path.display().to_string(), what: "µJ".into() })?;
            if let Some((t, prev)) = self.last[i] {
                let dt = at.duration_since(t).as_secs_f64();
                let d = delta_uj(prev, now, z.max_range_uj) as f64 / 1e6;
                // Over at least 10 ms: two polls a few µs apart that straddle one update of
                // the counter (about every ms) would read as kilowatts.
                if dt >= MIN_RATE_SPAN_S {
                    self.max_w_seen[i] = self.max_w_seen[i].max(d / dt);
                }
                // At the highest power seen, could the counter have gone round more than once?
                ambiguous |= self.max_w_seen[i] * dt >= z.max_range_uj as f64 / 1e6;
                self.total_j[i] += d;
            }
            self.last[i] = Some((at, now));
            values.push(Value::Joules(self.total_j[i]));
        }
        out.push(Reading { at, values, ambiguous, fresh: false });
        Ok(())
    }
}
