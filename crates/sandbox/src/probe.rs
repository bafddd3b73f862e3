//! What this host can run (`sandbench doctor`): every environment of the papers, with version,
//! verdict, reason and the exact install hint.

pub use crate::process::version_of;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Verdict for one component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Works here (checked for real where the check says so).
    Ok,
    /// Not installed.
    Missing,
    /// Installed or present but cannot work here, or sandbench has no driver for it yet.
    Unsupported,
    /// Could not be checked (e.g. no guest image yet).
    Unknown,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Availability {
    pub component: String,
    /// Environments this enables, as campaign `driver` values.
    pub driver: String,
    pub verdict: Verdict,
    pub version: Option<String>,
    pub detail: String,
    pub hint: Option<String>,
}

fn avail(
    component: &str,
    driver: &str,
    verdict: Verdict,
    version: Option<String>,
    detail: impl Into<String>,
    hint: Option<&str>,
) -> Availability {
    Availability {
        component: component.into(),
        driver: driver.into(),
        verdict,
        version,
        detail: detail.into(),
        hint: hint.map(str::to_string),
    }
}

/// A cheap check that `env` can be launched here at all (its program exists, root where needed);
/// used to trim the embedded default campaign to this host. The real proof is the launch.
pub fn can_run(env: &sandbench_spec::Environment) -> Result<(), String> {
    use sandbench_spec::Driver;
    match env.driver {
        Driver::Native => Ok(()),
        Driver::Oci => {
            let rt = env.runtime().as_str();
            if !crate::is_root() {
                return Err(format!("{rt} needs root"));
            }
            crate::process::on_path(rt)
                .map(|_| ())
                .ok_or_else(|| format!("{rt} not found (apt-get install {})", if rt == "runsc" { "runsc" } else { rt }))
        }
        Driver::Qemu => {
            let bin = env.qemu_binary.clone().unwrap_or_else(|| "qemu-system-x86_64".into());
            crate::process::on_path(&bin)
                .map(|_| ())
                .ok_or_else(|| format!("{bin} not found (apt-get install qemu-system-x86)"))
        }
        Driver::Firecracker | Driver::CloudHypervisor => {
            let (bin, name) = if env.driver == Driver::Firecracker {
                (crate::firecracker::binary(env), "firecracker")
            } else {
                (env.binary.clone().unwrap_or_else(|| "cloud-hypervisor".into()), "cloud-hypervisor")
            };
            match crate::vmm_process::missing(&bin, &format!("install the {name} release binary")) {
                Some(why) => Err(why),
                None => Ok(()),
            }
        }
        Driver::Docker | Driver::Containerd => {
            let (client, pkg) =
                if env.driver == Driver::Docker { ("docker", "docker.io") } else { ("ctr", "containerd") };
            crate::process::on_path(client).ok_or_else(|| format!("{client} not found (apt-get install {pkg})"))?;
            let socket = env.socket();
            if !std::path::Path::new(&socket).exists() {
                return Err(format!("no daemon at {socket} (scripts/daemons.sh start)"));
            }
            if !crate::is_root() {
                return Err(format!("{} needs root", env.driver.as_str()));
            }
            Ok(())
        }
    }
}

/// Socket of the Docker daemon `scripts/daemons.sh` starts.
pub const SANDBENCH_DOCKER_SOCKET: &str = "/run/sandbench/docker.sock";
/// Socket of the containerd `scripts/daemons.sh` starts.
pub const SANDBENCH_CONTAINERD_SOCKET: &str = "/run/sandbench/containerd/containerd.sock";

