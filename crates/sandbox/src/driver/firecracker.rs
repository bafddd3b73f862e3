//! `firecracker`: the guest image in a Firecracker microVM started with `--config-file` (as the
//! AI paper did), the ELF vmlinux booted directly, the root disk as a virtio-mmio block device
//! (described in ACPI tables by Firecracker ≥ 1.8, which the Debian kernel reads), the serial
//! console as the agent channel. Needs a working KVM; where the binary or KVM is missing the
//! launch says so as `unsupported`.

pub use super::firecracker_jail::VmFiles;
pub use super::vmm_process::missing;
use super::vmm_process::VmmProcess;
use crate::process;
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_spec::{DiskCache, Environment, FirecrackerConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// Firecracker's block cache type for a campaign `disk_cache`: only `Writeback` honours the
/// guest's flushes; `Unsafe` (its default) drops them.
pub fn cache_type(c: DiskCache) -> &'static str {
    match c {
        DiskCache::None | DiskCache::Directsync | DiskCache::Writethrough => "Writeback",
        DiskCache::Writeback | DiskCache::Unsafe => "Unsafe",
    }
}

/// The `--config-file` document (Firecracker's `FullVmConfiguration`).
pub fn config(
    env: &Environment,
    fc: &FirecrackerConfig,
    files: &VmFiles,
    net: Option<&crate::net::Link>,
) -> serde_json::Value {
    // Firecracker's serial is an 8250 UART on both architectures.
    let mut args = super::vmm_process::guest_kernel_args("ttyS0", sandbench_spec::Arch::HOST);
    // No PCI bus in Firecracker; devices come from ACPI (≥ 1.8).
    args.push("pci=off".into());
    args.extend(net.map(crate::net::Link::kernel_arg));
    let drive = |id: &str, path: &Path, read_only: bool| {
        json!({
            "drive_id": id,
            "path_on_host": path.display().to_string(),
            "is_root_device": false,
            "is_read_only": read_only,
            "cache_type": cache_type(fc.vm.disk_cache),
            "io_engine": "Sync",
        })
    };
    let mut drives = vec![drive("rootfs", &files.rootfs, true)];
    drives.extend(files.scratch.as_deref().map(|d| drive("scratch", d, false)));
    let mut cfg = json!({
        "boot-source": {
            "kernel_image_path": files.kernel.display().to_string(),
            "initrd_path": files.initrd.display().to_string(),
            "boot_args": args.join(" "),
        },
        "drives": drives,
        "network-interfaces": net.map(|l| vec![json!({"iface_id": "eth0", "host_dev_name": l.host_if})]).unwrap_or_default(),
        "machine-config": {
            "vcpu_count": env.vcpus,
            "mem_size_mib": env.memory_mib,
            "smt": false,
        },
    });
    if let Some(m) = &files.metrics {
        cfg["metrics"] = json!({ "metrics_path": m.display().to_string() });
    }
    cfg
}

/// The counters of a trial from Firecracker's metrics lines (each flush writes one JSON line of
/// counts since the previous flush): block and net bytes and vCPU exits, summed over the lines.
pub fn sum_metrics(lines: &str) -> serde_json::Value {
    const PICK: [(&str, &str); 8] = [
        ("block", "read_bytes"),
        ("block", "write_bytes"),
        ("block", "flush_count"),
        ("net", "rx_bytes_count"),
        ("net", "tx_bytes_count"),
        ("vcpu", "exit_io_out"),
        ("vcpu", "exit_mmio_read"),
        ("vcpu", "exit_mmio_write"),
    ];
    let mut sums = serde_json::Map::new();
    let mut n = 0;
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
        n += 1;
        for (group, key) in PICK {
            if let Some(x) = v[group][key].as_u64() {
                let k = format!("{group}_{key}");
                let prev = sums.get(&k).and_then(|p| p.as_u64()).unwrap_or(0);
                sums.insert(k, json!(prev + x));
            }
        }
    }
    sums.insert("flushes".into(), json!(n));
    serde_json::Value::Object(sums)
}

