//! `containerd`: the agent in a containerd task started with `ctr` through any shim
//! (`io.containerd.runc.v2` here; `io.containerd.kata.v2` or runsc's shim where installed), in
//! sandbench's own namespace. The guest rootfs is imported once as an OCI image
//! (`docker.io/sandbench/rootfs:<image key>`) and unpacked by containerd's snapshotter, as a
//! registry image would be; the container writes only in its own writable snapshot; `vcpus`/`memory_mib` become
//! `--cpus`/`--memory-limit`.
//! CPU and memory are accounted from the shim's whole process tree (shim, and for Kata the
//! VMM and virtiofsd) and the container's cgroup, since the cgroup alone misses a VM runtime.

use super::daemon_container::{attach, output, prepare, stop_client};
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_spec::ContainerdConfig;
use std::collections::BTreeMap;
use std::process::{Child, Command};

/// containerd namespace of sandbench's containers.
pub const NAMESPACE: &str = "sandbench";

pub struct Containerd {
    cfg: ContainerdConfig,
    client: Option<Child>,
    live: Option<(String, String, std::path::PathBuf)>,
    network: Option<crate::net::Network>,
}

pub fn ctr(socket: &str) -> Command {
    let mut c = Command::new("ctr");
    c.arg("--address").arg(socket).arg("--namespace").arg(NAMESPACE);
    c
}

/// Imports the image's rootfs as an OCI image unless containerd already has it.
fn ensure_image(
    socket: &str,
    image: &sandbench_image::GuestImage,
    work: &std::path::Path,
) -> Result<String, SandboxError> {
    let reference = format!("docker.io/sandbench/rootfs:{}", image.manifest.key);
    let have = output(ctr(socket).args(["images", "ls", "-q"])).unwrap_or_default();
    if have.lines().any(|l| l.trim() == reference) {
        return Ok(reference);
    }
    let tar = super::oci_image::write_layout(&image.rootfs_dir, &reference, work)?;
    let imported = output(ctr(socket).args(["images", "import"]).arg(&tar));
    let _ = std::fs::remove_file(&tar);
    imported?;
    Ok(reference)
}

/// The server's `Version:` line of `ctr version` (it prints the client's first).
pub fn server_version(text: &str) -> String {
    text.lines().rev().find(|l| l.trim_start().starts_with("Version")).unwrap_or("").trim().to_string()
}

/// The pid of task `id` from `ctr task ls` output (columns TASK PID STATUS).
pub fn task_pid(ls: &str, id: &str) -> Option<u32> {
    ls.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next()? == id).then(|| it.next()?.parse().ok()).flatten()
    })
}

impl Sandbox for Containerd {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let image = spec.need_image()?;
        let socket = prepare(spec, self.cfg.socket(), "containerd")?;
        let shim = self.cfg.shim.clone();
        let mut facts = BTreeMap::new();
        let version = output(ctr(&socket).arg("version")).unwrap_or_default();
        // `ctr version` prints the client's, then the server's; keep the server's.
        facts.insert("containerd".into(), server_version(&version));
        facts.insert("shim".into(), shim.clone());
        if spec.network && shim != sandbench_spec::environment::DEFAULT_SHIM {
            facts.insert(
                "network".into(),
                format!("unsupported: a link for shim {shim} (a VM or gVisor sandbox needs it at creation) is not wired yet"),
            );
        }
        facts.insert("limits".into(), format!("--cpus {} --memory-limit {} MiB", spec.env.vcpus, spec.env.memory_mib));
        let reference = ensure_image(&socket, image, &spec.work_dir)?;
        facts.insert("image".into(), format!("{reference} (OCI image, snapshotter overlayfs)"));
        facts.insert("scratch".into(), "/scratch in the container's writable overlayfs snapshot".into());
        self.live = Some((socket.clone(), spec.id.clone(), spec.work_dir.clone()));
        let mut cmd = ctr(&socket);
        cmd.args(["run", "--snapshotter", "overlayfs", "--runtime", &shim, "--seccomp"])
            .arg("--label")
            .arg(format!("{}={}", crate::ids::LABEL, spec.id))
            .arg("--cpus")
            .arg(spec.env.vcpus.to_string())
            .arg("--memory-limit")
            .arg((spec.env.memory_mib * 1024 * 1024).to_string())
            .arg(&reference)
            .arg(&spec.id)
            .arg(sandbench_image::AGENT_PATH);
        let (sock, id) = (socket.clone(), spec.id.clone());
        let find_pid = move || task_pid(&output(ctr(&sock).args(["task", "ls"])).ok()?, &id);
        attach(
            spec,
            &mut cmd,
            "install it: apt-get install containerd",
            (&mut self.client, &mut self.network),
            find_pid,
            facts,
            self.cfg.pids_max,
        )
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        if let Some((socket, id, work)) = self.live.take() {
            let quiet = |args: &[&str]| {
                let _ = crate::process::run_bounded(ctr(&socket).args(args));
            };
            quiet(&["task", "kill", "-s", "SIGKILL", &id]);
            stop_client(&mut self.client);
            // The task must be gone before it can be deleted; a short retry covers the kill.
            for _ in 0..50 {
                quiet(&["task", "delete", "-f", &id]);
                quiet(&["container", "delete", &id]);
                let ls = output(ctr(&socket).args(["container", "ls", "-q"])).unwrap_or_default();
                if !ls.lines().any(|l| l.trim() == id) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            super::daemon_container::reap_shims(&id, std::time::Duration::from_secs(5));
            crate::process::remove_work_dir(&work);
        }
        stop_client(&mut self.client);
        self.network = None;
        Ok(())
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.teardown();
    }
}

