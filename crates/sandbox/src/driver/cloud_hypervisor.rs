//! `cloud-hypervisor`: the guest image in a Cloud Hypervisor VM configured through its REST API
//! (`vm.create` with a `VmConfig`, then `vm.boot`) on a private API socket; the serial port on
//! the VMM's stdio is the agent channel. Needs a working KVM.

use super::vmm_process::missing;
use super::vmm_process::VmmProcess;
use crate::process;
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_image::GuestImage;
use sandbench_spec::{CloudHypervisorConfig, DiskCache, Environment};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The `vm.create` body (Cloud Hypervisor's `VmConfig`).
pub fn vm_config(
    env: &Environment,
    ch: &CloudHypervisorConfig,
    image: &GuestImage,
    vmlinux: &Path,
    scratch: Option<&Path>,
    net: Option<&crate::net::Link>,
) -> serde_json::Value {
    // Cloud Hypervisor's serial: an 8250 on x86_64, a PL011 on aarch64.
    let console = if sandbench_spec::Arch::HOST == sandbench_spec::Arch::Aarch64 { "ttyAMA0" } else { "ttyS0" };
    let mut cmdline = super::vmm_process::guest_kernel_args(console, sandbench_spec::Arch::HOST);
    cmdline.extend(net.map(crate::net::Link::kernel_arg));
    let direct = matches!(ch.vm.disk_cache, DiskCache::None | DiskCache::Directsync);
    let mut disks =
        vec![json!({ "path": image.rootfs_ext4.display().to_string(), "readonly": true, "direct": direct })];
    if let Some(disk) = scratch {
        disks.push(json!({ "path": disk.display().to_string(), "readonly": false, "direct": direct,
            "serial": crate::scratch::DISK_SERIAL }));
    }
    json!({
        "cpus": { "boot_vcpus": env.vcpus, "max_vcpus": env.vcpus },
        "memory": { "size": env.memory_mib * 1024 * 1024 },
        "payload": {
            "kernel": vmlinux.display().to_string(),
            "initramfs": image.initramfs.display().to_string(),
            "cmdline": cmdline.join(" "),
        },
        "disks": disks,
        "net": net.map(|l| vec![json!({"tap": l.host_if})]).unwrap_or_default(),
        "serial": { "mode": "Tty" },
        "console": { "mode": "Off" },
    })
}

/// One request to Cloud Hypervisor's REST API (`/api/v1/<path>`).
pub fn request(socket: &Path, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    super::vmm_api::http(socket, method, &format!("/api/v1/{path}"), body)
}

#[derive(Default)]
pub struct CloudHypervisor {
    cfg: CloudHypervisorConfig,
    vmm: VmmProcess,
}

impl Sandbox for CloudHypervisor {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let image = spec.need_image()?;
        let bin = self.cfg.binary.clone();
        if let Some(why) = missing(
            &bin,
            "no Debian package: install the release binary from the Cloud Hypervisor project on a host with KVM",
        ) {
            return Err(SandboxError::Unsupported { why: why.to_string() });
        }
        let vmlinux = image.vmlinux.clone().ok_or_else(|| SandboxError::Unsupported {
            why: "no ELF vmlinux could be extracted from this kernel".into(),
        })?;
        self.vmm.prepare(spec)?;
        let api = spec.work_dir.join("api.sock");
        let t0 = Instant::now();
        let log = spec.work_dir.join("cloud-hypervisor.stderr");
        let mut cmd = Command::new(&bin);
        cmd.arg("--api-socket").arg(format!("path={}", api.display())).current_dir(&spec.work_dir);
        let (channel, pid, spawned_at) =
            self.vmm.start(&mut cmd, &log, "install the Cloud Hypervisor release binary")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !api.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let disk = self.vmm.scratch_disk(spec, self.cfg.vm.scratch_mib)?;
        self.vmm.tap(spec)?;
        let cfg = vm_config(spec.env, &self.cfg, image, &vmlinux, Some(&disk), self.vmm.link());
        for (path, body) in [("vm.create", Some(cfg.to_string())), ("vm.boot", None)] {
            match request(&api, "PUT", path, body.as_deref()) {
                Ok((code, _)) if (200..300).contains(&code) => {}
                Ok((code, text)) => {
                    return Err(SandboxError::Api {
                        vmm: "cloud-hypervisor",
                        request: path.into(),
                        detail: format!("HTTP {code}: {text}"),
                    })
                }
                Err(e) => {
                    let mut tail = process::log_tail(&log, 10);
                    tail.insert(0, format!("{path}: {e}"));
                    return Err(SandboxError::Api {
                        vmm: "cloud-hypervisor",
                        request: format!("API at {}", api.display()),
                        detail: tail.join(" | "),
                    });
                }
            }
        }
        let boot = crate::channel::await_agent(&channel, spec, t0, spawned_at, &log, true)?;
        let mut facts = BTreeMap::new();
        facts.insert("machine".into(), "cloud-hypervisor".into());
        facts.insert("cloud-hypervisor".into(), process::version_of(&bin, &["--version"]).unwrap_or_default());
        facts.insert("disk_cache".into(), self.cfg.vm.disk_cache.as_str().into());
        facts.insert("config".into(), cfg.to_string());
        Ok(self.vmm.running(channel, pid, boot, facts, sandbench_spec::Accel::Kvm))
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        self.vmm.stop();
        Ok(())
    }
}