/// `(major, minor)` from `firecracker --version` output ("Firecracker v1.7.0").
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text
        .split_whitespace()
        .find_map(|w| w.strip_prefix('v').filter(|r| r.starts_with(|c: char| c.is_ascii_digit())))?;
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Whether a Firecracker version can find the guest's virtio devices with this kernel: from 1.8
/// it describes them in ACPI tables (needs `CONFIG_ACPI`), before that on the kernel command
/// line (needs `CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES`, which Debian's kernels lack).
pub fn kernel_compat(version: (u32, u32), kernel_config: Option<&str>) -> Result<(), String> {
    let has = |opt: &str| kernel_config.map(|c| c.lines().any(|l| l.trim() == format!("{opt}=y")));
    let shown = format!("Firecracker v{}.{}", version.0, version.1);
    if version >= (1, 8) {
        return match has("CONFIG_ACPI") {
            Some(false) => {
                Err(format!("{shown} describes devices in ACPI tables, but the guest kernel has no CONFIG_ACPI"))
            }
            _ => Ok(()),
        };
    }
    match has("CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES") {
        Some(true) => Ok(()),
        Some(false) => Err(format!(
            "{shown} passes virtio-mmio devices on the kernel command line, which needs CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y; this guest kernel lacks it (Debian's do): use Firecracker 1.8 or newer, or build the image with a kernel that has it ([image] kernel and modules)"
        )),
        None => Err(format!("{shown} needs a guest kernel with CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES=y and this image's kernel configuration is unknown: use Firecracker 1.8 or newer")),
    }
}

/// The API request that asks the guest to shut down (an i8042 reset on x86).
pub fn ctrl_alt_del() -> serde_json::Value {
    json!({ "action_type": "SendCtrlAltDel" })
}

#[derive(Default)]
pub struct Firecracker {
    cfg: FirecrackerConfig,
    vmm: VmmProcess,
    api: Option<PathBuf>,
    /// The metrics file on the host, and how much of it earlier trials have read.
    metrics: Option<(PathBuf, u64)>,
    jail: Option<super::firecracker_jail::Jail>,
}

impl Firecracker {
    /// Firecracker's command (itself, or the jailer around it), and the paths it sees the VM's
    /// files at, its API socket and its config file at on the host; with the jailer, Firecracker
    /// sees them inside its chroot.
    fn command(
        &mut self,
        spec: &LaunchSpec,
        bin: &str,
        host: &VmFiles,
        facts: &mut BTreeMap<String, String>,
    ) -> Result<(Command, VmFiles, PathBuf, PathBuf), SandboxError> {
        let Some(jailer) = self.cfg.jailer.clone() else {
            let cfg_path = spec.work_dir.join("firecracker.json");
            let api = spec.work_dir.join("firecracker.sock");
            let mut cmd = Command::new(bin);
            cmd.arg("--api-sock").arg(&api).arg("--config-file").arg(&cfg_path).arg("--id").arg(&spec.id);
            return Ok((cmd, host.clone(), api, cfg_path));
        };
        if let Some(why) = missing(&jailer.binary, "the jailer comes in the same release archive as firecracker") {
            return Err(SandboxError::Unsupported { why: why.to_string() });
        }
        // The jailer wants the binary's absolute path (it copies it into the chroot).
        let bin = if bin.contains('/') { bin.to_string() } else { process::on_path(bin).unwrap_or(bin.to_string()) };
        let jail = self.jail.insert(super::firecracker_jail::Jail::prepare(&spec.work_dir, &bin, &spec.id, host)?);
        facts.insert("jailer".into(), format!("{}: chroot {}", jailer.binary, jail.root.display()));
        let mut cmd = Command::new(&jailer.binary);
        cmd.args(jail.command(&bin, &spec.id, (jailer.uid, jailer.gid)));
        Ok((cmd, jail.inside.clone(), jail.root.join("run/firecracker.socket"), jail.root.join("firecracker.json")))
    }

