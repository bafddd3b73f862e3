//! `sandbench validate`'s record, as a run's manifest carries it: how well this host's
//! sandbench numbers matched the reference tools (sysbench, fio, iperf3, Python onnxruntime)
//! measured in the same run, each check's verdict, and what the run knew of the record.
//! Reading the record and the tools' outputs is the runner's (`runner::validation`).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The agreement the project aims for: within ±10 % of each reference tool.
pub const TOLERANCE: f64 = 0.10;

/// What a check compares: an area of sandbench against its reference tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// `cpu` against `sysbench cpu`.
    Cpu,
    /// `fileio` against fio.
    Fileio,
    /// `net` streams against iperf3.
    Net,
    /// classify's inference against Python onnxruntime.
    Inference,
}

impl Area {
    /// Every area, in the order a summary gives them.
    pub fn all() -> impl Iterator<Item = Area> {
        <Area as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Area::Cpu => "cpu",
            Area::Fileio => "fileio",
            Area::Net => "net",
            Area::Inference => "inference",
        }
    }
}

impl std::fmt::Display for Area {
    /// The name, padded as the format asks (`validate`'s table aligns it).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The coverage a check's interval aims for.
pub const LEVEL: f64 = 0.90;

/// One comparison over `rounds` rounds; in each round both sides ran back to back (taking
/// turns at going first), so a round's ratio sees the same state of a shared host on both.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub area: Area,
    /// What was run: `1 thread`, `seqwr 1M`, `stream 4096 B`, …
    pub case: String,
    /// The tool and its version.
    pub tool: String,
    pub unit: String,
    /// The tool's median over the rounds.
    pub tool_value: f64,
    /// sandbench's median over the rounds.
    pub sandbench_value: f64,
    /// The median of the rounds' ratios (sandbench / tool).
    pub ratio: f64,
    pub rounds: u32,
    /// Each round's sandbench / tool.
    #[serde(default)]
    pub round_ratios: Vec<f64>,
    /// The sign-test interval of the median ratio (`stats::median_ci`) and its coverage.
    #[serde(default)]
    pub interval: Option<(f64, f64)>,
    #[serde(default)]
    pub level: f64,
}

/// What a check's interval says about ±[`TOLERANCE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is within ±10 %.
    Agrees,
    /// The whole interval is outside ±10 %.
    Differs,
    /// The interval reaches both sides of the bound, or its coverage is below [`LEVEL`]: this
    /// run cannot say (more rounds, or a quieter host).
    Undecided,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Agrees => "agrees",
            Verdict::Differs => "differs",
            Verdict::Undecided => "undecided",
        }
    }
}

impl Check {
    pub fn verdict(&self) -> Verdict {
        let within = |r: f64| (r - 1.0).abs() <= TOLERANCE;
        match self.interval.filter(|_| self.level >= LEVEL - 1e-9) {
            Some((lo, hi)) if within(lo) && within(hi) => Verdict::Agrees,
            Some((lo, hi)) if hi < 1.0 - TOLERANCE || lo > 1.0 + TOLERANCE => Verdict::Differs,
            _ => Verdict::Undecided,
        }
    }

    /// `net stream 512 B ×1.32 [0.21–4.10, 94 %] undecided (iperf 3.12)`.
    pub fn describe(&self) -> String {
        let interval = match self.interval {
            Some((lo, hi)) => format!(" [{lo:.2}–{hi:.2}, {:.0} %]", self.level * 100.0),
            None => String::new(),
        };
        format!("{} {} ×{:.2}{interval} {} ({})", self.area, self.case, self.ratio, self.verdict().as_str(), self.tool)
    }
}

/// The whole record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Validation {
    /// Unix seconds when it ended.
    pub measured_at: u64,
    pub sandbench_version: String,
    pub cpu_model: String,
    pub checks: Vec<Check>,
    /// Areas not checked, each `area: unsupported: why` (a tool not installed, not root, …).
    pub missing: Vec<String>,
}

impl Validation {
    /// The checks this run could not place within ±10 % (they differ, or are undecided).
    pub fn not_agreeing(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| c.verdict() != Verdict::Agrees).collect()
    }

    /// One line per area: the ratios' range, the verdicts, and the tool; then what was not
    /// checked.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for area in Area::all() {
            let rows: Vec<&Check> = self.checks.iter().filter(|c| c.area == area).collect();
            let Some(first) = rows.first() else { continue };
            let lo = rows.iter().map(|c| c.ratio).fold(f64::MAX, f64::min);
            let hi = rows.iter().map(|c| c.ratio).fold(f64::MIN, f64::max);
            let range = if (hi - lo).abs() < 0.005 { format!("{lo:.2}") } else { format!("{lo:.2}–{hi:.2}") };
            let verdicts: Vec<String> = [Verdict::Agrees, Verdict::Differs, Verdict::Undecided]
                .into_iter()
                .filter_map(|v| {
                    let n = rows.iter().filter(|c| c.verdict() == v).count();
                    (n > 0).then(|| format!("{n} {}", v.as_str()))
                })
                .collect();
            parts.push(format!("{area} ×{range} of {} ({})", first.tool, verdicts.join(", ")));
        }
        parts.extend(self.missing.iter().cloned());
        format!("{} (sandbench validate, unix time {})", parts.join("; "), self.measured_at)
    }
}

