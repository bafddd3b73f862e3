//! `sandbench report`: the Markdown summary of a results folder (also written as report.md).

use anyhow::{Context, Result};
use sandbench_runner::ResultsDir;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// A results folder (results/<run>).
    dir: PathBuf,
}

/// Writes `report.md` into the folder and returns its text.
pub fn write(dir: &Path) -> Result<String> {
    let rd = ResultsDir::open(dir)?;
    let m = rd.read_manifest()?;
    let records = rd.records(false)?;
    let title = format!("sandbench run {} ({})", m.run_id, m.state);
    let text = sandbench_report::markdown::render(&title, &records);
    let path = dir.join("report.md");
    std::fs::write(&path, &text).with_context(|| format!("write {}", path.display()))?;
    Ok(text)
}

pub fn run(a: Args) -> Result<i32> {
    print!("{}", write(&a.dir)?);
    Ok(0)
}