/// A daemon this build drives, checked by asking it for its version over `socket`.
fn daemon_check(name: &str, socket: &str) -> Availability {
    let (client, pkg) = if name == "docker" { ("docker", "docker.io") } else { ("ctr", "containerd") };
    let hint = Some(format!("apt-get install {pkg}; start it with scripts/daemons.sh start (or set `socket`)"));
    if crate::process::on_path(client).is_none() {
        return Availability {
            component: name.into(),
            driver: name.into(),
            verdict: Verdict::Missing,
            version: None,
            detail: format!("{client} not found"),
            hint,
        };
    }
    let out = if name == "docker" {
        Command::new("docker")
            .arg("-H")
            .arg(format!("unix://{socket}"))
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
    } else {
        Command::new("ctr").arg("--address").arg(socket).arg("version").output()
    };
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout);
            let version =
                if name == "docker" { text.trim().to_string() } else { crate::containerd::server_version(&text) };
            Availability {
                component: name.into(),
                driver: name.into(),
                verdict: Verdict::Ok,
                version: Some(version),
                detail: format!("daemon answers at {socket}"),
                hint: None,
            }
        }
        _ => Availability {
            component: name.into(),
            driver: name.into(),
            verdict: Verdict::Missing,
            version: version_of(client, &["--version"]),
            detail: format!("{client} is installed but no daemon answers at {socket}"),
            hint,
        },
    }
}

