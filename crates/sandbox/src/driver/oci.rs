//! `oci`: the agent in a container started by an OCI runtime (runc, crun, runsc) from a bundle
//! whose rootfs is the guest image's rootfs directory, read-only.
//!
//! Limits come from `linux.resources` (CFS quota for `vcpus`, memory limit) in the cgroup
//! `/sandbench/<id>`. On hybrid cgroup hosts crun refuses to start ("cgroups in hybrid mode not
//! supported"); sandbench then runs every crun command in a private mount namespace without the
//! cgroup2 mount, where crun sees a cgroup v1 host and applies the same limits, and records it.

use crate::cgroups;
use crate::channel::AgentChannel;
use crate::process::{self, kill_group};
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_sampler::Accounting;
use sandbench_spec::campaign::Runtime;
use sandbench_spec::OciConfig;
use serde_json::json;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

/// State directory of sandbench's containers, apart from any other user of the runtime.
pub fn state_root(rt: Runtime) -> PathBuf {
    PathBuf::from("/run/sandbench").join(rt.as_str())
}

/// Global flags used when the campaign gives none.
pub fn default_runtime_args(rt: Runtime) -> Vec<String> {
    match rt {
        // Debian's 2022 runsc: ptrace works without KVM; its netns check misfires on this
        // kernel, so no network of its own.
        Runtime::Runsc => vec!["--platform=ptrace".into(), "--network=none".into()],
        _ => Vec::new(),
    }
}

pub struct Oci {
    cfg: OciConfig,
    live: Option<Live>,
}

struct Live {
    id: String,
    child: Child,
    global: Vec<String>,
    bundle: PathBuf,
    scratch: crate::scratch::Scratch,
    network: Option<crate::net::Network>,
}

impl Oci {
    pub fn new(cfg: OciConfig) -> Self {
        Oci { cfg, live: None }
    }

    /// The campaign's global runtime flags, or the defaults for this runtime.
    fn global_args(&self) -> Vec<String> {
        self.cfg.runtime_args.clone().unwrap_or_else(|| default_runtime_args(self.cfg.runtime))
    }
}

/// A command of runtime `rt` on sandbench's own state root; crun on a hybrid cgroup host runs in
/// a mount namespace without the cgroup2 mount (see the module doc). Every runtime invocation
/// (run, kill, delete, doctor's probe, stale reaping) goes through here.
pub fn runtime_command(rt: Runtime) -> Command {
    let mut cmd = Command::new(rt.as_str());
    if needs_unified_hidden(rt) {
        // SAFETY: the closure only makes async-signal-safe syscalls (unshare, mount, umount2).
        unsafe {
            cmd.pre_exec(cgroups::hide_unified_in_child);
        }
    }
    cmd.arg("--root").arg(state_root(rt));
    cmd
}

/// The bundle's `config.json`: the agent as the container's process, stdio passed through.
pub fn config_json(rootfs: &Path, id: &str, vcpus: u32, memory_mib: u64, with_resources: bool) -> serde_json::Value {
    let mut linux = json!({
        "namespaces": [{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "network"}],
        "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
        "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    });
    if with_resources {
        linux["cgroupsPath"] = json!(format!("/sandbench/{id}"));
        linux["resources"] = json!({
            "cpu": {"quota": vcpus as i64 * cgroups::CFS_PERIOD_US as i64, "period": cgroups::CFS_PERIOD_US},
            "memory": {"limit": memory_mib as i64 * 1024 * 1024}
        });
    }
    let caps =
        ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_NET_BIND_SERVICE"];
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": [sandbench_image::AGENT_PATH],
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/tmp"],
            "cwd": "/tmp",
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": true
        },
        "root": {"path": rootfs.display().to_string(), "readonly": true},
        "hostname": "sandbench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]}
        ],
        "linux": linux
    })
}

/// Makes the container join the network namespace at `path` instead of a new, empty one.
pub fn join_netns(config: &mut serde_json::Value, path: &str) {
    if let Some(ns) = config["linux"]["namespaces"].as_array_mut() {
        for n in ns.iter_mut().filter(|n| n["type"] == "network") {
            n["path"] = json!(path);
        }
    }
}

/// Bind-mounts the sandbox's host scratch directory read-write at `/scratch` and tells the
/// agent so.
pub fn add_scratch(config: &mut serde_json::Value, host_dir: &Path) {
    if let Some(m) = config["mounts"].as_array_mut() {
        m.push(json!({"destination": crate::scratch::GUEST_DIR, "type": "bind",
            "source": host_dir.display().to_string(), "options": ["rbind", "rw", "nosuid", "nodev"]}));
    }
    if let Some(env) = config["process"]["env"].as_array_mut() {
        env.push(json!(format!("{}={}", crate::scratch::ENV, crate::scratch::GUEST_DIR)));
    }
}

