//! Energy: the campaign's `[power]` section ([`PowerSpec`]) and what a trial records of it
//! ([`EnergySummary`], in the record's `host.energy`). See `docs/ENERGY.md`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where power readings come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PowerSourceKind {
    /// The first of `rapl`, `hwmon`, `vcgencmd` this host has; none is not an error (the run
    /// records `power: unsupported: …`). Never `command`: a meter must be named.
    #[default]
    Auto,
    /// powercap sysfs (`/sys/class/powercap/intel-rapl:*`): CPU package, core, uncore, DRAM, psys.
    Rapl,
    /// hwmon sensors: `power*_input`, `energy*_input`, or voltage × current (Jetson INA3221).
    Hwmon,
    /// Raspberry Pi 5 PMIC: `vcgencmd pmic_read_adc`.
    Vcgencmd,
    /// An external meter: a command printing one reading per line.
    Command,
}

impl PowerSourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PowerSourceKind::Auto => "auto",
            PowerSourceKind::Rapl => "rapl",
            PowerSourceKind::Hwmon => "hwmon",
            PowerSourceKind::Vcgencmd => "vcgencmd",
            PowerSourceKind::Command => "command",
        }
    }
}

impl std::fmt::Display for PowerSourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn default_idle_s() -> f64 {
    5.0
}
fn default_other_load() -> f64 {
    25.0
}

/// `[power]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PowerSpec {
    #[serde(default)]
    pub source: PowerSourceKind,
    /// For `source = "command"`: the meter program and its arguments, run in the campaign
    /// file's folder; it prints watts (or a cumulative joule counter) one reading per line.
    #[serde(default)]
    pub command: Vec<String>,
    /// Domains (RAPL zones, hwmon rails) summed into the trial's energy; empty: the source's
    /// top-level ones (RAPL: psys if present, else packages + DRAM; hwmon: a board input rail
    /// if named, else all).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Polling interval; default: the sampler's `sampling.interval_ms`.
    #[serde(default)]
    pub interval_ms: Option<u64>,
    /// Seconds of idle baseline measured before the first trial and again after the last.
    #[serde(default = "default_idle_s")]
    pub idle_s: f64,
    /// Other host load (CPU not the sandbox's, 100 % = one core) above which a trial's energy
    /// is flagged as shared.
    #[serde(default = "default_other_load")]
    pub other_load_max_pct: f64,
}

impl Default for PowerSpec {
    fn default() -> Self {
        PowerSpec {
            source: PowerSourceKind::Auto,
            command: Vec::new(),
            domains: Vec::new(),
            interval_ms: None,
            idle_s: default_idle_s(),
            other_load_max_pct: default_other_load(),
        }
    }
}

impl PowerSpec {
    /// Problems of the section, as messages naming the key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        match (self.source, self.command.is_empty()) {
            (PowerSourceKind::Command, true) => out.push(
                "`power.source` is \"command\" but `power.command` is missing: the meter program and its arguments, \
                 e.g. command = [\"my-meter\", \"--port\", \"/dev/ttyUSB0\"]"
                    .into(),
            ),
            (s, false) if s != PowerSourceKind::Command => out.push(format!(
                "`power.command` is only read with `power.source = \"command\"` (source is {:?})",
                s.as_str()
            )),
            _ => {}
        }
        if self.interval_ms.is_some_and(|i| !(10..=10_000).contains(&i)) {
            out.push(format!("`power.interval_ms` = {} must lie in [10, 10000]", self.interval_ms.unwrap_or(0)));
        }
        if !(0.0..=600.0).contains(&self.idle_s) {
            out.push(format!("`power.idle_s` = {} must be a number of seconds in [0, 600]", self.idle_s));
        }
        if !(self.other_load_max_pct >= 0.0 && self.other_load_max_pct.is_finite()) {
            out.push(format!("`power.other_load_max_pct` = {} must be ≥ 0", self.other_load_max_pct));
        }
        out
    }
}

/// Energy of one domain over a trial.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DomainEnergy {
    pub energy_j: f64,
    pub power_mean_w: f64,
    pub power_max_w: f64,
}

/// The work a trial's energy paid for: the workload's own count over the interval that did it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkEnergy {
    /// `inference`, `MiB`, `event`.
    pub unit: String,
    pub units: f64,
    /// Start of the working interval, ms after `run` (AI kinds: after the model loaded).
    pub from_ms: f64,
    pub energy_j: f64,
    pub duration_ms: f64,
    /// `energy_j / units`.
    pub j_per_unit: f64,
    /// Units per joule: the efficiency (inferences/J, MiB/J, events/J = throughput per watt).
    pub units_per_j: f64,
}

/// Energy of one trial, measured on the host by the campaign's power source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EnergySummary {
    /// Source and what it measures ("rapl: package-0 + dram", "command: …").
    pub source: String,
    /// Measured over the trial (`run` sent to result received), summed over the domains.
    pub energy_j: f64,
    pub power_mean_w: f64,
    pub power_max_w: f64,
    /// Idle baseline power × trial duration.
    pub energy_idle_j: f64,
    /// `energy_j − energy_idle_j`: what running the trial added.
    pub energy_dynamic_j: f64,
    /// An estimate, never a measurement: the sandbox's share of host CPU time × the dynamic
    /// energy (Kepler's and Scaphandre's attribution), for a host shared with other load.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub energy_attributed_j: Option<f64>,
    /// Times the source's value changed during the trial.
    pub updates: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub domains: BTreeMap<String, DomainEnergy>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub work: Option<WorkEnergy>,
    /// Why this trial's energy is not clean (few updates, ambiguous wraps, other host load).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}