/// What a run knew of its host's `sandbench validate` record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum HostValidation {
    /// The record at `file`, made on a host whose CPU was `record.cpu_model`; this run's host
    /// has `host_cpu_model`.
    Measured { file: PathBuf, host_cpu_model: String, record: Validation },
    /// No record could be read, and why (none at the path, or not a record).
    NotMeasured { why: String },
}

impl HostValidation {
    /// The checks the record could not place within ±10 %.
    pub fn not_agreeing(&self) -> Vec<&Check> {
        match self {
            HostValidation::Measured { record, .. } => record.not_agreeing(),
            HostValidation::NotMeasured { .. } => Vec::new(),
        }
    }

    /// The facts as the `host` rows runs before the typed field wrote, formatted the same way:
    /// `validation` (the summary), and with a record, `validation_outside` (the checks not
    /// placed within ±10 %, or `none`) and `validation_file`.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        match self {
            HostValidation::Measured { file, host_cpu_model, record } => {
                let other = if &record.cpu_model == host_cpu_model {
                    String::new()
                } else {
                    format!("made on another CPU ({}): ", record.cpu_model)
                };
                let outside: Vec<String> = record.not_agreeing().iter().map(|c| c.describe()).collect();
                let outside = if outside.is_empty() { "none".into() } else { outside.join("; ") };
                vec![
                    ("validation", format!("{other}{}", record.summary())),
                    ("validation_outside", outside),
                    ("validation_file", file.display().to_string()),
                ]
            }
            HostValidation::NotMeasured { why } => vec![("validation", why.clone())],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(area: Area, ratio: f64, interval: (f64, f64)) -> Check {
        Check {
            area,
            case: "x".into(),
            tool: format!("{area}-tool 1"),
            unit: "u".into(),
            tool_value: 1.0,
            sandbench_value: ratio,
            ratio,
            rounds: 5,
            round_ratios: vec![ratio; 5],
            interval: Some(interval),
            level: 0.9375,
        }
    }

    fn record(cpu: &str) -> Validation {
        Validation {
            measured_at: 7,
            sandbench_version: "0".into(),
            cpu_model: cpu.into(),
            checks: vec![check(Area::Cpu, 1.0, (0.98, 1.02)), check(Area::Net, 0.8, (0.75, 0.85))],
            missing: vec![],
        }
    }

    #[test]
    fn a_hosts_validation_prints_as_the_rows_runs_wrote_before_it_was_typed() {
        let v =
            HostValidation::Measured { file: "/v.json".into(), host_cpu_model: "EPYC".into(), record: record("EPYC") };
        let rows = v.rows();
        assert_eq!(rows[0], ("validation", "cpu ×1.00 of cpu-tool 1 (1 agrees); net ×0.80 of net-tool 1 (1 differs) (sandbench validate, unix time 7)".into()));
        assert_eq!(rows[1], ("validation_outside", "net x ×0.80 [0.75–0.85, 94 %] differs (net-tool 1)".into()));
        assert_eq!(rows[2], ("validation_file", "/v.json".into()));
        assert_eq!(v.not_agreeing().len(), 1);
        // A record made on another CPU says so; one placing every check says `none`.
        let mut other = record("Xeon");
        other.checks.truncate(1);
        let v = HostValidation::Measured { file: "/v.json".into(), host_cpu_model: "EPYC".into(), record: other };
        assert!(v.rows()[0].1.starts_with("made on another CPU (Xeon): cpu ×1.00"), "{:?}", v.rows());
        assert_eq!(v.rows()[1].1, "none");
        let none = HostValidation::NotMeasured { why: "not measured: no record at /v.json".into() };
        assert_eq!(none.rows(), vec![("validation", "not measured: no record at /v.json".to_string())]);
        assert_eq!(format!("{:<8}|", Area::Net), "net     |", "the table pads it");
        // The record's areas keep the names older records wrote.
        let json = serde_json::to_value(check(Area::Fileio, 1.0, (1.0, 1.0))).unwrap();
        assert_eq!(json["area"], "fileio");
        assert!(serde_json::from_value::<Check>(serde_json::json!({"area": "gpu"})).is_err());
    }
}