impl Sandbox for Oci {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        if !crate::is_root() {
            return Err(SandboxError::Unsupported {
                why: "the oci driver needs root (rootful runtimes, cgroups)".into(),
            });
        }
        let t0 = Instant::now();
        let rt = self.cfg.runtime;
        let bundle = spec.work_dir.join("bundle");
        std::fs::create_dir_all(&bundle)
            .map_err(|source| SandboxError::Io { what: format!("create {}", bundle.display()), source })?;
        std::fs::create_dir_all(state_root(rt))
            .map_err(|source| SandboxError::Io { what: "create runtime state dir".into(), source })?;
        let mut facts = BTreeMap::new();
        facts.insert(
            "runtime".into(),
            process::version_of(rt.as_str(), &["--version"]).unwrap_or_else(|| rt.as_str().into()),
        );
        let global = self.global_args();
        facts.insert(
            "limits".into(),
            format!(
                "runtime cgroup /sandbench/{}: cpu quota {} × {} µs, memory {} MiB",
                spec.id,
                spec.env.vcpus,
                cgroups::CFS_PERIOD_US,
                spec.env.memory_mib
            ),
        );
        if needs_unified_hidden(rt) {
            facts.insert(
                "workaround".into(),
                "crun runs in a mount namespace without /sys/fs/cgroup/unified (hybrid cgroup host)".into(),
            );
        }
        let mut config =
            config_json(&spec.need_image()?.rootfs_dir, &spec.id, spec.env.vcpus, spec.env.memory_mib, true);
        let scratch = harden_and_scratch(spec, &self.cfg, &mut config, &mut facts)?;
        let network = link(spec, rt, &global, &mut config, &mut facts)?;
        let peers = network.as_ref().map(crate::net::Network::peers);
        let cfg_path = bundle.join("config.json");
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&config).unwrap_or_default())
            .map_err(|source| SandboxError::Io { what: format!("write {}", cfg_path.display()), source })?;
        facts.insert("runtime_args".into(), global.join(" "));
        let mut cmd = runtime_command(rt);
        cmd.args(&global).arg("run").arg("--bundle").arg(&bundle).arg(&spec.id).current_dir(&spec.work_dir);
        let log = spec.work_dir.join("runtime.stderr");
        let hint = format!("install it: apt-get install {}", package(rt));
        let s = process::spawn(&mut cmd, &log, &hint)?;
        let spawned_at = Instant::now();
        let pid = s.child.id();
        let cgroup_ref = cgroups::runtime_cgroup_ref(&spec.id);
        self.live = Some(Live { id: spec.id.clone(), child: s.child, global, bundle, scratch, network });
        let channel = AgentChannel::new(s.stdout, s.stdin);
        let boot = crate::channel::await_agent(&channel, spec, t0, spawned_at, &log, false)?;
        if let Some(cg) = &cgroup_ref {
            facts.insert("cgroup".into(), format!("{cg:?}"));
        }
        Ok(Running {
            channel,
            accounting: Accounting { roots: vec![pid], cgroup: cgroup_ref },
            boot,
            facts,
            peers,
            accel: None,
        })
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        let Some(mut live) = self.live.take() else {
            return Ok(());
        };
        let rt = self.cfg.runtime;
        let quiet = |args: &[&str]| {
            let _ = crate::process::run_bounded(runtime_command(rt).args(&live.global).args(args));
        };
        quiet(&["kill", &live.id, "KILL"]);
        kill_group(&mut live.child);
        quiet(&["delete", "--force", &live.id]);
        let mut result = Ok(());
        // The runtime removes its cgroup on delete; make sure nothing is left either way. A
        // runtime killed while it was still creating the container (a SIGTERM mid-launch) has no
        // state for `delete` to act on and leaves every hierarchy's directory, the hybrid
        // host's cgroup-v2 `unified` one too.
        if let Some(sandbench_sampler::CgroupRef::V1 { cpuacct, memory }) = cgroups::runtime_cgroup_ref(&live.id) {
            let others: Vec<PathBuf> = ["cpu", "pids", "devices", "freezer", "blkio", "cpuset", "systemd", "unified"]
                .iter()
                .map(|c| PathBuf::from("/sys/fs/cgroup").join(c).join("sandbench").join(&live.id))
                .chain([cpuacct, memory])
                .filter(|p| p.exists())
                .collect();
            if !others.is_empty() {
                if let Err(source) = cgroups::remove_dirs(&others) {
                    result = Err(SandboxError::Io { what: "remove leftover container cgroup".into(), source });
                }
            }
        }
        if let Some(work) = live.bundle.parent() {
            crate::process::remove_work_dir(work);
        }
        live.scratch.remove();
        // The link goes after the container that used it.
        if let Some(net) = live.network.take() {
            drop(net);
        }
        result
    }
}

