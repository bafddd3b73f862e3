//! `sandbench validate`: this host's sandbench numbers next to the reference tools', measured
//! in the same run with the same parameters, both sides alternating: `cpu` against
//! `sysbench cpu`, `fileio` against fio, `net` stream against iperf3 (root: a veth pair into a
//! namespace), classify's inference against Python onnxruntime. Prints the ratio table and
//! writes the record (`runner::validation`) that every later run's manifest carries as
//! `host.validation`. A tool that is not installed is said, not skipped silently.

mod tools;

use anyhow::{Context, Result};
use sandbench_runner::validation::{self, Area, Validation};
use sandbench_workloads::Kind;
use serde_json::{json, Map, Value};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Rounds per comparison: each runs both sides back to back, taking turns at going first.
    /// A check's ratio is the median of the rounds' ratios, with its sign-test interval; 5
    /// rounds are the fewest that give a 90 % interval.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Seconds per run of each side (whole seconds: sysbench, fio and iperf3 take no less).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=3600))]
    time: u32,
    /// Folder for the fileio and fio file (on a disk: O_DIRECT does not work on tmpfs).
    #[arg(long, default_value = "/var/tmp")]
    dir: PathBuf,
    /// Only these areas (comma-separated): cpu (sysbench cpu), fileio (fio), net (iperf3),
    /// inference (onnxruntime in Python).
    #[arg(long, value_delimiter = ',', value_parser = area_parser())]
    only: Vec<Area>,
    /// Where the record goes (default: $SANDBENCH_VALIDATION or /var/lib/sandbench/validation.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The static agent binary (default: found next to sandbench).
    #[arg(long)]
    agent: Option<PathBuf>,
}

/// `--only`'s values: the record's own area names, the valid ones listed on a typo.
fn area_parser() -> impl clap::builder::TypedValueParser<Value = Area> {
    use clap::builder::TypedValueParser;
    let names: Vec<&'static str> = Area::all().map(Area::as_str).collect();
    clap::builder::PossibleValuesParser::new(names)
        .try_map(|name| Area::all().find(|a| a.as_str() == name).ok_or(format!("no area `{name}`")))
}

/// What one comparison needs: its name, the tool, the unit, and a run of each side.
struct Pair<'a> {
    area: Area,
    case: String,
    tool: String,
    unit: &'static str,
    ours: Box<dyn FnMut() -> Result<f64> + 'a>,
    theirs: Box<dyn FnMut() -> Result<f64> + 'a>,
}

pub fn run(a: Args) -> Result<i32> {
    let wanted = |area: &Area| a.only.is_empty() || a.only.contains(area);
    let mut record = Validation {
        measured_at: 0,
        sandbench_version: env!("CARGO_PKG_VERSION").into(),
        cpu_model: sandbench_runner::host::cpu_model().unwrap_or_default(),
        checks: Vec::new(),
        missing: Vec::new(),
    };
    let scratch = tempfile::Builder::new().prefix("sandbench-validate-").tempdir_in(&a.dir)?;
    for area in Area::all().filter(wanted) {
        let outcome = match area {
            Area::Cpu => cpu(&a, &mut record),
            Area::Fileio => fileio(&a, scratch.path(), &mut record),
            Area::Net => net(&a, &mut record),
            Area::Inference => inference(&a, &mut record),
        };
        if let Err(e) = outcome {
            record.missing.push(format!("{area}: failed: {e:#}"));
        }
    }
    drop(scratch);
    record.measured_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    print_missing(&record);
    let out = a.out.clone().unwrap_or_else(validation::path);
    write_record(&record, &out)?;
    println!(
        "\n{}\nwritten to {} (every run's manifest carries it as host.validation)",
        record.summary(),
        out.display()
    );
    Ok(0)
}

