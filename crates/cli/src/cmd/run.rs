//! `sandbench run`: a campaign into a results folder, then its summary.

use crate::agent_path;
use anyhow::{bail, Result};
use sandbench_runner::RunOptions;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The campaign file (TOML); see docs/CAMPAIGN.md. Without one (and without --resume), the
    /// embedded quick campaign runs over the environments this host can run.
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
    /// Run only this workload of the campaign (by name; repeat for more): the others are left
    /// out of the run and of its results folder. The quickstart runs cpu and noop first, then
    /// the AI kinds once their engines are built.
    #[arg(long = "workload", value_name = "NAME", conflicts_with = "resume")]
    workloads: Vec<String>,
    /// Test stand-in: every environment's sandbox is replaced by one that isolates nothing
    /// (the workloads run in a thread of sandbench; cpu and noop only), so the run loop, resume,
    /// stopping, the report and compare can be tested without root, QEMU, runc or an agent.
    /// Its results are marked as such. Never for measuring.
    #[arg(long, hide = true)]
    debug_mode: bool,
    /// No progress (by default a bar in a terminal, a line per trial otherwise).
    #[arg(long)]
    quiet: bool,
    /// Check every trial's outputs against the known answers on the sample inputs (espresso for
    /// coffee.png, two faces in zidane.jpg, …) and fail (exit 3) on any wrong answer.
    #[arg(long)]
    verify: bool,
}

/// Prints every wrong answer of the run's trials; returns how many trials had one.
pub fn verify(dir: &std::path::Path) -> Result<usize> {
    let records = sandbench_runner::ResultsDir::open(dir)?.records(false)?;
    let mut wrong = 0;
    let mut checked = 0;
    for r in records.iter().filter(|r| r.status == sandbench_spec::Status::Ok) {
        let problems = r.dims.kind.known().map_or_else(Vec::new, |k| sandbench_workloads::expect::check(k, &r.outputs));
        checked += 1;
        if !problems.is_empty() {
            wrong += 1;
            eprintln!("WRONG ANSWER: {}:", r.key.slug());
            for p in problems {
                eprintln!("  {p}");
            }
        }
    }
    println!("verify: {checked} trials checked, {wrong} with a wrong answer");
    Ok(wrong)
}

/// The quick campaign shipped in the binary, without the environments this host cannot run
/// (all of them kept for the test stand-in, which runs any).
fn embedded_default(stand_in: bool) -> Result<sandbench_spec::Campaign> {
    let path = std::path::Path::new(EMBEDDED_NAME);
    let mut c = sandbench_spec::Campaign::parse(EMBEDDED, path)?;
    c.environments.retain(|e| match sandbench_sandbox::driver::can_run(e.get_ref()) {
        _ if stand_in => true,
        Ok(()) => true,
        Err(why) => {
            eprintln!("note: skipping environment `{}`: {why}", e.get_ref().name);
            false
        }
    });
    if c.environments.is_empty() {
        bail!("this host can run none of the quick campaign's environments");
    }
    let names: Vec<&str> = c.envs().map(|e| e.name.as_str()).collect();
    eprintln!("running the embedded quick campaign on: {}", names.join(", "));
    Ok(c)
}

/// Keeps only the workloads named by `--workload` (checked first, on the file's own text, so
/// that errors name its lines); an unknown name is an error listing the campaign's workloads.
fn only_workloads(mut c: sandbench_spec::Campaign, path: &Path, text: &str, names: &[String]) -> Result<String> {
    sandbench_runner::check_campaign(&c, path, text)?;
    let known: Vec<String> = c.workloads.iter().map(|w| w.get_ref().name.clone()).collect();
    if let Some(unknown) = names.iter().find(|n| !known.contains(n)) {
        bail!(
            "--workload {unknown}: {} has no workload of that name; its workloads: {}",
            path.display(),
            known.join(", ")
        );
    }
    c.workloads.retain(|w| names.contains(&w.get_ref().name));
    Ok(toml::to_string(&c)?)
}

/// The campaign's path (for messages and the manifest) and its text when it is not simply the
/// file: the embedded default, or a file with `--workload` filters.
fn campaign_source(a: &Args) -> Result<(PathBuf, Option<String>)> {
    Ok(match (&a.campaign, &a.resume) {
        (Some(p), _) if a.workloads.is_empty() => (p.clone(), None),
        (Some(p), _) => {
            let (c, text) = sandbench_spec::Campaign::load(p)?;
            let filtered = only_workloads(c, p, &text, &a.workloads)?;
            (p.clone(), Some(filtered))
        }
        (None, Some(_)) => (PathBuf::new(), None),
        (None, None) => {
            let c = embedded_default(a.debug_mode)?;
            let text = if a.workloads.is_empty() {
                toml::to_string(&c)?
            } else {
                only_workloads(c, Path::new(EMBEDDED_NAME), EMBEDDED, &a.workloads)?
            };
            (PathBuf::from(EMBEDDED_NAME), Some(text))
        }
    })
}

/// `--debug-mode`: the test stand-in for every environment, scripted by `$SANDBENCH_STAND_IN`.
fn stand_in_drivers() -> Result<sandbench_runner::DriverFactory> {
    use sandbench_sandbox::stand_in::{Script, StandIn};
    let script = Script::from_env()?;
    eprintln!("debug mode: every sandbox is the test stand-in (no isolation; not a measurement)");
    Ok(std::sync::Arc::new(move |env: &sandbench_spec::Environment| {
        Box::new(StandIn::new(env, script.clone())) as Box<dyn sandbench_sandbox::Sandbox>
    }))
}

const EMBEDDED_NAME: &str = "<embedded examples/quick.toml>";
const EMBEDDED: &str = include_str!("../../../../examples/quick.toml");

pub fn run(a: Args) -> Result<i32> {
    let (campaign_path, campaign_text) = campaign_source(&a)?;
    let opts = RunOptions {
        campaign_path,
        campaign_text,
        out_root: a.out,
        resume: a.resume,
        agent: if a.debug_mode { PathBuf::from("<test stand-in: no agent>") } else { agent_path::resolve(a.agent)? },
        agent_dynamic: if a.debug_mode { None } else { agent_path::resolve_dynamic() },
        cancel: super::cancel_flag(),
        progress: sandbench_runner::ProgressMode::for_stderr(a.quiet, std::io::stderr().is_terminal()),
        git_revision: super::git_revision(),
        drivers: if a.debug_mode { Some(stand_in_drivers()?) } else { None },
    };
    let out = sandbench_runner::run(&opts)?;
    let wrong = if a.verify { verify(&out.dir)? } else { 0 };
    let report = super::report::write(&out.dir, &sandbench_report::Options::default())?;
    println!("{}", super::report::brief(&report));
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
    } else if wrong > 0 {
        3
    } else if out.failed + out.timeout > 0 {
        1
    } else {
        0
    })
}
