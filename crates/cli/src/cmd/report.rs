//! `sandbench report`: statistics, verdicts, figures and tables from a results folder.
//! Writes report.md, report.html, summary.json, series.csv and trials.csv into it.

use anyhow::{Context, Result};
use sandbench_report::{csv, html, markdown, model, Options};
use sandbench_runner::ResultsDir;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A results folder (results/<run>).
    dir: PathBuf,
    /// Environment every other is compared with (default: native, else the first).
    #[arg(long)]
    baseline: Option<String>,
    /// Equivalence margin in percent.
    #[arg(long, default_value_t = 5.0)]
    margin: f64,
    /// Resamples for bootstrap CIs and permutation tests.
    #[arg(long, default_value_t = 10_000)]
    resamples: usize,
    /// Print only the summary and overview, not the whole Markdown report.
    #[arg(long)]
    brief: bool,
}

/// Builds every report file in `dir` and returns the Markdown text.
pub fn write(dir: &Path, opts: &Options) -> Result<String> {
    let rd = ResultsDir::open(dir)?;
    let m = rd.read_manifest()?;
    let records = rd.records(false)?;
    if let Some(b) = &opts.baseline {
        if !records.iter().any(|r| &r.key.environment == b) {
            let envs: Vec<String> = m.plan.iter().map(|k| k.environment.clone()).fold(Vec::new(), |mut v, e| {
                if !v.contains(&e) {
                    v.push(e)
                }
                v
            });
            anyhow::bail!("--baseline `{b}` is not an environment of this run; valid: {}", envs.join(", "));
        }
    }
    let model = model::build_with(&m, &records, &rd.capacity_lines(false)?, opts);
    let md = markdown::render(&model);
    let files = [
        ("report.md", md.clone()),
        ("report.html", html::render(&model, dir)),
        ("summary.json", serde_json::to_string_pretty(&model)?),
        ("series.csv", csv::series_csv(&model)),
        ("trials.csv", csv::trials_csv(&records)),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(md)
}

/// The summary and overview sections of a Markdown report (what `run` prints at the end).
pub fn brief(md: &str) -> String {
    md.split("\n## ").take(3).collect::<Vec<_>>().join("\n## ")
}

/// Builds each complete host's own report and the fleet's (`report.md`, `report.html`,
/// `summary.json` in the fleet run's folder); returns the fleet's Markdown.
pub fn write_fleet(dir: &Path, opts: &Options) -> Result<String> {
    let manifest = sandbench_fleet::FleetManifest::load(dir)?;
    let mut hosts = Vec::new();
    for (name, h) in &manifest.hosts {
        let run = h.results.as_ref().filter(|_| h.state.is_complete()).map(|r| dir.join(r));
        let mut host = sandbench_report::fleet::HostRun {
            host: name.clone(),
            state: h.state.describe(),
            facts: h.facts.clone(),
            model: None,
            report: None,
            sandbench_version: None,
            image: None,
        };
        if let Some(run) = run {
            write(&run, opts).with_context(|| format!("the report of host {name}"))?;
            let rd = ResultsDir::open(&run)?;
            let m = rd.read_manifest()?;
            host.model = Some(model::build_with(&m, &rd.records(false)?, &rd.capacity_lines(false)?, opts));
            host.report = h.results.as_ref().map(|r| format!("{r}/report.html"));
            host.sandbench_version = Some(m.sandbench_version.clone());
            host.image = m.image.get("image_key").cloned();
        }
        hosts.push(host);
    }
    let md = sandbench_report::fleet::markdown(&hosts);
    let files = [
        ("report.md", md.clone()),
        ("report.html", sandbench_report::fleet::html(&hosts)),
        ("summary.json", serde_json::to_string_pretty(&sandbench_report::fleet::tables(&hosts))?),
    ];
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(md)
}

pub fn run(a: Args) -> Result<i32> {
    let opts = Options { baseline: a.baseline, margin: a.margin / 100.0, resamples: a.resamples.max(100), seed: 1 };
    if a.dir.join(sandbench_fleet::manifest::FILE).is_file() {
        let md = write_fleet(&a.dir, &opts)?;
        print!("{}", if a.brief { brief(&md) } else { md });
        println!("\nwritten: {}/{{report.md, report.html, summary.json}} and each host's own report", a.dir.display());
        return Ok(0);
    }
    let md = write(&a.dir, &opts)?;
    print!("{}", if a.brief { brief(&md) } else { md });
    println!("\nwritten: {}/{{report.md, report.html, summary.json, series.csv, trials.csv}}", a.dir.display());
    Ok(0)
}