/// The VMM process of a sandbox: its API socket lies in the sandbox's work dir, named by id.
fn sandbox_of(args: &[String]) -> Option<String> {
    let path = args.windows(2).find(|w| w[0] == "--api-socket")?[1].strip_prefix("path=")?.to_string();
    Path::new(&path).parent()?.file_name()?.to_str().map(str::to_string)
}

/// What `cloud-hypervisor` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &["cloud-hypervisor"], kvm: true, root: false }
    }

    fn doctor(&self, _cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        vec![super::vmm_process::doctor_row("cloud-hypervisor")]
    }

    fn reap_stale(&self, _sweep: &super::Sweep) -> Vec<String> {
        crate::stale::kill_processes(sandbox_of)
    }
}

/// A `cloud-hypervisor` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a CloudHypervisorConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        Box::new(CloudHypervisor { cfg: self.cfg.clone(), ..CloudHypervisor::default() })
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        missing(&self.cfg.binary, "install the cloud-hypervisor release binary").map_or(Ok(()), Err)
    }

    fn versions(&self) -> Vec<(String, String)> {
        super::vmm_process::vmm_versions(sandbench_spec::Driver::CloudHypervisor, &self.cfg.binary)
    }

    fn dimensions(&self) -> super::DriverDims {
        super::vmm_process::vmm_dimensions(&self.cfg.vm)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};

    #[test]
    fn a_vmm_process_is_known_by_its_api_socket() {
        let argv = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let args = argv(&["cloud-hypervisor", "--api-socket", "path=/run/sandbench/work/sb7-ch-1/api.sock"]);
        assert_eq!(super::sandbox_of(&args), Some("sb7-ch-1".into()));
        assert_eq!(super::sandbox_of(&argv(&["cloud-hypervisor", "--api-socket", "fd=3"])), None);
    }

    #[test]
    fn http_over_a_unix_socket() {
        let dir = std::env::temp_dir().join(format!("sb-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("api.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (conn, _) = listener.accept().unwrap();
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            let mut line = String::new();
            let mut len = 0;
            while r.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                if let Some(v) = line.strip_prefix("Content-Length: ") {
                    len = v.trim().parse().unwrap();
                }
                line.clear();
            }
            let mut body = vec![0; len];
            std::io::Read::read_exact(&mut r, &mut body).unwrap();
            let mut c = conn;
            write!(c, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n").unwrap();
            (first, String::from_utf8(body).unwrap())
        });
        let (code, _) = super::request(&sock, "PUT", "vm.boot", Some("{}")).unwrap();
        let (first, body) = server.join().unwrap();
        assert_eq!(code, 204);
        assert_eq!(first, "PUT /api/v1/vm.boot HTTP/1.1\r\n");
        assert_eq!(body, "{}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
