//! `sandbench fleet`: one campaign on many hosts through Ansible (docs/FLEET.md).

mod doctor;
mod prepare;
mod progress;

use crate::agent_path;
use anyhow::{bail, Context, Result};
use sandbench_fleet::manifest::Outcome;
use sandbench_fleet::playbook::{self, Play, Playbook};
use sandbench_fleet::run::Tracker;
use sandbench_fleet::{FleetManifest, Inventory};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

#[derive(clap::Subcommand)]
pub enum FleetCmd {
    /// Per host: reachable, architecture, cores, memory, KVM, which environments it can run.
    Doctor(doctor::Args),
    /// A campaign on every host of an inventory, results fetched back into one folder.
    Run(RunArgs),
}

#[derive(clap::Args)]
pub struct RunArgs {
    /// The campaign file (its `[[fleet.override]]`s change it per host or group).
    campaign: Option<PathBuf>,
    /// An Ansible inventory (YAML or INI).
    #[arg(long, required_unless_present = "resume")]
    inventory: Option<PathBuf>,
    /// Where the fleet run's folder is created.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Finish a fleet run: only its hosts not complete run (each resuming its own run).
    #[arg(long, value_name = "FLEET_RUN_DIR", conflicts_with_all = ["campaign", "inventory"])]
    resume: Option<PathBuf>,
    /// Hosts run in parallel at most (Ansible's forks).
    #[arg(long, default_value_t = 10)]
    forks: u32,
    /// Longest one host's campaign may run, in seconds.
    #[arg(long, default_value_t = 6 * 3600)]
    host_time_limit_s: u64,
    /// Binaries for another architecture: ARCH=DIR, DIR holding `sandbench` and the static
    /// `sandbench-agent` (repeatable). This machine's own are always there.
    #[arg(long, value_name = "ARCH=DIR")]
    binaries: Vec<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

pub fn run(c: FleetCmd) -> Result<i32> {
    match c {
        FleetCmd::Doctor(a) => doctor::run(a),
        FleetCmd::Run(a) => match a.resume.clone() {
            Some(dir) => resume(&dir, &a),
            None => start(&a),
        },
    }
}

/// A new fleet run.
fn start(a: &RunArgs) -> Result<i32> {
    let Some(campaign_path) = &a.campaign else { bail!("fleet run: name a campaign file (or --resume a fleet run)") };
    let inventory_path = a.inventory.as_deref().unwrap_or(Path::new(""));
    let (campaign, text) = sandbench_spec::Campaign::load(campaign_path)?;
    let inv = Inventory::load(inventory_path)?;
    let id = fleet_id(campaign.name.as_deref());
    let dir = a.out.join(&id);
    std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
    let dir = std::fs::canonicalize(&dir)?;
    std::fs::write(dir.join("campaign.toml"), &text)?;
    let agent = agent_path::resolve(None)?;
    let campaigns = prepare::host_campaigns(&dir, &campaign, &inv)?;
    let mut binaries = prepare::parse_binaries(&a.binaries)?;
    let (arch, own) = prepare::own_binaries(&dir, &agent)?;
    binaries.entry(arch).or_insert(own);
    let seeds = prepare::seeds(&dir, &campaigns, &agent, binaries.keys().cloned())?;
    let vars = serde_json::json!({
        "sb_fleet_id": id,
        "sb_fleet_dir": dir,
        "sb_binaries": binaries,
        "sb_seed": seeds,
        "sb_campaigns": dir.join("campaigns"),
        "sb_time_limit_s": a.host_time_limit_s,
        "sb_poll_s": 2,
        "sb_results_max_mib": sandbench_fleet::unpack::MAX_BYTES >> 20,
    });
    let ansible = playbook::install(&dir)?;
    std::fs::write(ansible.join("vars.json"), serde_json::to_vec_pretty(&vars)?)?;
    let mut manifest = prepare::manifest(&id, campaign_path, inventory_path, &inv, a.forks, a.host_time_limit_s)?;
    manifest.save(&dir)?;
    eprintln!("fleet: {} hosts, {} in parallel at most; folder {}", inv.hosts.len(), a.forks, dir.display());
    drive(&dir, &mut manifest, &inv.names(), a)
}

/// The hosts of a fleet run that are not complete, again.
fn resume(dir: &Path, a: &RunArgs) -> Result<i32> {
    let dir = std::fs::canonicalize(dir).with_context(|| format!("--resume {}", dir.display()))?;
    let mut manifest = FleetManifest::load(&dir)?;
    let todo = manifest.unfinished();
    if todo.is_empty() {
        eprintln!("fleet: every host of {} is complete", dir.display());
        return finish(&dir, &manifest, false);
    }
    eprintln!("fleet: resuming {} of {} hosts: {}", todo.len(), manifest.hosts.len(), todo.join(", "));
    let ansible = playbook::install(&dir)?;
    if !ansible.join("vars.json").is_file() {
        bail!("{}: no ansible/vars.json; not a fleet run folder", dir.display());
    }
    drive(&dir, &mut manifest, &todo, a)
}

/// Runs the playbook on `hosts`, following each host's state into the manifest.
fn drive(dir: &Path, manifest: &mut FleetManifest, hosts: &[String], a: &RunArgs) -> Result<i32> {
    let ansible = dir.join("ansible");
    let inventory = PathBuf::from(&manifest.inventory_path);
    let vars = ansible.join("vars.json");
    let log = ansible.join("ansible.log");
    let play = Play {
        playbook: Playbook::Run,
        ansible_dir: &ansible,
        inventory: &inventory,
        extra_vars: Some(&vars),
        forks: a.forks,
        limit: hosts,
        log: &log,
    };
    let cancel = super::cancel_flag();
    let mut child = play.spawn()?;
    let mut bars = progress::Bars::new(hosts, !a.quiet);
    let mut changed = |h: &str, r: &sandbench_fleet::HostRecord| bars.show(h, r);
    let mut tracker = Tracker { dir, manifest, changed: &mut changed };
    tracker.start(hosts)?;
    let watch_cancel = cancel.clone();
    let pid = child.id();
    let watcher = std::thread::spawn(move || {
        while !watch_cancel.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(200));
            if !playbook::running(pid) {
                return;
            }
        }
        playbook::stop(pid);
    });
    let mut failed_save = None;
    let exit = playbook::follow(&mut child, |e| {
        if let Err(err) = tracker.apply(e) {
            failed_save.get_or_insert(err);
        }
    });
    let interrupted = cancel.load(Ordering::SeqCst);
    cancel.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    tracker.finish(interrupted, exit)?;
    if let Some(e) = failed_save {
        return Err(e.into());
    }
    drop(bars);
    finish(dir, manifest, interrupted)
}

