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

/// One comparison: sandbench's median and the tool's over `rounds` alternating runs each.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    /// `cpu`, `fileio`, `net` or `inference`.
    pub area: String,
    /// What was run: `1 thread`, `seqwr 1M`, `stream 4096 B`, …
    pub case: String,
    /// The tool and its version.
    pub tool: String,
    pub unit: String,
    pub tool_value: f64,
    pub sandbench_value: f64,
    /// sandbench / tool.
    pub ratio: f64,
    pub rounds: u32,
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
    /// The checks outside ±10 %.
    pub fn outside(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| (c.ratio - 1.0).abs() > TOLERANCE).collect()
    }

    /// One line per area: the ratios' range and the tool, then what was not checked.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for area in ["cpu", "fileio", "net", "inference"] {
            let rows: Vec<&Check> = self.checks.iter().filter(|c| c.area == area).collect();
            let Some(first) = rows.first() else { continue };
            let lo = rows.iter().map(|c| c.ratio).fold(f64::MAX, f64::min);
            let hi = rows.iter().map(|c| c.ratio).fold(f64::MIN, f64::max);
            let range = if (hi - lo).abs() < 0.005 { format!("{lo:.2}") } else { format!("{lo:.2}–{hi:.2}") };
            parts.push(format!("{area} ×{range} of {}", first.tool));
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
    fn summary_gives_each_areas_range_and_what_is_missing() {
        let c = |area: &str, ratio: f64| Check {
            area: area.into(),
            case: "x".into(),
            tool: format!("{area}-tool 1"),
            unit: "u".into(),
            tool_value: 1.0,
            sandbench_value: ratio,
            ratio,
            rounds: 3,
        };
        let v = Validation {
            measured_at: 1,
            sandbench_version: "0".into(),
            cpu_model: "cpu".into(),
            checks: vec![c("cpu", 0.99), c("cpu", 1.0), c("net", 0.8)],
            missing: vec!["fileio: unsupported: fio is not installed".into()],
        };
        let s = v.summary();
        assert!(s.starts_with("cpu ×0.99–1.00 of cpu-tool 1; net ×0.80 of net-tool 1; fileio: unsupported"), "{s}");
        assert_eq!(v.outside().len(), 1);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.json");
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(load(&p).unwrap(), v);
        std::fs::write(&p, "{}").unwrap();
        assert!(load(&p).is_err());
    }
}