    /// Creates the metrics file Firecracker opens (it must exist), handing it and the scratch
    /// disk over to the jailer's user where there is one.
    fn metrics_file(&mut self, host: &VmFiles, facts: &mut BTreeMap<String, String>) -> Result<(), SandboxError> {
        let metrics_host = match &self.jail {
            Some(j) => j.root.join("metrics"),
            None => host.metrics.clone().unwrap_or_default(),
        };
        std::fs::write(&metrics_host, b"")
            .map_err(|source| SandboxError::Io { what: format!("create {}", metrics_host.display()), source })?;
        if let (Some(j), Some(jailer)) = (&self.jail, &self.cfg.jailer) {
            let scratch = j.root.join("scratch.ext4");
            let mut own = vec![metrics_host.as_path()];
            if scratch.exists() {
                own.push(&scratch);
            }
            j.hand_over(&own, (jailer.uid, jailer.gid))?;
            facts.insert("jailer_user".into(), format!("uid {} gid {}", jailer.uid, jailer.gid));
        }
        self.metrics = Some((metrics_host, 0));
        Ok(())
    }
}

impl Sandbox for Firecracker {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let image = spec.need_image()?;
        let bin = self.cfg.binary.clone();
        if let Some(why) = missing(
            &bin,
            "no Debian package: install the release binary from the Firecracker project on a host with KVM",
        ) {
            return Err(SandboxError::Unsupported { why: why.to_string() });
        }
        let vmlinux = image.vmlinux.clone().ok_or_else(|| SandboxError::Unsupported {
            why: "Firecracker boots an ELF vmlinux; none could be extracted from this kernel".into(),
        })?;
        let version = process::version_of(&bin, &["--version"]).unwrap_or_default();
        if let Some(v) = parse_version(&version) {
            kernel_compat(v, image.kernel_config().as_deref()).map_err(|why| SandboxError::Unsupported { why })?;
        }
        self.vmm.prepare(spec)?;
        let disk = self.vmm.scratch_disk(spec, self.cfg.vm.scratch_mib)?;
        self.vmm.tap(spec)?;
        let host = VmFiles {
            kernel: vmlinux,
            initrd: image.initramfs.clone(),
            rootfs: image.rootfs_ext4.clone(),
            scratch: Some(disk),
            metrics: Some(spec.work_dir.join("firecracker.metrics")),
        };
        let log = spec.work_dir.join("firecracker.stderr");
        let mut facts = BTreeMap::new();
        let (mut cmd, files, api, cfg_path) = self.command(spec, &bin, &host, &mut facts)?;
        let cfg = config(spec.env, &self.cfg, &files, self.vmm.link());
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap_or_default())
            .map_err(|source| SandboxError::Io { what: format!("write {}", cfg_path.display()), source })?;
        self.metrics_file(&host, &mut facts)?;
        cmd.current_dir(&spec.work_dir);
        let t0 = Instant::now();
        // The API socket is kept for metrics and a clean shutdown (SendCtrlAltDel).
        self.api = Some(api);
        let (channel, pid, spawned_at) = self.vmm.start(&mut cmd, &log, "install the Firecracker release binary")?;
        let boot = crate::channel::await_agent(&channel, spec, t0, spawned_at, &log, true)?;
        // The first trial's counts start here, not at boot.
        let _ = self.vmm_metrics();
        facts.insert("machine".into(), "firecracker".into());
        facts.insert("firecracker".into(), version);
        facts.insert(
            "disk_cache".into(),
            format!("{} (cache_type {})", self.cfg.vm.disk_cache.as_str(), cache_type(self.cfg.vm.disk_cache)),
        );
        facts.insert("config".into(), cfg.to_string());
        Ok(self.vmm.running(channel, pid, boot, facts, sandbench_spec::Accel::Kvm))
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        // Ask the guest to go first (an i8042 reset: x86 only; on aarch64 the agent's poweroff
        // on `shutdown` ends the VM); whatever is left is killed by stop().
        let x86 = sandbench_spec::Arch::HOST == sandbench_spec::Arch::X86_64;
        if let Some(api) = self.api.take().filter(|a| x86 && a.exists()) {
            let body = ctrl_alt_del().to_string();
            let _ = super::vmm_api::http(&api, "PUT", "/actions", Some(&body));
        }
        self.vmm.stop();
        self.metrics = None;
        if let Some(mut j) = self.jail.take() {
            j.remove();
        }
        Ok(())
    }

    fn vmm_metrics(&mut self) -> Option<serde_json::Value> {
        let api = self.api.as_ref()?;
        let body = json!({ "action_type": "FlushMetrics" }).to_string();
        super::vmm_api::http(api, "PUT", "/actions", Some(&body)).ok()?;
        let (path, offset) = self.metrics.as_mut()?;
        let text = std::fs::read(&*path).ok()?;
        let new = text.get(*offset as usize..).unwrap_or_default();
        *offset = text.len() as u64;
        Some(sum_metrics(&String::from_utf8_lossy(new)))
    }
}

