//! What the `docker` and `containerd` drivers share: a client process that attaches the
//! container's stdio, a container found by pid after start, and its cgroup read from
//! `/proc/<pid>/cgroup` (whatever cgroup driver the daemon uses).

use crate::channel::AgentChannel;
use crate::process::{self, kill_group, Spawned};
use crate::{LaunchSpec, Running, SandboxError};
use sandbench_sampler::{Accounting, CgroupRef};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The cgroup of a process from its `/proc/<pid>/cgroup` text: the v1 cpuacct and memory
/// controllers when they are mounted, else the v2 unified path.
pub fn cgroup_from_proc(text: &str) -> Option<CgroupRef> {
    // A line not of the /proc form makes the whole text unusable, as before.
    if cgroup_lines(text).any(|l| l.is_none()) {
        return None;
    }
    let root = PathBuf::from("/sys/fs/cgroup");
    match (controller_path(text, "cpuacct"), controller_path(text, "memory"), controller_path(text, "")) {
        (Some(c), Some(m), _) => {
            Some(CgroupRef::V1 { cpuacct: root.join("cpuacct").join(c), memory: root.join("memory").join(m) })
        }
        (_, _, Some(u)) => Some(CgroupRef::V2 { dir: root.join(u) }),
        _ => None,
    }
}

/// Checks that the environment's daemon `socket` exists and creates the work directory;
/// returns the socket.
pub fn prepare(spec: &LaunchSpec, socket: String, daemon: &str) -> Result<String, SandboxError> {
    if !std::path::Path::new(&socket).exists() {
        return Err(SandboxError::Unsupported {
            why: format!("no {daemon} at {socket}: start one (scripts/daemons.sh start) or set `socket`"),
        });
    }
    std::fs::create_dir_all(&spec.work_dir)
        .map_err(|source| SandboxError::Io { what: format!("create {}", spec.work_dir.display()), source })?;
    Ok(socket)
}

