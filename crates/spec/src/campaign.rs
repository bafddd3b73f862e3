//! The campaign file: environments × workloads × trials. See `docs/CAMPAIGN.md` for every key.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use toml::Spanned;

pub use crate::arch::{Arch, Machine};
pub use crate::driver::{Accel, DiskCache, Driver, HostPageCache, Runtime};
pub use crate::environment::{Environment, Seccomp, DEFAULT_PIDS_MAX};

fn default_warmup() -> u32 {
    1
}
fn default_seed() -> u64 {
    1
}
fn default_trial_timeout() -> f64 {
    300.0
}
fn default_boot_timeout() -> f64 {
    120.0
}
fn default_interval() -> u64 {
    100
}

/// A whole campaign file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// Name used in the results folder's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Measured trials per environment × workload: a count, or a stopping rule.
    #[serde(default)]
    pub trials: crate::trials::Trials,
    /// Warm-up trials before the measured ones (recorded, flagged, excluded from statistics).
    #[serde(default = "default_warmup")]
    pub warmup: u32,
    #[serde(default)]
    pub order: Order,
    /// Seed of the randomized order (and of anything else random in a run).
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub sampling: Sampling,
    /// Energy measurement; absent: `source = "auto"` (a sysfs sensor when the host has one).
    #[serde(default)]
    pub power: crate::power::PowerSpec,
    #[serde(default)]
    pub image: ImageSpec,
    #[serde(rename = "environment", default)]
    pub environments: Vec<Spanned<Environment>>,
    #[serde(rename = "workload", default)]
    pub workloads: Vec<Spanned<WorkloadSpec>>,
    /// Per-host and per-group changes for `sandbench fleet run` (docs/FLEET.md).
    #[serde(default, skip_serializing_if = "crate::fleet::FleetSpec::is_empty")]
    pub fleet: crate::fleet::FleetSpec,
    /// A capacity run instead of a trial series (docs/CAMPAIGN.md, "Capacity").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<crate::capacity::CapacitySpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// Every trial of one environment, then the next.
    Sequential,
    /// Round-robin: trial 1 of every environment, then trial 2, …
    #[default]
    Interleaved,
    /// A seeded shuffle of all trials.
    Randomized,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One sandbox per environment serves all its trials.
    #[default]
    Warm,
    /// A fresh sandbox for every trial.
    Cold,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Seconds a trial may run before it is recorded as `timeout` and its sandbox torn down.
    #[serde(default = "default_trial_timeout")]
    pub trial_s: f64,
    /// Seconds from launch until the agent must be ready.
    #[serde(default = "default_boot_timeout")]
    pub boot_s: f64,
    /// Launches more for one trial when a start hangs (no `ready` within `boot_s`, no error
    /// of the sandbox's own); each hang is recorded in the launch's facts.
    #[serde(default = "default_boot_retries")]
    pub boot_retries: u32,
}

/// Most `timeouts.boot_retries` a campaign may ask for.
pub const MAX_BOOT_RETRIES: u32 = 5;

fn default_boot_retries() -> u32 {
    1
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            trial_s: default_trial_timeout(),
            boot_s: default_boot_timeout(),
            boot_retries: default_boot_retries(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Host sampling interval in milliseconds.
    #[serde(default = "default_interval")]
    pub interval_ms: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { interval_ms: default_interval() }
    }
}

/// Where the guest image comes from; empty means the built-in Debian cloud kernel and a minimal
/// rootfs holding just the agent.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// A bzImage/vmlinuz of your own (q35) — an ELF vmlinux with a PVH note for microvm.
    #[serde(default)]
    pub kernel: Option<PathBuf>,
    /// Modules directory (`lib/modules/<version>`) matching `kernel`, for the virtio drivers.
    #[serde(default)]
    pub modules: Option<PathBuf>,
    /// A root filesystem of your own: a directory or a tar (as `docker export` writes).
    #[serde(default)]
    pub rootfs: Option<PathBuf>,
}

