//! The playbooks and callback shipped in the repository (`fleet/`), embedded in the binary and
//! written into each fleet run's folder, and the `ansible-playbook` process that runs them with
//! our callback as its stdout.

use crate::events::{read_events, Event};
use crate::{io, FleetError};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const RUN_YML: &str = include_str!("../../../fleet/run.yml");
const DOCTOR_YML: &str = include_str!("../../../fleet/doctor.yml");
const CALLBACK: &str = include_str!("../../../fleet/callback_plugins/sandbench_events.py");

/// Which playbook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Playbook {
    /// `fleet/run.yml`: the campaign on every host, results fetched back.
    Run,
    /// `fleet/doctor.yml`: facts and programs per host, nothing changed.
    Doctor,
}

impl Playbook {
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Playbook::Run => ("run.yml", RUN_YML),
            Playbook::Doctor => ("doctor.yml", DOCTOR_YML),
        }
    }
}

/// Writes the playbooks and the callback into `dir/ansible/`; returns that folder.
pub fn install(dir: &Path) -> Result<PathBuf, FleetError> {
    let ansible = dir.join("ansible");
    let plugins = ansible.join("callback_plugins");
    std::fs::create_dir_all(&plugins).map_err(io(format!("create {}", plugins.display())))?;
    for (name, text) in
        [Playbook::Run.file(), Playbook::Doctor.file(), ("callback_plugins/sandbench_events.py", CALLBACK)]
    {
        let path = ansible.join(name);
        std::fs::write(&path, text).map_err(io(format!("write {}", path.display())))?;
    }
    Ok(ansible)
}

/// `ansible-playbook --version`'s first line, or why it cannot run.
pub fn ansible_version() -> Result<String, FleetError> {
    let out = Command::new("ansible-playbook").arg("--version").output().map_err(|e| FleetError::Ansible {
        program: "ansible-playbook".into(),
        detail: format!("{e} (install ansible-core: apt-get install ansible-core, or scripts/setup.sh)"),
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.lines().next().unwrap_or("ansible-playbook (unknown version)").trim().to_string())
}

/// One run of a playbook.
pub struct Play<'a> {
    pub playbook: Playbook,
    /// The folder `install` wrote.
    pub ansible_dir: &'a Path,
    pub inventory: &'a Path,
    /// A JSON file of extra-vars.
    pub extra_vars: Option<&'a Path>,
    pub forks: u32,
    /// Only these hosts (all when empty).
    pub limit: &'a [String],
    /// Where Ansible's own stderr goes.
    pub log: &'a Path,
}

impl Play<'_> {
    /// Starts `ansible-playbook` in a process group of its own (so that stopping it stops its
    /// SSH sessions too), our callback on its stdout.
    pub fn spawn(&self) -> Result<Child, FleetError> {
        let (name, _) = self.playbook.file();
        let log = std::fs::File::create(self.log).map_err(io(format!("create {}", self.log.display())))?;
        let mut cmd = Command::new("ansible-playbook");
        cmd.arg("-i").arg(self.inventory).arg("--forks").arg(self.forks.max(1).to_string());
        if let Some(vars) = self.extra_vars {
            cmd.arg("--extra-vars").arg(format!("@{}", vars.display()));
        }
        if !self.limit.is_empty() {
            cmd.arg("--limit").arg(self.limit.join(","));
        }
        cmd.arg(self.ansible_dir.join(name))
            .env("ANSIBLE_STDOUT_CALLBACK", "sandbench_events")
            .env("ANSIBLE_CALLBACK_PLUGINS", self.ansible_dir.join("callback_plugins"))
            .env("ANSIBLE_LOAD_CALLBACK_PLUGINS", "1")
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("ANSIBLE_PYTHON_INTERPRETER", "auto_silent")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "0")
            // One SSH round trip per task instead of several (modules sent on stdin).
            .env("ANSIBLE_PIPELINING", "1")
            .env("ANSIBLE_LOCAL_TEMP", self.ansible_dir.join("tmp"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .process_group(0);
        cmd.spawn().map_err(|e| FleetError::Ansible {
            program: "ansible-playbook".into(),
            detail: format!("{e} (install ansible-core: apt-get install ansible-core, or scripts/setup.sh)"),
        })
    }
}

/// Feeds every event of a running play to `each` until it ends; its exit code.
pub fn follow(child: &mut Child, each: impl FnMut(Event)) -> Option<i32> {
    if let Some(out) = child.stdout.take() {
        read_events(out, each);
    }
    child.wait().ok().and_then(|s| s.code())
}

/// Stops a play (by its pid, from another thread while `follow` reads it) and everything it
/// started on this machine (its SSH clients): its process group.
pub fn stop(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        // SAFETY: kill(2) on our own child's process group has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGTERM);
        }
    }
}

/// Whether the play's process still exists (not yet reaped).
pub fn running(pid: u32) -> bool {
    // SAFETY: kill(pid, 0) only asks whether the process exists.
    i32::try_from(pid).is_ok_and(|p| unsafe { libc::kill(p, 0) } == 0)
}
