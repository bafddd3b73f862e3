//! `sandbench try`: one trial of one workload natively, through the same path as a campaign
//! trial (native driver, agent protocol, host sampler, trial record).

use crate::agent_path;
use anyhow::{bail, Context, Result};
use sandbench_runner::{ResultsDir, RunOptions};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Workload kind: cpu, noop.
    workload: String,
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
    sandbench_workloads::validate(&a.workload, &params)
        .map_err(|e| anyhow::anyhow!("workload `{}`: {e}", a.workload))?;
    let tmp = std::env::temp_dir().join(format!("sandbench-try-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let params_toml = params.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", ");
    let campaign = format!(
        "name = \"try\"\ntrials = 1\nwarmup = 0\n[[environment]]\nname = \"native\"\ndriver = \"native\"\nvcpus = {}\nmemory_mib = 4096\n[[workload]]\nname = \"{w}\"\nkind = \"{w}\"\nparams = {{ {params_toml} }}\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        w = a.workload,
    );
    let path = tmp.join("try.toml");
    std::fs::write(&path, campaign)?;
    let opts = RunOptions {
        campaign_path: path,
        campaign_text: None,
        out_root: tmp.join("results"),
        resume: None,
        agent: agent_path::resolve(a.agent)?,
        cancel: super::cancel_flag(),
        progress: false,
        git_revision: super::git_revision(),
    };
    let out = sandbench_runner::run(&opts);
    let records = out.as_ref().ok().map(|o| ResultsDir::open(&o.dir).and_then(|d| d.records(false)));
    let _ = std::fs::remove_dir_all(&tmp);
    let records = records.context("run failed")??;
    out?;
    let Some(r) = records.last() else { bail!("the trial left no record") };
    if a.json {
        println!("{}", serde_json::to_string_pretty(r)?);
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
        if !r.outputs.is_null() {
            println!("  outputs {}", r.outputs);
        }
    }
    Ok(if r.status == sandbench_spec::Status::Ok { 0 } else { 1 })
}