/// True when `rt` must run without the cgroup2 mount to work on this host (crun, hybrid).
pub fn needs_unified_hidden(rt: Runtime) -> bool {
    rt == Runtime::Crun
        && cgroups::hybrid_unified_controllers().is_some()
        && cgroups::Hierarchy::detect() == Some(cgroups::Hierarchy::V1)
}

impl Drop for Oci {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// What the record's manifest says of this environment's runtime.
/// Applies the environment's hardening (seccomp, pids limit, user namespace) to the bundle's
/// config and gives the container its scratch directory (owned by its root under a user
/// namespace).
fn harden_and_scratch(
    spec: &LaunchSpec,
    cfg: &OciConfig,
    config: &mut serde_json::Value,
    facts: &mut BTreeMap<String, String>,
) -> Result<crate::scratch::Scratch, SandboxError> {
    let userns = cfg.user_namespace;
    let seccomp_on = cfg.seccomp == sandbench_spec::campaign::Seccomp::Default;
    facts.insert("hardening".into(), crate::hardening::harden(config, seccomp_on, cfg.pids_max, userns));
    let scratch = crate::scratch::Scratch::create(&spec.id)?;
    if userns {
        // The container's root is host uid 100000 there: its scratch must be its own.
        let id = Some(crate::hardening::USERNS_BASE);
        std::os::unix::fs::chown(&scratch.dir, id, id)
            .map_err(|source| SandboxError::Io { what: format!("chown {}", scratch.dir.display()), source })?;
    }
    add_scratch(config, &scratch.dir);
    facts.insert("scratch".into(), scratch.describe("host directory bind-mounted at /scratch:"));
    Ok(scratch)
}

/// The container's link to its host peers, when the campaign needs one and the runtime can
/// join a network namespace.
fn link(
    spec: &LaunchSpec,
    rt: Runtime,
    global: &[String],
    config: &mut serde_json::Value,
    facts: &mut BTreeMap<String, String>,
) -> Result<Option<crate::net::Network>, SandboxError> {
    if !spec.network {
        return Ok(None);
    }
    if global.iter().any(|a| a == "--network=none") {
        facts.insert(
            "network".into(),
            format!(
                "unsupported: {} runs with --network=none (its own netns check misfires on this kernel), so it joins no link",
                rt.as_str()
            ),
        );
        return Ok(None);
    }
    let net = crate::net::Network::create(&spec.id, crate::net::LinkKind::Veth, spec.peer_limits)?;
    join_netns(config, &net.link.netns_path().unwrap_or_default());
    facts.insert("network".into(), net.describe());
    Ok(Some(net))
}

/// The Debian package that installs `rt`.
fn package(rt: Runtime) -> &'static str {
    match rt {
        Runtime::Runsc => "runsc",
        other => other.as_str(),
    }
}

/// Runs the agent's `--version` in a real container of `runtime` built on `rootfs`.
pub fn smoke(runtime: Runtime, rootfs: &Path, work: &Path) -> Result<String, String> {
    let id = format!("sbprobe-{}-{}", runtime.as_str(), std::process::id());
    let bundle = work.join(&id);
    std::fs::create_dir_all(&bundle).map_err(|e| e.to_string())?;
    let mut cfg = config_json(rootfs, &id, 1, 256, false);
    cfg["process"]["args"] = json!([sandbench_image::AGENT_PATH, "--version"]);
    std::fs::write(bundle.join("config.json"), cfg.to_string()).map_err(|e| e.to_string())?;
    let global = default_runtime_args(runtime);
    let _ = std::fs::create_dir_all(state_root(runtime));
    let child = runtime_command(runtime)
        .args(&global)
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let out = process::wait_output(child, std::time::Duration::from_secs(60), "the probe container");
    let _ = process::run_bounded(runtime_command(runtime).args(&global).args(["delete", "--force", &id]));
    let _ = std::fs::remove_dir_all(&bundle);
    let out = out.map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !(out.status.success() && stdout.starts_with("sandbench-agent")) {
        return Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").trim().to_string());
    }
    Ok(if needs_unified_hidden(runtime) {
        format!("{stdout} (in a mount namespace without the cgroup2 mount: hybrid cgroup host)")
    } else {
        stdout
    })
}

