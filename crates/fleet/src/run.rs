//! A play's events turned into each host's state in the fleet manifest, saved at every change.

use crate::events::Event;
use crate::manifest::{FleetManifest, HostState};
use crate::FleetError;
use std::path::Path;

/// The task after which a host's results archive is on the controller.
pub const FETCH_TASK: &str = "fetch the results";

/// Applies the events of one play to the manifest (of the fleet run in `dir`), unpacking each
/// host's results when they arrive; `changed` hears of every host whose record changed.
pub struct Tracker<'a> {
    pub dir: &'a Path,
    pub manifest: &'a mut FleetManifest,
    pub changed: &'a mut dyn FnMut(&str, &crate::HostRecord),
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Tracker<'_> {
    /// Marks `hosts` as running, from now.
    pub fn start(&mut self, hosts: &[String]) -> Result<(), FleetError> {
        for h in hosts {
            if let Some(r) = self.manifest.hosts.get_mut(h) {
                r.state = HostState::Running;
                r.started = Some(now());
                r.ended = None;
                r.task = None;
            }
        }
        self.manifest.save(self.dir)
    }

    /// One event.
    pub fn apply(&mut self, e: Event) -> Result<(), FleetError> {
        let Some(host) = e.host().map(str::to_string) else { return Ok(()) };
        let dir = self.dir.to_path_buf();
        let Some(r) = self.manifest.hosts.get_mut(&host) else { return Ok(()) };
        if !matches!(r.state, HostState::Running) {
            return Ok(()); // a host already failed or done keeps its state
        }
        match e {
            Event::Task { task, .. } => r.task = Some(task),
            Event::Ok { task, facts, .. } => {
                r.facts.extend(facts);
                if task == FETCH_TASK {
                    let archive = dir.join("hosts").join(&host).join("results.tar.gz");
                    match crate::unpack::results(&host, &archive, &dir.join("hosts").join(&host)) {
                        Ok((run, _)) => {
                            r.results = run.strip_prefix(&dir).ok().map(|p| p.display().to_string());
                            r.state = HostState::Complete;
                            r.ended = Some(now());
                        }
                        Err(e) => {
                            r.state = HostState::Failed(e.to_string());
                            r.ended = Some(now());
                        }
                    }
                    let _ = std::fs::remove_file(&archive);
                }
            }
            Event::Failed { task, msg, .. } => {
                r.state = HostState::Failed(format!("{task}: {msg}"));
                r.ended = Some(now());
            }
            Event::Unreachable { msg, .. } => {
                r.state = HostState::Unreachable(msg);
                r.ended = Some(now());
            }
            Event::Poll { .. } | Event::Skipped { .. } | Event::Start | Event::Stats { .. } => return Ok(()),
        }
        (self.changed)(&host, r);
        self.manifest.save(self.dir)
    }

    /// The play ended (or was stopped): hosts it left running are interrupted or failed.
    pub fn finish(&mut self, interrupted: bool, exit: Option<i32>) -> Result<(), FleetError> {
        for (name, r) in self.manifest.hosts.iter_mut().filter(|(_, r)| r.state == HostState::Running) {
            r.state = if interrupted {
                HostState::Interrupted
            } else {
                let at = r.task.as_deref().unwrap_or("its first task");
                HostState::Failed(format!(
                    "ansible-playbook ended (exit {}) before this host finished, at {at}; see ansible/ansible.log",
                    exit.map(|c| c.to_string()).unwrap_or_else(|| "by a signal".into())
                ))
            };
            r.ended = Some(now());
            (self.changed)(name, r);
        }
        self.manifest.save(self.dir)
    }
}
