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
    let model = model::build(&m, &records, opts);
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

pub fn run(a: Args) -> Result<i32> {
    let opts = Options { baseline: a.baseline, margin: a.margin / 100.0, resamples: a.resamples.max(100), seed: 1 };
    let md = write(&a.dir, &opts)?;
    print!("{}", if a.brief { brief(&md) } else { md });
    println!("\nwritten: {}/{{report.md, report.html, summary.json, series.csv, trials.csv}}", a.dir.display());
    Ok(0)
}