/// Runs the agent's `--version` in a real container of `runtime` built on `rootfs`.
pub fn oci_smoke(runtime: sandbench_spec::campaign::Runtime, rootfs: &Path, work: &Path) -> Result<String, String> {
    let id = format!("sbprobe-{}-{}", runtime.as_str(), std::process::id());
    let bundle = work.join(&id);
    std::fs::create_dir_all(&bundle).map_err(|e| e.to_string())?;
    let mut cfg = crate::oci::config_json(rootfs, &id, 1, 256, false);
    cfg["process"]["args"] = serde_json::json!([sandbench_image::AGENT_PATH, "--version"]);
    std::fs::write(bundle.join("config.json"), cfg.to_string()).map_err(|e| e.to_string())?;
    let global = crate::oci::default_runtime_args(runtime);
    let crun_hybrid = crate::oci::needs_unified_hidden(runtime);
    let _ = std::fs::create_dir_all(crate::oci::state_root(runtime));
    let mut cmd = crate::oci::runtime_command(runtime);
    let mut child = cmd
        .args(&global)
        .arg("run")
        .arg("--bundle")
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let status = loop {
        if let Ok(Some(s)) = child.try_wait() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().map_err(|e| e.to_string());
    let _ = crate::oci::runtime_command(runtime)
        .args(&global)
        .args(["delete", "--force", &id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = std::fs::remove_dir_all(&bundle);
    let out = out?;
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match status {
        Some(s) if s.success() && stdout.starts_with("sandbench-agent") => Ok(if crun_hybrid {
            format!("{stdout} (in a mount namespace without the cgroup2 mount: hybrid cgroup host)")
        } else {
            stdout
        }),
        Some(_) => Err(String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("failed").trim().to_string()),
        None => Err("timed out after 60 s".into()),
    }
}

/// Everything doctor reports that does not need a guest image.
pub fn static_checks() -> Vec<Availability> {
    let mut v = Vec::new();
    let cg = crate::cgroups::Hierarchy::detect();
    let root = crate::is_root();
    v.push(avail(
        "native",
        "native",
        Verdict::Ok,
        None,
        match (root, cg) {
            (true, Some(h)) => format!("limits through cgroup {}", h.as_str()),
            (false, _) => "runs, but vcpus/memory limits need root (cgroups)".into(),
            (true, None) => "runs, but no cgroup hierarchy with cpu+memory: no limits".into(),
        },
        None,
    ));
    let q = crate::process::on_path("qemu-system-x86_64");
    let qv = q.as_ref().and_then(|_| version_of("qemu-system-x86_64", &["--version"]));
    let machines = q.as_ref().and_then(|_| {
        Command::new("qemu-system-x86_64")
            .args(["-machine", "help"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    });
    for m in ["microvm", "q35"] {
        let has = machines.as_deref().is_some_and(|t| {
            t.lines().any(|l| l.split_whitespace().next() == Some(m) || l.starts_with(&format!("{m} ")))
        });
        let (verdict, detail) = match (&q, has) {
            (None, _) => (Verdict::Missing, "qemu-system-x86_64 not found".to_string()),
            (Some(_), false) => (Verdict::Unsupported, format!("this QEMU has no `{m}` machine")),
            (Some(_), true) => (Verdict::Ok, format!("machine {m} available")),
        };
        v.push(avail(
            &format!("qemu-{m}"),
            "qemu",
            verdict,
            qv.clone(),
            detail,
            Some("apt-get install qemu-system-x86"),
        ));
    }
    // The daemons' usual sockets, and those of the daemons scripts/daemons.sh starts.
    for (name, sockets) in [
        ("docker", [SANDBENCH_DOCKER_SOCKET, "/var/run/docker.sock"]),
        ("containerd", [SANDBENCH_CONTAINERD_SOCKET, "/run/containerd/containerd.sock"]),
    ] {
        let checks: Vec<Availability> = sockets.iter().map(|s| daemon_check(name, s)).collect();
        let best = checks.iter().find(|c| c.verdict == Verdict::Ok).unwrap_or(&checks[checks.len() - 1]).clone();
        v.push(best);
    }
    for (name, bin) in [("firecracker", "firecracker"), ("cloud-hypervisor", "cloud-hypervisor")] {
        let hint = format!(
            "no Debian package: install the {name} release binary on a host with working KVM; see docs/VMMS.md"
        );
        let version = crate::process::on_path(bin).and_then(|_| version_of(bin, &["--version"]));
        let (verdict, detail) = match crate::vmm_process::missing(bin, "not on PATH") {
            Some(why) if version.is_none() => (Verdict::Missing, why),
            Some(why) => (Verdict::Unsupported, why),
            None => (
                Verdict::Unknown,
                "binary and /dev/kvm present; whether KVM really boots a guest is shown by a launch (see the kvm row)"
                    .to_string(),
            ),
        };
        v.push(Availability {
            component: name.into(),
            driver: name.into(),
            verdict,
            version,
            detail,
            hint: Some(hint),
        });
    }
    let kata = crate::process::on_path("kata-runtime").or_else(|| crate::process::on_path("containerd-shim-kata-v2"));
    v.push(Availability {
        component: "kata".into(),
        driver: "containerd".into(),
        verdict: if kata.is_some() { Verdict::Unknown } else { Verdict::Missing },
        version: kata.as_ref().and_then(|_| version_of("kata-runtime", &["--version"])),
        detail: match kata {
            Some(p) => format!(
                "{p} found: use driver = \"containerd\" with shim = \"io.containerd.kata.v2\" (needs working KVM)"
            ),
            None => "containerd-shim-kata-v2 not found: Kata Containers has no Debian package".into(),
        },
        hint: Some(
            "install Kata Containers' release on a host with working KVM, then shim = \"io.containerd.kata.v2\"".into(),
        ),
    });
    v
}

/// Runtimes, checked by starting a real container when `rootfs` (the image's) is given.
pub fn runtime_checks(rootfs: Option<&Path>, work: &Path) -> Vec<Availability> {
    use sandbench_spec::campaign::Runtime;
    let mut v = Vec::new();
    for rt in [Runtime::Runc, Runtime::Crun, Runtime::Runsc] {
        let pkg = if rt == Runtime::Runsc { "runsc" } else { rt.as_str() };
        let hint = Some(format!("apt-get install {pkg}"));
        let Some(_) = crate::process::on_path(rt.as_str()) else {
            v.push(Availability {
                component: rt.as_str().into(),
                driver: "oci".into(),
                verdict: Verdict::Missing,
                version: None,
                detail: format!("{} not found", rt.as_str()),
                hint,
            });
            continue;
        };
        let version = version_of(rt.as_str(), &["--version"]);
        let (verdict, detail) = match (crate::is_root(), rootfs) {
            (false, _) => (Verdict::Unsupported, "needs root".to_string()),
            (true, None) => {
                (Verdict::Unknown, "not started: build the guest image first (`sandbench image build`)".to_string())
            }
            (true, Some(r)) => match oci_smoke(rt, r, work) {
                Ok(out) => (Verdict::Ok, format!("started a real container: {out}")),
                Err(e) => (Verdict::Unsupported, format!("a real container failed: {e}")),
            },
        };
        v.push(Availability { component: rt.as_str().into(), driver: "oci".into(), verdict, version, detail, hint });
    }
    v
}
