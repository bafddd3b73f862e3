//! `sandbench compare A B`: two results folders side by side.

use anyhow::Result;
use sandbench_runner::ResultsDir;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The reference results folder.
    a: PathBuf,
    /// The results folder compared against it.
    b: PathBuf,
    /// Equivalence margin in percent.
    #[arg(long, default_value_t = 5.0)]
    margin: f64,
}

pub fn run(a: Args) -> Result<i32> {
    let ra = ResultsDir::open(&a.a)?.records(false)?;
    let rb = ResultsDir::open(&a.b)?.records(false)?;
    let (pairs, unmatched) = sandbench_report::compare::pairs(&ra, &rb, a.margin / 100.0, 10_000);
    print!(
        "{}",
        sandbench_report::compare::render(
            &a.a.display().to_string(),
            &a.b.display().to_string(),
            &pairs,
            &unmatched,
            a.margin / 100.0
        )
    );
    Ok(0)
}