/// Socket of the containerd `scripts/daemons.sh` starts.
pub const SANDBENCH_SOCKET: &str = "/run/sandbench/containerd/containerd.sock";

/// containerd's `Version:` line at `socket`, if it answers.
fn answering_version(socket: &str) -> Option<String> {
    let out = crate::process::run_bounded(ctr(socket).arg("version"))?;
    out.status.success().then(|| server_version(&String::from_utf8_lossy(&out.stdout)))
}

const DAEMON: super::daemon_container::Daemon = super::daemon_container::Daemon {
    name: "containerd",
    client: "ctr",
    package: "containerd",
    sockets: [SANDBENCH_SOCKET, "/run/containerd/containerd.sock"],
    server_version: answering_version,
};

/// containerd containers (and their tasks and shims) carrying sandbench's label whose owner is dead.
fn reap_containers(sockets: &[String]) -> Vec<String> {
    let mut removed = Vec::new();
    for socket in DAEMON.live_sockets(sockets) {
        let ids = crate::stale::stdout_of(ctr(&socket).args(["container", "ls", "-q"]));
        let labelled = |id: &str| {
            let info = crate::stale::stdout_of(ctr(&socket).args(["container", "info", id]));
            serde_json::from_str::<serde_json::Value>(&info).is_ok_and(|v| v["Labels"][crate::ids::LABEL] == id)
        };
        for id in ids.lines().map(str::trim).filter(|id| crate::ids::stale(id) && labelled(id)) {
            for args in [
                &["task", "kill", "-s", "SIGKILL", id][..],
                &["task", "delete", "-f", id],
                &["container", "delete", id],
            ] {
                let _ = crate::process::run_bounded(ctr(&socket).args(args));
            }
            super::daemon_container::reap_shims(id, std::time::Duration::from_secs(5));
            removed.push(format!("containerd container {id}"));
        }
    }
    removed
}

/// Kata Containers, which runs through this driver as a shim: doctor's row for it.
fn kata_row() -> crate::probe::Availability {
    use crate::probe::{avail, Verdict};
    let found = crate::process::on_path("kata-runtime").or_else(|| crate::process::on_path("containerd-shim-kata-v2"));
    let version = found.as_ref().and_then(|_| crate::process::version_of("kata-runtime", &["--version"]));
    let (verdict, detail) = match found {
        Some(p) => (
            Verdict::Unknown,
            format!("{p} found: use driver = \"containerd\" with shim = \"io.containerd.kata.v2\" (needs working KVM)"),
        ),
        None => (Verdict::Missing, "containerd-shim-kata-v2 not found: Kata Containers has no Debian package".into()),
    };
    let hint = "install Kata Containers' release on a host with working KVM, then shim = \"io.containerd.kata.v2\"";
    avail("kata", "containerd", verdict, version, detail, Some(hint))
}

/// What `containerd` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &["ctr"], kvm: false, root: true }
    }

    fn doctor(&self, _cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        vec![DAEMON.doctor_row(), kata_row()]
    }

    fn reap_stale(&self, sweep: &super::Sweep) -> Vec<String> {
        reap_containers(sweep.sockets)
    }
}

/// A `containerd` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a ContainerdConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        Box::new(Containerd { cfg: self.cfg.clone(), client: None, live: None, network: None })
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        DAEMON.can_run(self.cfg.socket())
    }

    /// containerd's version and the shim the environment runs.
    fn versions(&self) -> Vec<(String, String)> {
        let v = crate::process::version_of("containerd", &["--version"]).unwrap_or_else(|| "missing".into());
        vec![("containerd".into(), v), ("containerd_shim".into(), self.cfg.shim.clone())]
    }

    fn dimensions(&self) -> super::DriverDims {
        super::DriverDims { runtime: Some(self.cfg.shim.clone()), ..Default::default() }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_pid_from_ctr_output() {
        let ls = "TASK                 PID     STATUS    \nsb12-ctr-1           4242    RUNNING\nother 7 STOPPED\n";
        assert_eq!(super::task_pid(ls, "sb12-ctr-1"), Some(4242));
        assert_eq!(super::task_pid(ls, "missing"), None);
        let v = "Client:\n  Version:  1.6.20~ds1\n\nServer:\n  Version:  1.6.21\n  UUID: x\n";
        assert_eq!(super::server_version(v), "Version:  1.6.21");
    }
}
