//! `firecracker`: the guest image in a Firecracker microVM started with `--config-file` (as the
//! AI paper did), the ELF vmlinux booted directly, the root disk as a virtio-mmio block device
//! (described in ACPI tables by Firecracker ≥ 1.8, which the Debian kernel reads), the serial
//! console as the agent channel. Needs a working KVM; where the binary or KVM is missing the
//! launch says so as `unsupported`.

use crate::process;
use crate::vmm_process::VmmProcess;
use crate::{LaunchSpec, Running, Sandbox, SandboxError};
use sandbench_image::GuestImage;
use sandbench_spec::{DiskCache, Environment};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
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
    image: &GuestImage,
    vmlinux: &Path,
    scratch: Option<&Path>,
    net: Option<&crate::net::Link>,
) -> serde_json::Value {
    let mut args = crate::qemu::guest_kernel_args();
    // No PCI bus in Firecracker; devices come from ACPI (≥ 1.8).
    args.push("pci=off".into());
    args.extend(net.map(crate::net::Link::kernel_arg));
    let mut drives = vec![json!({
        "drive_id": "rootfs",
        "path_on_host": image.rootfs_ext4.display().to_string(),
        "is_root_device": false,
        "is_read_only": true,
        "cache_type": cache_type(env.disk_cache()),
        "io_engine": "Sync",
    })];
    if let Some(disk) = scratch {
        drives.push(json!({
            "drive_id": "scratch",
            "path_on_host": disk.display().to_string(),
            "is_root_device": false,
            "is_read_only": false,
            "cache_type": cache_type(env.disk_cache()),
            "io_engine": "Sync",
        }));
    }
    json!({
        "boot-source": {
            "kernel_image_path": vmlinux.display().to_string(),
            "initrd_path": image.initramfs.display().to_string(),
            "boot_args": args.join(" "),
        },
        "drives": drives,
        "network-interfaces": net.map(|l| vec![json!({"iface_id": "eth0", "host_dev_name": l.host_if})]).unwrap_or_default(),
        "machine-config": {
            "vcpu_count": env.vcpus,
            "mem_size_mib": env.memory_mib,
            "smt": false,
        },
    })
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

pub fn binary(env: &Environment) -> String {
    env.binary.clone().unwrap_or_else(|| "firecracker".into())
}

/// Why this host cannot run a VMM that needs KVM, if it cannot.
pub fn missing(bin: &str, hint: &str) -> Option<String> {
    let found = if bin.contains('/') { Path::new(bin).is_file() } else { crate::probe::on_path(bin).is_some() };
    if !found {
        return Some(format!("{bin} not found ({hint})"));
    }
    if !Path::new("/dev/kvm").exists() {
        return Some("no /dev/kvm: this VMM runs only with KVM".into());
    }
    None
}

#[derive(Default)]
pub struct Firecracker {
    vmm: VmmProcess,
    api: Option<std::path::PathBuf>,
}

impl Sandbox for Firecracker {
    fn launch(&mut self, spec: &LaunchSpec) -> Result<Running, SandboxError> {
        self.teardown()?;
        let image = spec.need_image()?;
        let bin = binary(spec.env);
        if let Some(why) = missing(
            &bin,
            "no Debian package: install the release binary from the Firecracker project on a host with KVM",
        ) {
            return Err(SandboxError::Unsupported { why });
        }
        let vmlinux = image.vmlinux.clone().ok_or_else(|| SandboxError::Unsupported {
            why: "Firecracker boots an ELF vmlinux; none could be extracted from this kernel".into(),
        })?;
        let version = process::version_of(&bin, &["--version"]).unwrap_or_default();
        if let Some(v) = parse_version(&version) {
            kernel_compat(v, image.kernel_config().as_deref()).map_err(|why| SandboxError::Unsupported { why })?;
        }
        self.vmm.prepare(spec)?;
        let disk = self.vmm.scratch_disk(spec)?;
        self.vmm.tap(spec)?;
        let cfg = config(spec.env, image, &vmlinux, Some(&disk), self.vmm.link());
        let cfg_path = spec.work_dir.join("firecracker.json");
        std::fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap_or_default())
            .map_err(|source| SandboxError::Io { what: format!("write {}", cfg_path.display()), source })?;
        let t0 = Instant::now();
        let log = spec.work_dir.join("firecracker.stderr");
        let mut cmd = Command::new(&bin);
        // The API socket is kept for a clean shutdown (SendCtrlAltDel) at teardown.
        let api = spec.work_dir.join("firecracker.sock");
        cmd.arg("--api-sock")
            .arg(&api)
            .arg("--config-file")
            .arg(&cfg_path)
            .arg("--id")
            .arg(&spec.id)
            .current_dir(&spec.work_dir);
        self.api = Some(api);
        let (channel, pid, spawned_at) = self.vmm.start(&mut cmd, &log, "install the Firecracker release binary")?;
        let boot = crate::channel::await_agent(&channel, spec, t0, spawned_at, &log, true)?;
        let mut facts = BTreeMap::new();
        facts.insert("accel".into(), "kvm".into());
        facts.insert("machine".into(), "firecracker".into());
        facts.insert("firecracker".into(), version);
        facts.insert(
            "disk_cache".into(),
            format!("{} (cache_type {})", spec.env.disk_cache().as_str(), cache_type(spec.env.disk_cache())),
        );
        facts.insert("config".into(), cfg.to_string());
        Ok(self.vmm.running(spec, channel, pid, boot, facts))
    }

    fn teardown(&mut self) -> Result<(), SandboxError> {
        // Ask the guest to go first; whatever is left is killed by stop().
        if let Some(api) = self.api.take().filter(|a| a.exists()) {
            let body = ctrl_alt_del().to_string();
            let _ = crate::cloud_hypervisor::http(&api, "PUT", "/actions", Some(&body));
        }
        self.vmm.stop();
        Ok(())
    }
}