/// Runs a client command to completion, returning its trimmed stdout or a described error.
pub fn output(cmd: &mut Command) -> Result<String, SandboxError> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SandboxError::Command { command: shown.to_string(), detail: e.to_string() })?;
    if !out.status.success() {
        return Err(SandboxError::Command {
            command: shown.to_string(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Waits until `find_pid` names the container's init (it can lag the client's start a little).
pub fn wait_pid(find_pid: impl Fn() -> Option<u32>, timeout: Duration) -> Option<u32> {
    let start = Instant::now();
    loop {
        if let Some(p) = find_pid().filter(|p| *p > 0) {
            return Some(p);
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The parent of `pid` (the daemon's shim for a container's init).
pub fn parent_of(pid: u32) -> Option<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    sandbench_sampler::proc::parse_pid_stat(&text).map(|s| s.ppid)
}

/// Starts the client, waits for the agent, and describes what to account: the shim's tree
/// (shim, container processes) and the container's cgroup.
pub fn attach(
    spec: &LaunchSpec,
    cmd: &mut Command,
    hint: &str,
    slots: (&mut Option<Child>, &mut Option<crate::net::Network>),
    find_pid: impl Fn() -> Option<u32>,
    mut facts: BTreeMap<String, String>,
    pids_max: u32,
) -> Result<Running, SandboxError> {
    let (child_slot, network_slot) = slots;
    let t0 = Instant::now();
    let log = spec.work_dir.join("client.stderr");
    let Spawned { child, stdin, stdout } = process::spawn(cmd, &log, hint)?;
    let spawned_at = Instant::now();
    *child_slot = Some(child);
    let channel = AgentChannel::new(stdout, stdin);
    let boot = crate::channel::await_agent(&channel, spec, t0, spawned_at, &log, false)?;
    let pid = wait_pid(find_pid, Duration::from_secs(10))
        .ok_or_else(|| SandboxError::ContainerState("the daemon did not report the container's pid".into()))?;
    let proc_cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let cgroup = cgroup_from_proc(&proc_cgroup);
    // `ctr run` has no pids flag: the limit goes straight into the task's cgroup (for docker
    // it restates --pids-limit).
    let pids = pids_max_file(&proc_cgroup)
        .ok_or_else(|| SandboxError::ContainerState(format!("no pids cgroup for the container's pid {pid}")))?;
    std::fs::write(&pids, pids_max.to_string())
        .map_err(|source| SandboxError::Io { what: format!("limit pids in {}", pids.display()), source })?;
    if let Some(cg) = &cgroup {
        facts.insert("cgroup".into(), format!("{cg:?}"));
    }
    let shim = parent_of(pid).filter(|p| *p > 1);
    let mut roots = vec![pid];
    if let Some(s) = shim {
        roots.insert(0, s);
        facts.insert("accounted_processes".into(), "the shim and the container's processes".into());
    }
    // The container started with no network of its own but loopback; the link's far end goes
    // into its namespace, as a CNI plugin would put it there.
    let mut peers = None;
    if spec.network && !facts.contains_key("network") {
        let net = network_slot.insert(crate::net::Network::attach(&spec.id, pid, spec.peer_limits)?);
        facts.insert("network".into(), net.describe());
        peers = Some(net.peers());
    }
    Ok(Running { channel, accounting: Accounting { roots, cgroup }, boot, facts, peers, accel: None })
}

/// Kills the client's process group.
pub fn stop_client(child: &mut Option<Child>) {
    if let Some(mut c) = child.take() {
        kill_group(&mut c);
    }
}

/// The `pids.max` file of the cgroup a `/proc/<pid>/cgroup` text names (v2, or v1's pids
/// controller).
pub fn pids_max_file(proc_cgroup: &str) -> Option<std::path::PathBuf> {
    let root = std::path::Path::new("/sys/fs/cgroup");
    let v1 = || controller_path(proc_cgroup, "pids").map(|p| root.join("pids").join(p));
    let v2 = || controller_path(proc_cgroup, "").map(|p| root.join(p));
    v1().or_else(v2).map(|d| d.join("pids.max"))
}

/// Each line of a `/proc/<pid>/cgroup` text as (controllers, path without its leading `/`);
/// v2's unified line has no controllers. None for a line that is not of that form.
fn cgroup_lines(text: &str) -> impl Iterator<Item = Option<(&str, &str)>> {
    text.lines().map(|line| {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        Some((ctrls, path.trim_start_matches('/')))
    })
}

/// The path of `controller` (v1; `""` for v2's unified hierarchy) in a `/proc/<pid>/cgroup`
/// text.
fn controller_path<'a>(text: &'a str, controller: &str) -> Option<&'a str> {
    cgroup_lines(text).flatten().find_map(|(ctrls, path)| {
        let hit = if controller.is_empty() { ctrls.is_empty() } else { ctrls.split(',').any(|c| c == controller) };
        hit.then_some(path)
    })
}

/// Pids of the containerd shims serving container `id` (`containerd-shim-* … -id <id>`).
fn shims_of(id: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_shim = args.first().is_some_and(|a| String::from_utf8_lossy(a).contains("containerd-shim"));
        if is_shim && args.windows(2).any(|w| w[0] == b"-id" && w[1] == id.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// After its container is deleted, a shim exits on its own, a moment later: wait for that
/// (at most `within`), then kill what is left, so teardown ends with nothing of the sandbox.
pub fn reap_shims(id: &str, within: Duration) {
    let give_up = Instant::now() + within;
    while !shims_of(id).is_empty() && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(50));
    }
    for pid in shims_of(id) {
        // SAFETY: kill has no memory-safety preconditions; the pid is this sandbox's own shim.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// A daemon-backed driver as doctor, the host trim and the stale sweep see it.
pub struct Daemon {
    /// The driver's name (`docker`, `containerd`).
    pub name: &'static str,
    /// The client sandbench runs (`docker`, `ctr`).
    pub client: &'static str,
    /// The Debian package with the daemon and its client.
    pub package: &'static str,
    /// The socket of the daemon `scripts/daemons.sh` starts, then the distribution's usual one.
    pub sockets: [&'static str; 2],
    /// Asks the daemon at a socket for its version: `None` when it does not answer.
    pub server_version: fn(&str) -> Option<String>,
}

impl Daemon {
    /// The client is installed, the environment's daemon `socket` exists, and we are root.
    pub fn can_run(&self, socket: String) -> Result<(), super::Unsupported> {
        process::on_path(self.client).ok_or_else(|| super::Unsupported::Missing {
            program: self.client.into(),
            hint: format!("apt-get install {}", self.package),
        })?;
        if !std::path::Path::new(&socket).exists() {
            return Err(super::Unsupported::NoDaemon { socket });
        }
        if !crate::is_root() {
            return Err(super::Unsupported::NeedsRoot { what: self.name.into() });
        }
        Ok(())
    }

    /// Doctor's row: the first of the usual sockets whose daemon answers, else the last one tried.
    pub fn doctor_row(&self) -> crate::probe::Availability {
        let rows: Vec<_> = self.sockets.iter().map(|s| self.check(s)).collect();
        let ok = rows.iter().position(|r| r.verdict == crate::probe::Verdict::Ok);
        rows[ok.unwrap_or(rows.len() - 1)].clone()
    }

    fn check(&self, socket: &str) -> crate::probe::Availability {
        use crate::probe::{avail, Verdict};
        let hint =
            format!("apt-get install {}; start it with scripts/daemons.sh start (or set `socket`)", self.package);
        if process::on_path(self.client).is_none() {
            return avail(
                self.name,
                self.name,
                Verdict::Missing,
                None,
                format!("{} not found", self.client),
                Some(&hint),
            );
        }
        // A socket that is not there has no daemon; asking would wait for the client's timeout.
        let answer = if std::path::Path::new(socket).exists() { (self.server_version)(socket) } else { None };
        match answer {
            Some(v) => avail(self.name, self.name, Verdict::Ok, Some(v), format!("daemon answers at {socket}"), None),
            None => avail(
                self.name,
                self.name,
                Verdict::Missing,
                process::version_of(self.client, &["--version"]),
                format!("{} is installed but no daemon answers at {socket}", self.client),
                Some(&hint),
            ),
        }
    }

    /// The usual sockets and the campaign's own, each once, that exist on this host.
    pub fn live_sockets(&self, campaign: &[String]) -> Vec<String> {
        let mut all: Vec<String> = self.sockets.iter().map(|s| s.to_string()).collect();
        for s in campaign {
            if !all.contains(s) {
                all.push(s.clone());
            }
        }
        all.retain(|s| std::path::Path::new(s).exists());
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_of_a_docker_container_on_a_hybrid_host() {
        let text =
            "9:name=systemd:/docker/67dc\n4:memory:/docker/67dc\n2:cpuacct:/docker/67dc\n1:cpu:/docker/67dc\n0::/\n";
        assert_eq!(
            cgroup_from_proc(text),
            Some(CgroupRef::V1 {
                cpuacct: "/sys/fs/cgroup/cpuacct/docker/67dc".into(),
                memory: "/sys/fs/cgroup/memory/docker/67dc".into()
            })
        );
    }

    #[test]
    fn combined_controllers_and_unified_hosts() {
        let text = "4:memory:/a\n3:cpu,cpuacct:/a\n";
        assert!(matches!(cgroup_from_proc(text), Some(CgroupRef::V1 { .. })));
        let v2 =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/proc_cgroup_v2.txt")).unwrap();
        assert_eq!(
            cgroup_from_proc(&v2),
            Some(CgroupRef::V2 { dir: "/sys/fs/cgroup/system.slice/docker-3f2a9c.scope".into() })
        );
        assert_eq!(cgroup_from_proc("garbage"), None);
    }

    #[test]
    fn the_pids_limit_file_of_a_v1_or_v2_task() {
        let v1 = "9:name=systemd:/x\n8:pids:/system.slice/abc\n0::/\n";
        assert_eq!(pids_max_file(v1).unwrap(), std::path::Path::new("/sys/fs/cgroup/pids/system.slice/abc/pids.max"));
        let v2 = "0::/default/abc\n";
        assert_eq!(pids_max_file(v2).unwrap(), std::path::Path::new("/sys/fs/cgroup/default/abc/pids.max"));
    }
}
