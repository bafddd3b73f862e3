//! `sandbench fleet doctor`: per host, reachable or why not, its facts, and which of
//! sandbench's drivers its programs allow. Changes nothing on the hosts.

use anyhow::Result;
use sandbench_fleet::playbook::{self, Play, Playbook};
use sandbench_fleet::{Event, Inventory};
use sandbench_spec::Driver;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// An Ansible inventory (YAML or INI).
    #[arg(long)]
    inventory: PathBuf,
    /// Hosts checked in parallel at most.
    #[arg(long, default_value_t = 10)]
    forks: u32,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// What doctor learned of one host.
#[derive(Default, serde::Serialize)]
struct Row {
    host: String,
    address: String,
    /// `ok`, or `unreachable: …` / `failed: …` in one line.
    reachable: String,
    facts: Map<String, Value>,
    can_run: Vec<Driver>,
}

pub fn run(a: Args) -> Result<i32> {
    let inv = Inventory::load(&a.inventory)?;
    let work = tempfile::tempdir()?;
    let ansible = playbook::install(work.path())?;
    let log = ansible.join("ansible.log");
    // The programs to look for: every driver's, as each driver declares them.
    let vars = ansible.join("doctor-vars.json");
    let programs = sandbench_sandbox::driver::programs_to_probe();
    std::fs::write(&vars, serde_json::to_vec(&serde_json::json!({ "sb_check_programs": programs }))?)?;
    let play = Play {
        playbook: Playbook::Doctor,
        ansible_dir: &ansible,
        inventory: &a.inventory,
        extra_vars: Some(&vars),
        forks: a.forks,
        limit: &[],
        log: &log,
    };
    let mut rows: BTreeMap<String, Row> = inv
        .hosts
        .values()
        .map(|h| (h.name.clone(), Row { host: h.name.clone(), address: h.address.clone(), ..Default::default() }))
        .collect();
    let mut child = play.spawn()?;
    playbook::follow(&mut child, |e| record(&mut rows, e));
    for r in rows.values_mut() {
        if r.reachable.is_empty() {
            r.reachable = if r.facts.is_empty() { "failed: no answer (see ansible.log)".into() } else { "ok".into() };
        }
        r.can_run = can_run(&r.facts);
    }
    print(&rows, a.json)?;
    Ok(if rows.values().all(|r| r.reachable == "ok") { 0 } else { 4 })
}

fn record(rows: &mut BTreeMap<String, Row>, e: Event) {
    match e {
        Event::Ok { host, facts, .. } => {
            if let Some(r) = rows.get_mut(&host) {
                r.facts.extend(facts);
            }
        }
        Event::Unreachable { host, msg, .. } => {
            if let Some(r) = rows.get_mut(&host) {
                r.reachable = format!("unreachable: {msg}");
            }
        }
        Event::Failed { host, task, msg } => {
            if let Some(r) = rows.get_mut(&host) {
                r.reachable = format!("failed: {task}: {msg}");
            }
        }
        _ => {}
    }
}

/// The drivers a host's programs allow, by each driver's own requirements (the real proof is
/// `sandbench doctor` on the host).
fn can_run(facts: &Map<String, Value>) -> Vec<Driver> {
    if facts.is_empty() {
        return Vec::new();
    }
    let programs: Vec<&str> =
        facts.get("sb_programs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    let kvm = facts.get("sb_kvm").and_then(Value::as_bool).unwrap_or(false);
    sandbench_sandbox::driver::allowed_by(&programs, kvm)
}

fn print(rows: &BTreeMap<String, Row>, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&rows.values().collect::<Vec<_>>())?);
        return Ok(());
    }
    println!(
        "{:<16} {:<16} {:<8} {:>5} {:>8} {:<4} {:<34} reachable",
        "host", "address", "arch", "cores", "mem MiB", "kvm", "can run"
    );
    for r in rows.values() {
        let f = |k: &str| r.facts.get(k).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
        let kvm = match r.facts.get("sb_kvm").and_then(Value::as_bool) {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        println!(
            "{:<16} {:<16} {:<8} {:>5} {:>8} {:<4} {:<34} {}",
            r.host,
            r.address,
            f("architecture").unwrap_or_else(|| "-".into()),
            f("processor_vcpus").unwrap_or_else(|| "-".into()),
            f("memtotal_mb").unwrap_or_else(|| "-".into()),
            kvm,
            if r.can_run.is_empty() {
                "-".into()
            } else {
                r.can_run.iter().map(|d| d.as_str()).collect::<Vec<_>>().join(",")
            },
            r.reachable
        );
    }
    Ok(())
}