/// One workload with its parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    pub name: String,
    pub kind: sandbench_protocol::Kind,
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// The environments it runs in; empty: every one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
}

impl WorkloadSpec {
    /// Whether it runs in the environment named `env`.
    pub fn runs_in(&self, env: &str) -> bool {
        self.environments.is_empty() || self.environments.iter().any(|e| e == env)
    }
}

/// A campaign file that cannot be used, with where and why.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("{path}: cannot read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}:{column}: {message}")]
    Invalid { path: PathBuf, line: usize, column: usize, message: String },
}

/// A semantic check that failed, and the byte span it concerns.
pub struct Problem {
    pub span: std::ops::Range<usize>,
    pub message: String,
}

/// A `[[fleet.override]]` that names an environment the campaign does not have.
#[derive(Debug, thiserror::Error)]
#[error("[[fleet.override]] #{index}: no environment `{name}`; valid: {}", valid.join(", "))]
pub struct UnknownOverrideEnv {
    /// The override's position in the file, from 1.
    pub index: usize,
    pub name: String,
    pub valid: Vec<String>,
}

impl Campaign {
    /// The campaign one host of a fleet runs: its overrides applied, the fleet section gone.
    /// An override naming an environment the campaign does not have is an error that names
    /// the valid ones.
    pub fn for_host(&self, host: &str, groups: &[String]) -> Result<Campaign, UnknownOverrideEnv> {
        let mut c = self.clone();
        let names: Vec<String> = c.envs().map(|e| e.name.clone()).collect();
        for (i, o) in self.fleet.overrides.iter().enumerate() {
            if let Some(bad) = o.environments.iter().chain(&o.skip).find(|n| !names.contains(n)) {
                return Err(UnknownOverrideEnv { index: i + 1, name: bad.clone(), valid: names });
            }
            if !o.applies_to(host, groups) {
                continue;
            }
            c.environments.retain(|e| !o.skip.contains(&e.get_ref().name));
            for e in c.environments.iter_mut().map(|e| e.get_mut()) {
                if o.environments.is_empty() || o.environments.contains(&e.name) {
                    e.vcpus = o.vcpus.unwrap_or(e.vcpus);
                    e.memory_mib = o.memory_mib.unwrap_or(e.memory_mib);
                }
            }
        }
        c.fleet = crate::fleet::FleetSpec::default();
        Ok(c)
    }
}

impl Campaign {
    /// A campaign of `environments` × `workloads` with every other key at the campaign file's
    /// default, for code that builds one without a file (`sandbench try`).
    pub fn new(name: &str, environments: Vec<Environment>, workloads: Vec<WorkloadSpec>) -> Campaign {
        Campaign {
            name: Some(name.into()),
            trials: Default::default(),
            warmup: default_warmup(),
            order: Order::default(),
            seed: default_seed(),
            mode: Mode::default(),
            timeouts: Timeouts::default(),
            sampling: Sampling::default(),
            power: Default::default(),
            image: ImageSpec::default(),
            environments: environments.into_iter().map(|e| Spanned::new(0..0, e)).collect(),
            workloads: workloads.into_iter().map(|w| Spanned::new(0..0, w)).collect(),
            fleet: Default::default(),
            capacity: None,
        }
    }

    pub fn envs(&self) -> impl Iterator<Item = &Environment> {
        self.environments.iter().map(|e| e.get_ref())
    }

    pub fn workload_specs(&self) -> impl Iterator<Item = &WorkloadSpec> {
        self.workloads.iter().map(|w| w.get_ref())
    }
}

/// Longest trial or boot timeout a campaign may ask for.
pub const MAX_TIMEOUT_S: f64 = 7.0 * 24.0 * 3600.0;

pub(crate) fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 40
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Builds a located error from a byte offset into `text`.
pub fn invalid(path: &Path, text: &str, offset: usize, message: String) -> CampaignError {
    let (line, column) = line_col(text, offset);
    CampaignError::Invalid { path: path.into(), line, column, message }
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..text.floor_char_boundary_compat(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, mut i: usize) -> usize {
        while i > 0 && !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
