//! `sandbench validate`'s record on this host (its types are `spec::validation`): where it is,
//! reading it, the checks made from each round's values, and the pure parsers of the reference
//! tools' outputs. A run's manifest carries what it read as `validation`, so every report says
//! it.

pub use sandbench_spec::validation::{Area, Check, HostValidation, Validation, Verdict, LEVEL, TOLERANCE};
use std::path::{Path, PathBuf};

/// Where `sandbench validate` writes its record unless told otherwise, and where a run reads
/// it (`$SANDBENCH_VALIDATION` overrides both).
pub const DEFAULT_PATH: &str = "/var/lib/sandbench/validation.json";
/// A record is a small table: anything larger is not one.
const MAX_BYTES: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {len} bytes, more than a validation record can be")]
    TooLarge { path: PathBuf, len: u64 },
    #[error("{path}: not a validation record: {source}")]
    NotARecord { path: PathBuf, source: serde_json::Error },
    #[error("{tool} output: {why}")]
    Parse { tool: &'static str, why: String },
}

/// A check from each round's (sandbench, tool) values.
pub fn check_from_rounds(area: Area, case: String, tool: String, unit: &str, rounds: &[(f64, f64)]) -> Check {
    let median = |v: Vec<f64>| sandbench_stats::summarize(&v).map_or(f64::NAN, |s| s.median);
    let ratios: Vec<f64> = rounds.iter().map(|(o, t)| if *t > 0.0 { o / t } else { f64::NAN }).collect();
    let ci = sandbench_stats::median_ci(&ratios, LEVEL);
    Check {
        area,
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

/// The record at `$SANDBENCH_VALIDATION` or [`DEFAULT_PATH`], if there is one.
pub fn path() -> PathBuf {
    std::env::var_os("SANDBENCH_VALIDATION").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// Reads a record (at most 1 MiB).
pub fn load(path: &Path) -> Result<Validation, ValidationError> {
    let read = |source| ValidationError::Read { path: path.to_path_buf(), source };
    let len = std::fs::metadata(path).map_err(read)?.len();
    if len > MAX_BYTES {
        return Err(ValidationError::TooLarge { path: path.to_path_buf(), len });
    }
    let text = std::fs::read(path).map_err(read)?;
    serde_json::from_slice(&text).map_err(|source| ValidationError::NotARecord { path: path.to_path_buf(), source })
}

/// What a run on this host (whose CPU is `host_cpu_model`) knows of its record.
pub fn on_this_host(host_cpu_model: &str) -> HostValidation {
    let file = path();
    match load(&file) {
        Ok(record) => HostValidation::Measured { file, host_cpu_model: host_cpu_model.into(), record },
        Err(_) if !file.exists() => HostValidation::NotMeasured {
            why: format!("not measured: no record at {} (run `sandbench validate` on this host)", file.display()),
        },
        Err(e) => HostValidation::NotMeasured { why: format!("not measured: {e}") },
    }
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
            check_from_rounds(Area::Net, "x".into(), "t".into(), "u", &rounds)
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
        let c = |area: Area, ratio: f64| {
            check_from_rounds(area, "x".into(), format!("{area}-tool 1"), "u", &[(ratio, 1.0); 5])
        };
        let v = Validation {
            measured_at: 1,
            sandbench_version: "0".into(),
            cpu_model: "cpu".into(),
            checks: vec![c(Area::Cpu, 0.99), c(Area::Cpu, 1.0), c(Area::Net, 0.8)],
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
