//! `sandbench compare A B`: two results folders side by side.

use anyhow::Result;
use sandbench_runner::ResultsDir;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The reference results folder (or, with `--by host`, a fleet run's folder).
    a: PathBuf,
    /// The results folder compared against it.
    #[arg(required_unless_present = "by")]
    b: Option<PathBuf>,
    /// `host`: the hosts of a fleet run, each against the first complete one, environment by
    /// environment.
    #[arg(long, value_parser = ["host"])]
    by: Option<String>,
    /// Equivalence margin in percent.
    #[arg(long, default_value_t = 5.0)]
    margin: f64,
}

pub fn run(a: Args) -> Result<i32> {
    if a.by.is_some() {
        return by_host(&a);
    }
    let b = a.b.clone().unwrap_or_default();
    let ra = ResultsDir::open(&a.a)?.records(false)?;
    let rb = ResultsDir::open(&b)?.records(false)?;
    let (pairs, unmatched) = sandbench_report::compare::pairs(&ra, &rb, a.margin / 100.0, 10_000);
    print!(
        "{}",
        sandbench_report::compare::render(
            &a.a.display().to_string(),
            &b.display().to_string(),
            &pairs,
            &unmatched,
            a.margin / 100.0
        )
    );
    Ok(0)
}

/// Every complete host of a fleet run against the first one.
fn by_host(a: &Args) -> Result<i32> {
    let m = sandbench_fleet::FleetManifest::load(&a.a)?;
    let runs: Vec<(String, PathBuf)> = m
        .hosts
        .iter()
        .filter(|(_, h)| h.state.is_complete())
        .filter_map(|(n, h)| Some((n.clone(), a.a.join(h.results.as_ref()?))))
        .collect();
    let Some(((first, first_dir), rest)) = runs.split_first() else {
        anyhow::bail!("{}: no host of this fleet run is complete", a.a.display());
    };
    if rest.is_empty() {
        anyhow::bail!("{}: only {first} is complete; --by host needs two hosts", a.a.display());
    }
    let ra = ResultsDir::open(first_dir)?.records(false)?;
    for (host, dir) in rest {
        let rb = ResultsDir::open(dir)?.records(false)?;
        let (pairs, unmatched) = sandbench_report::compare::pairs(&ra, &rb, a.margin / 100.0, 10_000);
        print!("{}", sandbench_report::compare::render(first, host, &pairs, &unmatched, a.margin / 100.0));
        println!();
    }
    Ok(0)
}
