//! Where a host's power comes from, and energy over any interval of a run.
//!
//! Each source kind is one module behind [`Source`]: [`rapl`] (powercap energy counters),
//! [`hwmon`] (hwmon power, energy and voltage × current sensors, and the older Jetson iio
//! layout), [`vcgencmd`] (the Raspberry Pi 5 PMIC) and [`command`] (an external meter printing
//! readings). A [`Meter`] polls one source on its own thread into a bounded [`Ledger`], which
//! answers "how many joules between these two instants" for each domain.
//!
//! Every sysfs path is read below [`sysfs_root`], which `SANDBENCH_SYSFS_ROOT` moves (tests
//! point it at fixture trees; this project's CI machines have no power sensor).

pub mod command;
pub mod hwmon;
mod ledger;
mod meter;
pub mod probe;
pub mod rapl;
pub mod vcgencmd;

pub use ledger::{Ledger, Window};
pub use meter::Meter;
pub use probe::{open, probe_all, Probe};

use sandbench_spec::power::PowerSourceKind;
use std::time::Instant;

/// The directory standing for `/sys`: `$SANDBENCH_SYSFS_ROOT`, or `/sys` (one rule for the power
/// sources and the board's sensors).
pub use sandbench_sampler::board::sysfs_root;

/// What one domain's reading is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// Instantaneous (or since-last-reading average) power in watts.
    Watts(f64),
    /// A cumulative energy counter in joules, already unwrapped by the source.
    Joules(f64),
}

/// A domain a source measures: a RAPL zone, an hwmon rail, a meter.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub name: String,
    /// Summed into a trial's energy by default (sub-zones and sub-rails are not: their
    /// energy is inside a top-level one's).
    pub top_level: bool,
}

/// One reading of every domain of a source, in domain order.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub at: Instant,
    pub values: Vec<Value>,
    /// The counter may have wrapped more than once since the previous reading (the gap was
    /// longer than the counter's range at the power seen): its energy is a lower bound.
    pub ambiguous: bool,
    /// A new reading even if its value is the same (a meter's line); a sysfs value counts as an
    /// update only when it changes.
    pub fresh: bool,
}

/// A power source: polled by a [`Meter`].
pub trait Source: Send {
    /// `rapl`, `hwmon`, `vcgencmd`, `command`.
    fn kind(&self) -> PowerSourceKind;
    /// What it measures, for the manifest and the report: "rapl: package-0, dram (CPU
    /// package and memory, not the wall)".
    fn describe(&self) -> String;
    fn domains(&self) -> &[Domain];
    /// Appends the readings available now (a sysfs source: one; a meter: what it printed since).
    fn poll(&mut self, out: &mut Vec<Reading>) -> Result<(), PowerError>;
}

/// Why a source cannot be used or stopped working.
#[derive(Debug, thiserror::Error)]
pub enum PowerError {
    /// This host cannot give this source: says why, for `power: unsupported: …`.
    #[error("{0}")]
    Unsupported(String),
    #[error("{path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}: cannot parse {what}")]
    Parse { path: String, what: String },
    /// The meter command exited, printed garbage, or could not start.
    #[error("meter command: {0}")]
    Meter(String),
    /// `power.domains` names one the source does not have.
    #[error("`power.domains`: `{name}` is not a domain of {kind}; valid: {valid}")]
    UnknownDomain { name: String, kind: PowerSourceKind, valid: String },
}

/// Reads a sysfs file, trimmed.
pub(crate) fn read_trimmed(path: &std::path::Path) -> Result<String, PowerError> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|source| PowerError::Read { path: path.display().to_string(), source })
}

pub use sandbench_sampler::thread_cpu_ms;