/// One runtime's doctor row: a real container started from the image where there is one.
fn doctor_row(rt: Runtime, rootfs: Result<&Path, &str>, work: &Path) -> crate::probe::Availability {
    use crate::probe::{avail, Verdict};
    let hint = format!("apt-get install {}", package(rt));
    if process::on_path(rt.as_str()).is_none() {
        return avail(rt.as_str(), "oci", Verdict::Missing, None, format!("{} not found", rt.as_str()), Some(&hint));
    }
    let version = process::version_of(rt.as_str(), &["--version"]);
    let (verdict, detail) = match (crate::is_root(), rootfs) {
        (false, _) => (Verdict::Unsupported, "needs root".to_string()),
        (true, Err(why)) => (Verdict::Unknown, format!("not started: {why}")),
        (true, Ok(r)) => match smoke(rt, r, work) {
            Ok(out) => (Verdict::Ok, format!("started a real container: {out}")),
            Err(e) => (Verdict::Unsupported, format!("a real container failed: {e}")),
        },
    };
    avail(rt.as_str(), "oci", verdict, version, detail, Some(&hint))
}

/// Containers in sandbench's own runtime state roots (runc, crun, runsc).
fn reap_runtime_containers() -> Vec<String> {
    let mut removed = Vec::new();
    for rt in [Runtime::Runc, Runtime::Crun, Runtime::Runsc] {
        let Ok(entries) = std::fs::read_dir(state_root(rt)) else { continue };
        for id in entries.flatten().filter_map(|e| e.file_name().into_string().ok()).filter(|id| crate::ids::stale(id))
        {
            let _ = process::run_bounded(runtime_command(rt).args(["kill", &id, "KILL"]));
            let _ = process::run_bounded(runtime_command(rt).args(["delete", "--force", &id]));
            removed.push(format!("{} container {id}", rt.as_str()));
        }
    }
    removed
}

/// What `oci` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &["runc", "crun", "runsc"], kvm: false, root: true }
    }

    fn doctor(&self, cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        let rootfs = cx.image.map(|i| i.rootfs_dir.as_path());
        [Runtime::Runc, Runtime::Crun, Runtime::Runsc].into_iter().map(|rt| doctor_row(rt, rootfs, cx.work)).collect()
    }

    fn reap_stale(&self, _sweep: &super::Sweep) -> Vec<String> {
        reap_runtime_containers()
    }
}

/// An `oci` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a OciConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        Box::new(Oci::new(self.cfg.clone()))
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        let rt = self.cfg.runtime;
        if !crate::is_root() {
            return Err(super::Unsupported::NeedsRoot { what: rt.as_str().into() });
        }
        process::on_path(rt.as_str()).map(|_| ()).ok_or_else(|| super::Unsupported::Missing {
            program: rt.as_str().into(),
            hint: format!("apt-get install {}", package(rt)),
        })
    }

    fn versions(&self) -> Vec<(String, String)> {
        let rt = self.cfg.runtime.as_str();
        vec![(rt.to_string(), process::version_of(rt, &["--version"]).unwrap_or_else(|| "missing".into()))]
    }

    fn dimensions(&self) -> super::DriverDims {
        super::DriverDims { runtime: Some(self.cfg.runtime.as_str().into()), ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_a_valid_oci_runtime_spec() {
        let mut v = config_json(Path::new("/images/x/rootfs"), "abc", 2, 512, true);
        add_scratch(&mut v, Path::new("/var/tmp/sandbench-scratch/abc"));
        join_netns(&mut v, "/var/run/netns/sb-abc");
        let spec: oci_spec::runtime::Spec = serde_json::from_value(v).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.cgroups_path().as_deref(), Some(Path::new("/sandbench/abc")));
        let cpu = linux.resources().as_ref().unwrap().cpu().as_ref().unwrap();
        assert_eq!(cpu.quota(), Some(200_000));
        assert_eq!(spec.root().as_ref().unwrap().readonly(), Some(true));
        assert_eq!(spec.process().as_ref().unwrap().args().as_ref().unwrap()[0], sandbench_image::AGENT_PATH);
        let scratch = spec.mounts().as_ref().unwrap().iter().find(|m| m.destination() == Path::new("/scratch"));
        assert_eq!(scratch.unwrap().source().as_deref(), Some(Path::new("/var/tmp/sandbench-scratch/abc")));
        let env = spec.process().as_ref().unwrap().env().clone().unwrap();
        assert!(env.contains(&"SANDBENCH_SCRATCH=/scratch".to_string()), "{env:?}");
        let ns = linux.namespaces().as_ref().unwrap();
        let net = ns.iter().find(|n| n.typ() == oci_spec::runtime::LinuxNamespaceType::Network).unwrap();
        assert_eq!(net.path().as_deref(), Some(Path::new("/var/run/netns/sb-abc")));
    }

    #[test]
    fn without_resources_there_is_no_cgroup_path() {
        let v = config_json(Path::new("/r"), "abc", 2, 512, false);
        assert!(v["linux"].get("cgroupsPath").is_none());
    }
}
