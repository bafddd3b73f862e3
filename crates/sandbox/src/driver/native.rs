//! `native`: the agent as a plain host process, limited by a cgroup sandbench creates
//! (`vcpus` as a CFS quota, `memory_mib` as a memory limit) when run as root.

use crate::cgroups::Cgroup;
use crate::channel::AgentChannel;
use crate::net::{LinkKind, Network};
use crate::process::{self, kill_group};
use crate::scratch::Scratch;
use crate::{is_root, LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_sampler::Accounting;
use sandbench_spec::NativeConfig;
use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::Instant;

#[derive(Default)]
pub struct Native {
    cfg: NativeConfig,
    child: Option<Child>,
    cgroup: Option<Cgroup>,
    work_dir: Option<std::path::PathBuf>,
    scratch: Option<Scratch>,
    network: Option<Network>,
}

impl Sandbox for Native {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let t0 = Instant::now();
        std::fs::create_dir_all(&spec.work_dir)
            .map_err(|source| SandboxError::Io { what: format!("create {}", spec.work_dir.display()), source })?;
        self.work_dir = Some(spec.work_dir.clone());
        let mut facts = BTreeMap::new();
        let agent = spec.agent;
        let mut cmd = Command::new(agent);
        cmd.current_dir(&spec.work_dir).env_clear().env("PATH", "/usr/bin:/bin");
        if let Some(a) = spec.assets {
            cmd.env("SANDBENCH_ASSETS", a);
        }
        let scratch = Scratch::create(&spec.id)?;
        cmd.env(crate::scratch::ENV, &scratch.dir);
        facts.insert("scratch".into(), scratch.describe("host directory"));
        self.scratch = Some(scratch);
        // Without root there is no link; the sandbox still runs its other workloads and its
        // network trials fail with the reason.
        let network = match spec.network.then(|| Network::create(&spec.id, LinkKind::Veth, spec.peer_limits)) {
            Some(Err(SandboxError::Unsupported { why })) => {
                facts.insert("network".into(), format!("unsupported: {why}"));
                None
            }
            other => other.transpose()?,
        };
        if let Some(net) = network {
            let net = self.network.insert(net);
            facts.insert("network".into(), net.describe());
            let path = net.link.netns_path().unwrap_or_default();
            let ns = std::fs::File::open(&path)
                .map_err(|source| SandboxError::Io { what: format!("open {path}"), source })?;
            let fd = ns.as_raw_fd();
            // SAFETY: setns(2) is async-signal-safe; `ns` is moved into the closure, so the
            // descriptor stays open as long as `cmd` can spawn.
            unsafe {
                cmd.pre_exec(move || {
                    let _keep = &ns;
                    if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        if is_root() {
            let cg = Cgroup::create(&spec.id, spec.env.vcpus, spec.env.memory_mib, self.cfg.pids_max)
                .map_err(|source| SandboxError::Io { what: "create native cgroup".into(), source })?;
            facts.insert("limits".into(), cg.describe(spec.env.vcpus, spec.env.memory_mib));
            let files =
                cg.open_procs().map_err(|source| SandboxError::Io { what: "open cgroup.procs".into(), source })?;
            let fds: Vec<i32> = files.iter().map(|f| f.as_raw_fd()).collect();
            // SAFETY: the closure only calls write(2) on descriptors that stay open (`files`
            // lives until after spawn returns), which is async-signal-safe.
            unsafe {
                cmd.pre_exec(move || crate::cgroups::join_in_child(&fds));
            }
            self.cgroup = Some(cg);
            let spawned = process::spawn(
                &mut cmd,
                &spec.work_dir.join("agent.stderr"),
                "build the agent with scripts/build-agent.sh",
            );
            drop(files);
            self.finish_launch(spec, spawned?, t0, facts)
        } else {
            facts.insert(
                "limits".into(),
                "unsupported: not root, so no cgroup; vcpus and memory_mib are not applied".into(),
            );
            let spawned = process::spawn(
                &mut cmd,
                &spec.work_dir.join("agent.stderr"),
                "build the agent with scripts/build-agent.sh",
            )?;
            self.finish_launch(spec, spawned, t0, facts)
        }
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        if let Some(mut c) = self.child.take() {
            kill_group(&mut c);
        }
        if let Some(cg) = self.cgroup.take() {
            cg.remove().map_err(|source| SandboxError::Io { what: "remove native cgroup".into(), source })?;
        }
        if let Some(d) = self.work_dir.take() {
            crate::process::remove_work_dir(&d);
        }
        if let Some(s) = self.scratch.take() {
            s.remove();
        }
        self.network = None;
        Ok(())
    }
}

impl Native {
    fn finish_launch(
        &mut self,
        spec: &LaunchSpec,
        s: process::Spawned,
        t0: Instant,
        facts: BTreeMap<String, String>,
    ) -> Result<Running, SandboxError> {
        let spawned_at = Instant::now();
        let pid = s.child.id();
        self.child = Some(s.child);
        let channel = AgentChannel::new(s.stdout, s.stdin);
        let boot =
            crate::channel::await_agent(&channel, spec, t0, spawned_at, &spec.work_dir.join("agent.stderr"), false)?;
        Ok(Running {
            accel: None,
            peers: self.network.as_ref().map(Network::peers),
            channel,
            accounting: Accounting { roots: vec![pid], cgroup: self.cgroup.as_ref().map(|c| c.reference.clone()) },
            boot,
            facts,
        })
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// What `native` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &[], kvm: false, root: false }
    }

    fn doctor(&self, _cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        use crate::probe::{avail, Verdict};
        let detail = match (is_root(), crate::cgroups::Hierarchy::detect()) {
            (true, Some(h)) => format!("limits through cgroup {}", h.as_str()),
            (false, _) => "runs, but vcpus/memory limits need root (cgroups)".into(),
            (true, None) => "runs, but no cgroup hierarchy with cpu+memory: no limits".into(),
        };
        vec![avail("native", "native", Verdict::Ok, None, detail, None)]
    }
}

/// A `native` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a NativeConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        let mut native = Native::default();
        native.cfg = self.cfg.clone();
        Box::new(native)
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        Ok(())
    }

    fn versions(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    fn dimensions(&self) -> super::DriverDims {
        super::DriverDims::default()
    }
}
