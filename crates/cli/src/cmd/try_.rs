//! `sandbench try`: one trial of one workload natively, through the same path as a campaign
//! trial (native driver, agent protocol, host sampler, trial record).

use crate::agent_path;
use anyhow::{bail, Context, Result};
use sandbench_runner::{ResultsDir, RunOptions};
use sandbench_spec::TrialRecord;
use sandbench_workloads::Kind;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Workload kind: cpu, noop, fileio, filemix, detect, classify, face, stt (net and transfer
    /// need a campaign: their peers run on the host).
    workload: Kind,
    /// An input file (image or WAV) instead of the workload's sample inputs; repeatable.
    #[arg(long = "input", value_name = "FILE")]
    inputs: Vec<PathBuf>,
    /// A model file instead of the default one (any Ultralytics YOLOv8 ONNX export for detect).
    #[arg(long, value_name = "FILE")]
    model: Option<PathBuf>,
    /// A workload parameter, `key=value` (numbers and booleans are typed); repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
    /// Print the whole trial record as JSON.
    #[arg(long)]
    json: bool,
    /// The static agent binary (default: found next to sandbench).
    #[arg(long)]
    agent: Option<PathBuf>,
}

/// `key=value` → (key, typed JSON value).
pub fn parse_param(s: &str) -> Result<(String, serde_json::Value)> {
    let Some((k, v)) = s.split_once('=') else { bail!("--param `{s}`: expected KEY=VALUE") };
    let value = serde_json::from_str::<serde_json::Value>(v)
        .ok()
        .filter(|j| j.is_number() || j.is_boolean())
        .unwrap_or_else(|| serde_json::Value::String(v.to_string()));
    Ok((k.trim().to_string(), value))
}

pub fn run(a: Args) -> Result<i32> {
    let mut params = serde_json::Map::new();
    for p in &a.params {
        let (k, v) = parse_param(p)?;
        params.insert(k, v);
    }
    let absolute = |p: &PathBuf| -> Result<String> {
        Ok(p.canonicalize().with_context(|| format!("{}", p.display()))?.display().to_string())
    };
    if !a.inputs.is_empty() {
        let list = a.inputs.iter().map(absolute).collect::<Result<Vec<_>>>()?;
        params.insert("inputs".into(), serde_json::json!(list));
    }
    if let Some(m) = &a.model {
        params.insert("model".into(), serde_json::json!(absolute(m)?));
    }
    let r = native_trial(a.workload, &params, a.agent)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        println!(
            "{} natively: {:?}{}",
            a.workload,
            r.status,
            r.error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
        );
        for (name, m) in &r.metrics {
            println!("  {name:<16} {:>14.3} {}", m.value, m.unit);
        }
        println!("  {:<16} {:>14.3} ms (host, run → result)", "host_wall", r.host_wall_ms);
        if let Some(h) = &r.host {
            println!("  {:<16} {:>14.1} % (100 % = one core)", "host_cpu_mean", h.cpu_mean_pct);
        }
        if let Some(l) = &r.launch {
            println!("  {:<16} {:>14.3} ms (launch → agent ready)", "start", l.boot.total_ms);
        }
        if let Some(inputs) = r.outputs.get("inputs").and_then(|v| v.as_array()) {
            print_ai(&r.outputs, inputs);
        } else if !r.outputs.is_null() {
            println!("  outputs {}", r.outputs);
        }
    }
    Ok(if r.status == sandbench_spec::Status::Ok { 0 } else { 1 })
}

/// One trial of `workload` with `params`, natively, through a one-trial campaign in a fresh
/// private folder (removed after): the same path as a campaign trial. Its record.
pub fn native_trial(
    workload: Kind,
    params: &serde_json::Map<String, serde_json::Value>,
    agent: Option<PathBuf>,
) -> Result<TrialRecord> {
    sandbench_workloads::validate(workload, params).map_err(|e| anyhow::anyhow!("workload `{workload}`: {e}"))?;
    // mkdtemp: a fresh 0700 directory nobody could have prepared in advance.
    let tmp_dir = tempfile::Builder::new().prefix("sandbench-try-").tempdir()?;
    let tmp = tmp_dir.path().to_path_buf();
    let vcpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as u32;
    let env = sandbench_spec::Environment::new("native", sandbench_spec::Driver::Native, vcpus, 4096);
    let spec = sandbench_spec::WorkloadSpec {
        name: workload.to_string(),
        kind: workload,
        params: params.clone(),
        environments: Vec::new(),
    };
    let mut campaign = sandbench_spec::Campaign::new("try", vec![env], vec![spec]);
    (campaign.trials, campaign.warmup) = (sandbench_spec::Trials::Fixed(1), 0);
    // The runner reads a campaign file (its text goes into the manifest, for `--resume`).
    let path = tmp.join("try.toml");
    std::fs::write(&path, toml::to_string(&campaign)?)?;
    let opts = RunOptions {
        campaign_path: path,
        campaign_text: None,
        out_root: tmp.join("results"),
        resume: None,
        agent: agent_path::resolve(agent)?,
        agent_dynamic: agent_path::resolve_dynamic(),
        cancel: super::cancel_flag(),
        progress: sandbench_runner::ProgressMode::Quiet,
        git_revision: super::git_revision(),
        drivers: None,
    };
    let out = sandbench_runner::run(&opts);
    let records = out.as_ref().ok().map(|o| ResultsDir::open(&o.dir).and_then(|d| d.records(false)));
    drop(tmp_dir);
    let records = records.context("run failed")??;
    out?;
    records.into_iter().last().context("the trial left no record")
}

/// One line per input, as `yolo predict` prints them, then the results.
fn print_ai(outputs: &serde_json::Value, inputs: &[serde_json::Value]) {
    let engine = outputs.get("engine").and_then(|v| v.as_str()).unwrap_or("?");
    let threads = outputs.get("threads").and_then(|v| v.as_u64()).unwrap_or(0);
    println!("  engine {engine}, {threads} threads");
    if let Some(why) = outputs.get("engine_fallback").and_then(|v| v.as_str()) {
        println!("  (onnxruntime not used: {why})");
    }
    let last = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_array()).and_then(|a| a.last()?.as_f64()).unwrap_or(0.0)
    };
    for (i, inp) in inputs.iter().enumerate() {
        let name = inp.get("input").and_then(|v| v.as_str()).unwrap_or("?");
        let size = match inp.get("duration_s").and_then(|v| v.as_f64()) {
            Some(d) => format!("{d:.2} s"),
            None => format!(
                "{}x{}",
                inp.get("width").and_then(|v| v.as_u64()).unwrap_or(0),
                inp.get("height").and_then(|v| v.as_u64()).unwrap_or(0)
            ),
        };
        println!(
            "  input {}/{} {name} ({size}): {:.1}ms preprocess, {:.1}ms inference, {:.1}ms postprocess",
            i + 1,
            inputs.len(),
            last(inp, "preprocess_ms"),
            last(inp, "inference_ms"),
            last(inp, "postprocess_ms"),
        );
        let result = inp.get("result").cloned().unwrap_or_default();
        for (key, value) in result.as_object().into_iter().flatten() {
            match value {
                serde_json::Value::Array(items) => items.iter().for_each(|item| println!("      {key}: {item}")),
                serde_json::Value::String(text) => println!("      {key}: {text}"),
                serde_json::Value::Null => {}
                other => println!("      {key}: {other}"),
            }
        }
    }
}
