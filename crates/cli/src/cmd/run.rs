//! `sandbench run`: a campaign into a results folder, then its summary.

use crate::agent_path;
use anyhow::{bail, Result};
use sandbench_runner::RunOptions;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The campaign file (TOML); see docs/CAMPAIGN.md.
    campaign: Option<PathBuf>,
    /// Finish an interrupted run: its finished trials are kept, the rest run.
    #[arg(long, value_name = "RESULTS_DIR", conflicts_with = "campaign")]
    resume: Option<PathBuf>,
    /// Where results folders are created.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// The static agent binary (default: found next to sandbench).
    #[arg(long)]
    agent: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(a: Args) -> Result<i32> {
    if a.campaign.is_none() && a.resume.is_none() {
        bail!("give a campaign file (e.g. examples/quick.toml) or --resume results/<run>");
    }
    let opts = RunOptions {
        campaign_path: a.campaign.clone().unwrap_or_default(),
        out_root: a.out,
        resume: a.resume,
        agent: agent_path::resolve(a.agent)?,
        cancel: super::cancel_flag(),
        progress: !a.quiet && std::io::stderr().is_terminal(),
        git_revision: super::git_revision(),
    };
    let out = sandbench_runner::run(&opts)?;
    let report = super::report::write(&out.dir)?;
    println!("{report}");
    println!(
        "results: {}  ({} ok, {} failed, {} timed out{}{})",
        out.dir.display(),
        out.ok,
        out.failed,
        out.timeout,
        if out.skipped_done > 0 { format!(", {} already done", out.skipped_done) } else { String::new() },
        if out.interrupted { "; INTERRUPTED: finish with `sandbench run --resume` on this folder" } else { "" }
    );
    Ok(if out.interrupted {
        130
    } else if out.failed + out.timeout > 0 {
        1
    } else {
        0
    })
}