/// Prints each host's state, writes the fleet report, and says how the run ended.
fn finish(dir: &Path, manifest: &FleetManifest, interrupted: bool) -> Result<i32> {
    println!("{:<16} {:<16} {:<8} state", "host", "address", "arch");
    for (name, h) in &manifest.hosts {
        let arch = h.facts.get("architecture").and_then(|v| v.as_str()).unwrap_or("-");
        println!("{name:<16} {:<16} {arch:<8} {}", h.address, h.state.describe());
    }
    if manifest.hosts.values().any(|h| h.state.is_complete()) {
        let md = super::report::write_fleet(dir, &sandbench_report::Options::default())?;
        println!("{}", super::report::brief(&md));
    }
    let outcome = manifest.outcome();
    println!(
        "fleet run: {} ({})",
        dir.display(),
        match outcome {
            Outcome::Complete => "complete".to_string(),
            Outcome::Partial => format!("partial: finish with `sandbench fleet run --resume {}`", dir.display()),
            Outcome::Failed => "failed: no host completed".to_string(),
        }
    );
    Ok(if interrupted { 130 } else { outcome.exit_code() })
}

/// `fleet-<UTC date and time>-<campaign name>`.
fn fleet_id(name: Option<&str>) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let name: String =
        name.unwrap_or("campaign").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    format!("fleet-{}-{name}", sandbench_runner::timestamp(secs))
}