/// Runs `rounds` rounds of both sides back to back, taking turns at going first, and records
/// the check: the median of the rounds' ratios, its interval and verdict.
fn compare(a: &Args, mut p: Pair, record: &mut Validation) -> Result<()> {
    let mut rounds = Vec::new();
    for r in 0..a.rounds.max(1) {
        if super::cancel_flag().load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::bail!("interrupted");
        }
        rounds.push(if r % 2 == 0 {
            let o = (p.ours)()?;
            (o, (p.theirs)()?)
        } else {
            let t = (p.theirs)()?;
            ((p.ours)()?, t)
        });
    }
    let check = validation::check_from_rounds(p.area, p.case, p.tool, p.unit, &rounds);
    let interval = check.interval.map_or(String::new(), |(lo, hi)| format!("{lo:.2}–{hi:.2}"));
    println!(
        "{:<10}{:<16}{:>12.1}{:>12.1} {:<9}{:>7.2} {:>11} {:>4.0} %  {:<10} ({})",
        check.area,
        check.case,
        check.tool_value,
        check.sandbench_value,
        check.unit,
        check.ratio,
        interval,
        check.level * 100.0,
        check.verdict().as_str(),
        check.tool
    );
    record.checks.push(check);
    Ok(())
}

fn header(title: &str, a: &Args) {
    println!("\n{title}: {} s per run, {} rounds of both sides", a.time, a.rounds.max(1));
    println!(
        "{:<10}{:<16}{:>12}{:>12} {:<9}{:>7} {:>11} {:>6}  {:<10}",
        "area", "case", "tool", "sandbench", "unit", "ratio", "interval", "level", "verdict"
    );
}

/// One metric of one native trial.
fn ours(a: &Args, kind: Kind, params: Value, metric: &str) -> Result<f64> {
    let params: Map<String, Value> = params.as_object().cloned().unwrap_or_default();
    let r = super::try_::native_trial(kind, &params, a.agent.clone())?;
    if r.status != sandbench_spec::Status::Ok {
        anyhow::bail!("{kind} trial: {:?} {}", r.status, r.error.unwrap_or_default());
    }
    r.metrics.get(metric).map(|m| m.value).with_context(|| format!("{kind} trial gave no {metric}"))
}

fn cpu(a: &Args, record: &mut Validation) -> Result<()> {
    let Some(version) = tools::version("sysbench", &["--version"]) else {
        record.missing.push("cpu: unsupported: sysbench is not installed (apt-get install sysbench)".into());
        return Ok(());
    };
    header("cpu vs sysbench cpu (max prime 10000, events/s)", a);
    for threads in [1u32, 2] {
        let pair = Pair {
            area: Area::Cpu,
            case: format!("{threads} thread{}", if threads > 1 { "s" } else { "" }),
            tool: version.clone(),
            unit: "events/s",
            ours: Box::new(move || {
                ours(a, Kind::Cpu, json!({"threads": threads, "max_prime": 10000, "time_s": a.time}), "events_per_s")
            }),
            theirs: Box::new(move || tools::sysbench_cpu(threads, a.time)),
        };
        compare(a, pair, record)?;
    }
    Ok(())
}

fn fileio(a: &Args, dir: &std::path::Path, record: &mut Validation) -> Result<()> {
    let Some(version) = tools::version("fio", &["--version"]) else {
        record.missing.push("fileio: unsupported: fio is not installed (apt-get install fio)".into());
        return Ok(());
    };
    header("fileio vs fio (O_DIRECT, psync, 1 thread, 256 MiB file written in full first, MiB/s)", a);
    for mode in ["seqrd", "seqwr", "rndrd", "rndwr"] {
        for bs in ["4K", "1M"] {
            let params = json!({"mode": mode, "block_size": bs, "file_size": "256M", "direct": true,
                                "io_size": 0, "time_s": a.time, "dir": dir.display().to_string()});
            let pair = Pair {
                area: Area::Fileio,
                case: format!("{mode} {bs}"),
                tool: version.clone(),
                unit: "MiB/s",
                ours: Box::new(move || ours(a, Kind::Fileio, params.clone(), "mib_per_s")),
                theirs: Box::new(move || tools::fio(mode, bs, dir, a.time)),
            };
            compare(a, pair, record)?;
        }
    }
    Ok(())
}

