//! Choosing a source: what `[power]` asks for, what `auto` finds, what `doctor` lists.

use crate::{hwmon::Hwmon, rapl::Rapl, sysfs_root, vcgencmd::Vcgencmd, Domain, PowerError, Reading, Source, Value};
use sandbench_spec::power::PowerSourceKind;
use std::path::Path;
use std::time::{Duration, Instant};

/// The sysfs and firmware sources `auto` tries, in order.
pub const AUTO: [PowerSourceKind; 3] = [PowerSourceKind::Rapl, PowerSourceKind::Hwmon, PowerSourceKind::Vcgencmd];

/// Opens one source by kind (`auto`: the first of [`AUTO`] this host has).
pub fn open(kind: PowerSourceKind, command: &[String], cwd: &Path) -> Result<Box<dyn Source>, PowerError> {
    let sysfs = sysfs_root();
    match kind {
        PowerSourceKind::Rapl => Ok(Box::new(Rapl::open(&sysfs)?)),
        PowerSourceKind::Hwmon => Ok(Box::new(Hwmon::open(&sysfs)?)),
        PowerSourceKind::Vcgencmd => Ok(Box::new(Vcgencmd::open()?)),
        PowerSourceKind::Command => Ok(Box::new(crate::command::Meter::open(command, cwd, Duration::from_secs(10))?)),
        PowerSourceKind::Auto => {
            let mut why = Vec::new();
            for k in AUTO {
                match open(k, command, cwd) {
                    Ok(s) => return Ok(s),
                    Err(e) => why.push(format!("{k}: {e}")),
                }
            }
            Err(PowerError::Unsupported(format!(
                "no power source found ({}); for a meter set [power] source = \"command\"",
                why.join("; ")
            )))
        }
    }
}

/// Which domains sum into a trial's energy: the named ones, or the source's top-level ones.
pub fn select(domains: &[Domain], wanted: &[String], source: PowerSourceKind) -> Result<Vec<bool>, PowerError> {
    if wanted.is_empty() {
        return Ok(domains.iter().map(|d| d.top_level).collect());
    }
    for w in wanted {
        if !domains.iter().any(|d| &d.name == w) {
            return Err(PowerError::UnknownDomain {
                name: w.clone(),
                kind: source,
                valid: domains.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
            });
        }
    }
    Ok(domains.iter().map(|d| wanted.contains(&d.name)).collect())
}

/// What `doctor` says of one source kind.
#[derive(Debug, Clone)]
pub struct Probe {
    pub kind: PowerSourceKind,
    pub verdict: Result<Found, String>,
}

/// A working source.
#[derive(Debug, Clone)]
pub struct Found {
    pub describe: String,
    pub domains: Vec<Domain>,
    /// What one step of the value is worth.
    pub resolution: &'static str,
    /// Measured: mean time between changes of the first domain over about a second; `None`
    /// when it did not change at all.
    pub update_ms: Option<f64>,
}

/// Every sysfs and firmware source this host has, or why not (a meter command is not probed:
/// it is named in the campaign).
pub fn probe_all() -> Vec<Probe> {
    AUTO.iter()
        .map(|&kind| Probe {
            kind,
            verdict: open(kind, &[], Path::new(".")).map_err(|e| e.to_string()).map(|mut s| Found {
                describe: s.describe(),
                domains: s.domains().to_vec(),
                resolution: resolution(kind),
                update_ms: update_interval(s.as_mut(), Duration::from_secs(1)),
            }),
        })
        .collect()
}

/// What one step of a source's value is worth.
fn resolution(kind: PowerSourceKind) -> &'static str {
    match kind {
        PowerSourceKind::Rapl => "1 µJ in sysfs (hardware unit about 15-61 µJ)",
        PowerSourceKind::Hwmon => "1 µW / 1 mV × 1 mA in sysfs (the chip's LSB is coarser)",
        PowerSourceKind::Vcgencmd => "the ADC's, printed to 8 decimals",
        PowerSourceKind::Command => "the meter's",
        PowerSourceKind::Auto => "the source's",
    }
}

/// Polls every millisecond for `span` and returns the mean time between value changes.
pub fn update_interval(s: &mut dyn Source, span: Duration) -> Option<f64> {
    let start = Instant::now();
    let mut buf: Vec<Reading> = Vec::new();
    let mut last: Option<Value> = None;
    let mut changes: Vec<Instant> = Vec::new();
    while start.elapsed() < span && changes.len() < 50 {
        buf.clear();
        if s.poll(&mut buf).is_err() {
            break;
        }
        for r in &buf {
            let v = r.values.first().copied();
            if v != last && last.is_some() {
                changes.push(r.at);
            }
            last = v;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    match (changes.first(), changes.last()) {
        (Some(a), Some(b)) if changes.len() > 1 => {
            Some(b.duration_since(*a).as_secs_f64() * 1e3 / (changes.len() - 1) as f64)
        }
        _ => None,
    }
}
