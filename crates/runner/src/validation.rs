//! `sandbench validate`'s record: how well this host's sandbench numbers matched the reference
//! tools (sysbench, fio, iperf3, Python onnxruntime) measured in the same run, and the pure
//! parsers of those tools' outputs. A run's manifest carries the record's summary as
//! `host.validation` (and its path as `host.validation_file`), so every report says it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where `sandbench validate` writes its record unless told otherwise, and where a run reads
/// it (`$SANDBENCH_VALIDATION` overrides both).
pub const DEFAULT_PATH: &str = "/var/lib/sandbench/validation.json";
/// A record is a small table: anything larger is not one.
const MAX_BYTES: u64 = 1 << 20;
/// The agreement the project aims for: within ±10 % of each reference tool.
pub const TOLERANCE: f64 = 0.10;

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{path}: {why}")]
    File { path: PathBuf, why: String },
    #[error("{tool} output: {why}")]
    Parse { tool: &'static str, why: String },
}

/// The coverage a check's interval aims for.
pub const LEVEL: f64 = 0.90;

/// One comparison over `rounds` rounds; in each round both sides ran back to back (taking
/// turns at going first), so a round's ratio sees the same state of a shared host on both.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// `cpu`, `fileio`, `net` or `inference`.
    pub area: String,
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
    /// A check from each round's (sandbench, tool) values.
    pub fn from_rounds(area: &str, case: String, tool: String, unit: &str, rounds: &[(f64, f64)]) -> Check {
        let median = |v: Vec<f64>| sandbench_stats::summarize(&v).map_or(f64::NAN, |s| s.median);
        let ratios: Vec<f64> = rounds.iter().map(|(o, t)| if *t > 0.0 { o / t } else { f64::NAN }).collect();
        let ci = sandbench_stats::median_ci(&ratios, LEVEL);
        Check {
            area: area.into(),
            case,
            tool,
            unit: unit.into(),
            tool_value: median(rounds.iter().map(|r| r.1).collect()),
            sandbench_value: median(rounds.iter().map(|r| r.0).collect()),
            ratio: median(ratios.clone()),
            rounds: rounds.len() as u32,
            round_ratios: ratios,
            interval: ci.map(|(lo, hi, _)| (lo, hi)),
            level: ci.map_or(0.0, |c| c.2),
        }
    }

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
        for area in ["cpu", "fileio", "net", "inference"] {
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

/// The record at `$SANDBENCH_VALIDATION` or [`DEFAULT_PATH`], if there is one.
pub fn path() -> PathBuf {
    std::env::var_os("SANDBENCH_VALIDATION").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Reads a record (at most 1 MiB).
pub fn load(path: &Path) -> Result<Validation, ValidationError> {
    let err = |why: String| ValidationError::File { path: path.to_path_buf(), why };
    let len = std::fs::metadata(path).map_err(|e| err(e.to_string()))?.len();
    if len > MAX_BYTES {
        return Err(err(format!("{len} bytes, more than a validation record can be")));
    }
    let text = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_slice(&text).map_err(|e| err(format!("not a validation record: {e}")))
}

/// fio's `--output-format=json`: the first job's read or write bandwidth, MiB/s.
pub fn parse_fio(text: &str, write: bool) -> Result<f64, ValidationError> {
    let err = |why: &str| ValidationError::Parse { tool: "fio", why: why.into() };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(&e.to_string()))?;
    let side = if write { "write" } else { "read" };
    v["jobs"][0][side]["bw_bytes"].as_f64().map(|b| b / (1u64 << 20) as f64).ok_or_else(|| err("no jobs[0].bw_bytes"))
}

/// `sysbench cpu run`'s text: events per second.
pub fn parse_sysbench_cpu(text: &str) -> Result<f64, ValidationError> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("events per second:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| ValidationError::Parse { tool: "sysbench", why: "no `events per second:` line".into() })
}

/// `iperf3 -J`'s client report: the bits per second received, Mb/s.
pub fn parse_iperf3(text: &str) -> Result<f64, ValidationError> {
    let err = |why: &str| ValidationError::Parse { tool: "iperf3", why: why.into() };
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| err(&e.to_string()))?;
    if let Some(e) = v["error"].as_str() {
        return Err(err(e));
    }
    v["end"]["sum_received"]["bits_per_second"].as_f64().map(|b| b / 1e6).ok_or_else(|| err("no end.sum_received"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/validation").join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn parses_the_tools_real_outputs() {
        // Captured here: fio 3.33, sysbench 1.0.20, iperf 3.12.
        let fio = parse_fio(&fixture("fio-seqwr-1m.json"), true).unwrap();
        assert!((fio - 2065.934).abs() < 0.01, "{fio}");
        assert!(parse_fio(&fixture("fio-seqwr-1m.json"), false).unwrap() == 0.0);
        assert_eq!(parse_sysbench_cpu(&fixture("sysbench-cpu.txt")).unwrap(), 1459.80);
        let iperf = parse_iperf3(&fixture("iperf3-stream.json")).unwrap();
        assert!((iperf - 5239.25).abs() < 0.01, "{iperf}");
        assert!(parse_iperf3(r#"{"error": "unable to connect to server"}"#).is_err());
        assert!(parse_sysbench_cpu("no numbers here").is_err());
    }

    #[test]
    fn verdicts_follow_the_interval_of_the_rounds_ratios() {
        let check = |r: &[f64]| {
            let rounds: Vec<(f64, f64)> = r.iter().map(|x| (x * 100.0, 100.0)).collect();
            Check::from_rounds("net", "x".into(), "t".into(), "u", &rounds)
        };
        let c = check(&[1.02, 0.95, 1.08, 0.99, 1.01]);
        assert_eq!((c.verdict(), c.interval), (Verdict::Agrees, Some((0.95, 1.08))));
        assert!((c.ratio - 1.01).abs() < 1e-12 && c.tool_value == 100.0 && c.rounds == 5);
        assert_eq!(check(&[1.3, 1.25, 1.4, 1.2, 1.35]).verdict(), Verdict::Differs);
        // One round far off is enough to leave it undecided at 5 rounds.
        assert_eq!(check(&[1.02, 0.95, 1.08, 0.99, 1.6]).verdict(), Verdict::Undecided);
        // Three rounds give only a 75 % interval: never a verdict, however close.
        let three = check(&[1.0, 1.0, 1.0]);
        assert_eq!((three.verdict(), three.level), (Verdict::Undecided, 0.75));
        assert!(three.describe().contains("[1.00–1.00, 75 %] undecided (t)"), "{}", three.describe());
        // A record from before intervals were kept is undecided.
        let old: Check = serde_json::from_str(
            r#"{"area":"cpu","case":"x","tool":"t","unit":"u","tool_value":1,"sandbench_value":1,"ratio":1,"rounds":3}"#,
        )
        .unwrap();
        assert_eq!(old.verdict(), Verdict::Undecided);
    }

    #[test]
    fn summary_gives_each_areas_range_verdicts_and_what_is_missing() {
        let c = |area: &str, ratio: f64| {
            Check::from_rounds(area, "x".into(), format!("{area}-tool 1"), "u", &[(ratio, 1.0); 5])
        };
        let v = Validation {
            measured_at: 1,
            sandbench_version: "0".into(),
            cpu_model: "cpu".into(),
            checks: vec![c("cpu", 0.99), c("cpu", 1.0), c("net", 0.8)],
            missing: vec!["fileio: unsupported: fio is not installed".into()],
        };
        let s = v.summary();
        assert!(
            s.starts_with(
                "cpu ×0.99–1.00 of cpu-tool 1 (2 agrees); net ×0.80 of net-tool 1 (1 differs); fileio: unsupported"
            ),
            "{s}"
        );
        assert_eq!(v.not_agreeing().len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.json");
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(load(&p).unwrap(), v);
        std::fs::write(&p, "{}").unwrap();
        assert!(load(&p).is_err());
    }
}
