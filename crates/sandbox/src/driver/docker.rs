//! `docker`: the agent in a Docker container. The guest rootfs is imported once as an image
//! (tagged with the image's content hash), `vcpus`/`memory_mib` become `--cpus`/`--memory`, the
//! runtime is the campaign's (`--runtime`, as registered with the daemon), and CPU is accounted
//! from the container's cgroup (what `docker stats` reads) plus the shim's process tree.

use super::daemon_container::{attach, output, prepare, stop_client};
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_spec::DockerConfig;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};

pub struct Docker {
    cfg: DockerConfig,
    client: Option<Child>,
    live: Option<(String, String, std::path::PathBuf)>,
    network: Option<crate::net::Network>,
}

/// The docker client on the daemon at `socket`.
pub fn docker(socket: &str) -> Command {
    let mut c = Command::new("docker");
    c.arg("-H").arg(format!("unix://{socket}"));
    c
}

/// Imports `rootfs` as `sandbench/rootfs:<key>` unless the daemon already has it.
fn ensure_image(socket: &str, rootfs: &std::path::Path, key: &str) -> Result<String, SandboxError> {
    let tag = format!("sandbench/rootfs:{key}");
    if docker(socket)
        .args(["image", "inspect", &tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Ok(tag);
    }
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(rootfs)
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| SandboxError::Command { command: "tar of the rootfs".into(), detail: e.to_string() })?;
    let Some(tar_out) = tar.stdout.take() else {
        return Err(SandboxError::Command { command: "tar".into(), detail: "no stdout".into() });
    };
    let imported = docker(socket).args(["import", "-", &tag]).stdin(tar_out).output();
    let _ = tar.wait();
    match imported {
        Ok(o) if o.status.success() => Ok(tag),
        Ok(o) => Err(SandboxError::Command {
            command: "docker import".into(),
            detail: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        }),
        Err(e) => Err(SandboxError::Command { command: "docker import".into(), detail: e.to_string() }),
    }
}

impl Sandbox for Docker {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let image = spec.need_image()?;
        let socket = prepare(spec, self.cfg.socket(), "Docker daemon")?;
        let tag = ensure_image(&socket, &image.rootfs_dir, &image.manifest.key)?;
        let runtime = self.cfg.runtime.as_str();
        let mut facts = BTreeMap::new();
        facts.insert(
            "docker".into(),
            output(docker(&socket).args(["version", "--format", "{{.Server.Version}}"])).unwrap_or_default(),
        );
        facts.insert("image".into(), tag.clone());
        facts.insert("runtime".into(), runtime.into());
        if spec.network && self.cfg.runtime == sandbench_spec::campaign::Runtime::Runsc {
            facts.insert(
                "network".into(),
                "unsupported: gVisor's netstack does not see an interface added to its namespace after start".into(),
            );
        }
        facts.insert(
            "limits".into(),
            format!(
                "--cpus {} --memory {}m --pids-limit {}; Docker's default seccomp profile",
                spec.env.vcpus, spec.env.memory_mib, self.cfg.pids_max
            ),
        );
        // The image stays as imported; what the agent writes (file workloads, in /scratch)
        // lands in the container's own writable layer, as a workload in Docker writes.
        facts.insert("scratch".into(), "/scratch in the container's writable layer (Docker storage driver)".into());
        self.live = Some((socket.clone(), spec.id.clone(), spec.work_dir.clone()));
        let mut cmd = docker(&socket);
        cmd.args(["run", "-i", "--name", &spec.id, "--runtime", runtime, "--network", "none"])
            .args(["--tmpfs", "/tmp", "--tmpfs", "/run"])
            .arg("--cpus")
            .arg(spec.env.vcpus.to_string())
            .arg("--memory")
            .arg(format!("{}m", spec.env.memory_mib))
            .arg("--pids-limit")
            .arg(self.cfg.pids_max.to_string())
            .arg("--label")
            .arg(format!("{}={}", crate::ids::LABEL, spec.id))
            .arg(&tag)
            .arg(sandbench_image::AGENT_PATH);
        let (sock, id) = (socket.clone(), spec.id.clone());
        let find_pid = move || output(docker(&sock).args(["inspect", "-f", "{{.State.Pid}}", &id])).ok()?.parse().ok();
        attach(
            spec,
            &mut cmd,
            "install it: apt-get install docker.io",
            (&mut self.client, &mut self.network),
            find_pid,
            facts,
            self.cfg.pids_max,
        )
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        if let Some((socket, id, work)) = self.live.take() {
            let _ = crate::process::run_bounded(docker(&socket).args(["rm", "-f", &id]));
            crate::process::remove_work_dir(&work);
        }
        stop_client(&mut self.client);
        self.network = None;
        Ok(())
    }
}

impl Drop for Docker {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// Socket of the Docker daemon `scripts/daemons.sh` starts.
pub const SANDBENCH_SOCKET: &str = "/run/sandbench/docker.sock";

/// The Docker daemon's version at `socket`, if it answers.
fn server_version(socket: &str) -> Option<String> {
    let out = crate::process::run_bounded(docker(socket).args(["version", "--format", "{{.Server.Version}}"]))?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

const DAEMON: super::daemon_container::Daemon = super::daemon_container::Daemon {
    name: "docker",
    client: "docker",
    package: "docker.io",
    sockets: [SANDBENCH_SOCKET, "/var/run/docker.sock"],
    server_version,
};

/// Docker containers carrying sandbench's label whose owner is dead.
fn reap_containers(sockets: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for socket in DAEMON.live_sockets(sockets) {
        let filter = format!("label={}", crate::ids::LABEL);
        let names =
            crate::stale::stdout_of(docker(&socket).args(["ps", "-a", "--filter", &filter, "--format", "{{.Names}}"]));
        for id in names.lines().map(str::trim).filter(|id| crate::ids::stale(id)) {
            let _ = crate::process::run_bounded(docker(&socket).args(["rm", "-f", id]));
            removed.push(format!("docker container {id}"));
        }
    }
    removed
}

/// What `docker` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &["docker"], kvm: false, root: true }
    }

    fn doctor(&self, _cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        vec![DAEMON.doctor_row()]
    }

    fn reap_stale(&self, sweep: &super::Sweep) -> Vec<String> {
        reap_containers(sweep.sockets)
    }
}

/// A `docker` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a DockerConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        Box::new(Docker { cfg: self.cfg.clone(), client: None, live: None, network: None })
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        DAEMON.can_run(self.cfg.socket())
    }

    /// The daemon's version on the environment's socket.
    fn versions(&self) -> Vec<(String, String)> {
        vec![("docker".into(), server_version(&self.cfg.socket()).unwrap_or_else(|| "missing".into()))]
    }

    fn dimensions(&self) -> super::DriverDims {
        super::DriverDims { runtime: Some(self.cfg.runtime.as_str().into()), ..Default::default() }
    }
}