/// The jailer's cgroups of dead sandboxes: `<controller>/firecracker/<id>` (v1) or
/// `firecracker/<id>` (v2).
fn reap_jail_cgroups() -> Vec<String> {
    let mut bases = vec![PathBuf::from("/sys/fs/cgroup/firecracker")];
    for ctrl in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
        bases.push(ctrl.path().join("firecracker"));
    }
    crate::stale::remove_stale_cgroups(&bases)
}

/// The VMM process of a sandbox: Firecracker and its jailer run with `--id <id>`.
fn sandbox_of(args: &[String]) -> Option<String> {
    args.windows(2).find(|w| w[0] == "--id").map(|w| w[1].clone())
}

/// What `firecracker` knows of itself.
pub struct Tech;

impl super::Technology for Tech {
    fn requires(&self) -> super::Requirements {
        super::Requirements { any_program: &["firecracker"], kvm: true, root: true }
    }

    /// The binary's row; with an image, also whether this version finds the kernel's devices.
    fn doctor(&self, cx: &super::DoctorContext) -> Vec<crate::probe::Availability> {
        let mut row = super::vmm_process::doctor_row("firecracker");
        let version = row.version.as_deref().and_then(parse_version);
        if let (Some(v), Ok(image)) = (version, cx.image) {
            if let Err(why) = kernel_compat(v, image.kernel_config().as_deref()) {
                row.verdict = crate::probe::Verdict::Unsupported;
                row.detail = why;
            }
        }
        vec![row]
    }

    fn reap_stale(&self, _sweep: &super::Sweep) -> Vec<String> {
        let mut removed = crate::stale::kill_processes(sandbox_of);
        removed.extend(reap_jail_cgroups());
        removed
    }
}

/// A `firecracker` environment.
pub struct ForEnv<'a> {
    pub cfg: &'a FirecrackerConfig,
}

impl super::ForEnvironment for ForEnv<'_> {
    fn sandbox(&self) -> Box<dyn Sandbox> {
        Box::new(Firecracker { cfg: self.cfg.clone(), ..Firecracker::default() })
    }

    fn can_run(&self) -> Result<(), super::Unsupported> {
        missing(&self.cfg.binary, "install the firecracker release binary").map_or(Ok(()), Err)
    }

    fn versions(&self) -> Vec<(String, String)> {
        super::vmm_process::vmm_versions(sandbench_spec::Driver::Firecracker, &self.cfg.binary)
    }

    fn dimensions(&self) -> super::DriverDims {
        super::vmm_process::vmm_dimensions(&self.cfg.vm)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_vmm_process_is_known_by_its_id() {
        let argv = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            super::sandbox_of(&argv(&["jailer", "--id", "sb9-fc-2", "--exec-file", "/x"])),
            Some("sb9-fc-2".into())
        );
        assert_eq!(super::sandbox_of(&argv(&["firecracker", "--api-sock", "/s"])), None);
    }
}