fn net(a: &Args, record: &mut Validation) -> Result<()> {
    let Some(version) = tools::version("iperf3", &["--version"]) else {
        record.missing.push("net: unsupported: iperf3 is not installed (apt-get install iperf3)".into());
        return Ok(());
    };
    if !sandbench_sandbox::is_root() {
        record.missing.push("net: unsupported: needs root (it makes a veth pair into a network namespace)".into());
        return Ok(());
    }
    let link = tools::Link::up()?;
    let server = &tools::Iperf3Server::start(&link)?;
    let pin = tools::Pin::for_host(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let placement = match pin {
        Some(p) => format!("sender on CPU {}, receiver on CPU {} (iperf3 -A {0},{1})", p.sender, p.receiver),
        None => "unpinned".into(),
    };
    header(&format!("net stream vs iperf3 (veth into a namespace, 1 stream, {placement}, Mb/s)"), a);
    for size in [64u32, 512, 4096, 131072] {
        let pair = Pair {
            area: Area::Net,
            case: format!("stream {size} B"),
            tool: version.clone(),
            unit: "Mb/s",
            ours: Box::new(move || {
                let mut p = tools::Pin::params(pin);
                p.extend([
                    ("mode".into(), "stream".into()),
                    ("msg_size".into(), size.into()),
                    ("time_s".into(), a.time.into()),
                ]);
                ours(a, Kind::Net, Value::Object(p), "mbit_per_s")
            }),
            theirs: Box::new(move || server.client(size, a.time, pin)),
        };
        compare(a, pair, record)?;
    }
    Ok(())
}

fn inference(a: &Args, record: &mut Validation) -> Result<()> {
    let candidates = tools::python_candidates();
    let Some((python, version)) = tools::python_with_onnxruntime(&candidates) else {
        record.missing.push(format!(
            "inference: unsupported: none of {} imports onnxruntime (pip install onnxruntime, or \
             bench/ai.py makes a venv with it, or name a Python in $SANDBENCH_PYTHON)",
            candidates.join(", ")
        ));
        return Ok(());
    };
    let store = sandbench_assets::Store::new(sandbench_assets::Store::default_root());
    let mut names: Vec<&str> = sandbench_assets::catalog::models(Kind::Classify).to_vec();
    names.push(sandbench_assets::catalog::input_asset("coffee.png"));
    names.push(sandbench_assets::catalog::ONNXRUNTIME_LIB);
    store.fetch(&names, &mut |l| eprintln!("{l}")).map_err(|e| anyhow::anyhow!("{e}"))?;
    let model = store.tree().join("models/mobilenet_v2.onnx");
    let reps = 20u32;
    header("classify inference vs Python onnxruntime (MobileNetV2, 1 thread, 224², median ms of 20 passes after a warm-up)", a);
    let pair = Pair {
        area: Area::Inference,
        case: "classify 1 thread".into(),
        tool: version,
        unit: "ms",
        ours: Box::new(move || {
            let p = json!({"engine": "onnxruntime", "threads": 1, "repetitions": reps + 1, "inputs": ["coffee.png"]});
            let r = super::try_::native_trial(Kind::Classify, p.as_object().unwrap_or(&Map::new()), a.agent.clone())?;
            anyhow::ensure!(r.status == sandbench_spec::Status::Ok, "classify trial: {:?} {:?}", r.status, r.error);
            // Model-only time per pass, the first (warm-up) pass left out, as bench/ai.py does.
            let passes: Vec<f64> = r.outputs["inputs"][0]["inference_ms"]
                .as_array()
                .map(|v| v.iter().skip(1).filter_map(Value::as_f64).collect())
                .unwrap_or_default();
            let summary = sandbench_stats::summarize(&passes);
            summary.map(|s| s.median).with_context(|| format!("classify trial gave no inference times: {:?}", r.error))
        }),
        theirs: Box::new(move || tools::onnxruntime_ms(&python, &model, reps)),
    };
    compare(a, pair, record)
}

fn print_missing(record: &Validation) {
    if !record.missing.is_empty() {
        println!("\nnot checked:");
        for m in &record.missing {
            println!("  {m}");
        }
    }
}

/// Writes the record atomically (a temporary file beside it, then a rename).
fn write_record(record: &Validation, out: &std::path::Path) -> Result<()> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
    }
    let tmp = out.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(record)?).with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, out).with_context(|| out.display().to_string())?;
    Ok(())
}
